"""Fraud screening before certification (issue 12 item 7): a planted cluster is flagged, quarantined
out of the count (audited), approval waits for the acknowledgement, and the signals are gone after it."""

from __future__ import annotations

import datetime as dt
import json
import logging

import httpx

from portal import clock
from portal.tables import AuditEvent
from tests.helpers import PortalClient
from tests.integration.test_secrets_in_logs import everything_logged
from voting.compute.rules import voter_key
from voting.services import results, screening, signals
from voting.tables import Ballot, Quarantine, ScreenCast, ScreenSignal
from voting.testing import build_cycle

BALLOT = "/api/v1/pb/cycles/{c}/pots/{p}/ballot"
PLANTED = "203.0.113.66"


def _client_from(app, address: str) -> PortalClient:
    return PortalClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)),
        base_url="http://testserver",
        follow_redirects=False,
        headers={"accept-language": "en", "user-agent": "Mozilla/5.0 test"},
    )


async def _cast(app, users, address: str, cycle_id: int, pot_id: int, project: int) -> str:
    """Cast one ballot from ``address``; returns its receipt."""
    account = await users.create(district="11680", verified=True)
    async with _client_from(app, address) as c:
        await c.login(account)
        response = await c.send_json("PUT", BALLOT.format(c=cycle_id, p=pot_id), {"project_ids": [project]})
        assert response.status_code == 200, response.text
        return response.json()["receipt"]


async def _votes(built, planted: int, honest: int) -> dict[int, int]:
    runs = [
        r for r in await results.current_runs(built.id) if r["official"] and r["pot"] == built.city_pot
    ]
    votes = {p["id"]: p["votes"] for p in runs[0]["outcome"]["projects"]}
    return {pid: votes.get(pid, 0) for pid in (planted, honest)}


async def _audited(action: str) -> list[dict]:
    rows = await AuditEvent.select(AuditEvent.details).where(AuditEvent.action == action)
    return [json.loads(r["details"]) if isinstance(r["details"], str) else r["details"] for r in rows]


async def test_a_planted_cluster_is_flagged_quarantined_and_forgotten_at_certification(
    app, users, official, official2, caplog
):
    caplog.set_level(logging.DEBUG)
    signals.discard_pending()  # noted by earlier tests in this process
    built = await build_cycle(official.account.id)
    planted_project, honest_project = built.projects[built.city_pot][:2]
    planted_receipts = []
    for i in range(20):  # 20 casts from one address within two minutes
        if i == 10:
            clock.advance(dt.timedelta(minutes=1))
        planted_receipts.append(await _cast(app, users, PLANTED, built.id, built.city_pot, planted_project))
    honest_receipt = ""
    for i in range(5):
        honest_receipt = await _cast(app, users, f"198.51.100.{i + 1}", built.id, built.city_pot, honest_project)
    assert await ScreenSignal.count() == 0  # nothing written on the request path
    assert await signals.flush_signals() == 25
    assert await ScreenCast.count() == 25

    clock.advance(dt.timedelta(days=30))
    await official.login(official.account)
    await official2.login(official2.account)
    page = await official.get(f"/officials/pb/cycles/{built.id}/screening")
    assert page.status_code == 200
    assert "Many from one address within minutes" in page.text
    report = await screening.report_of(built.id)
    [flag] = [f for f in report.flags if f.check == "address-cluster"]
    assert (flag.kind, flag.count) == ("cast", 20)
    # One minute apart by the moved clock, plus a real minute boundary if the casts happened to cross one.
    assert dt.timedelta(minutes=1) <= flag.last - flag.first <= dt.timedelta(minutes=2)
    assert screening.short_key(flag.key) in page.text and flag.key not in page.text
    await results.results_of(built.id)
    assert (await _votes(built, planted_project, honest_project))[planted_project] == 20

    refused = await official.post_form(f"/officials/pb/cycles/{built.id}/approve")
    assert refused.status_code == 409
    assert "acknowledge the fraud screening report" in refused.text

    url = f"/officials/pb/cycles/{built.id}/screening/quarantine"
    no_reason = await official.post_form(url, {"group": flag.group_id, "reason": ""})
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    unknown = await official.post_form(url, {"group": "nonsense", "reason": "planted cluster"})
    assert unknown.status_code == 404 and 'id="f-group-error"' in unknown.text
    done = await official.post_form(url, {"group": flag.group_id, "reason": "20 casts from one address"})
    assert done.status_code == 303
    assert (await _votes(built, planted_project, honest_project))[planted_project] == 0  # left out of the count, still stored
    assert (await _votes(built, planted_project, honest_project))[honest_project] == 5
    assert await Ballot.count() == 25
    [event] = await _audited("pb.screening.quarantined")
    assert event["ballots"] == 20 and event["reason"] == "20 casts from one address"

    # The review may find nothing: the group counts again (audited), and can be quarantined again.
    release = f"/officials/pb/cycles/{built.id}/screening/release"
    kept = await official.post_form(release, {"released_group": flag.group_id, "release_reason": ""})
    assert kept.status_code == 422 and 'id="f-release_reason-error"' in kept.text
    released = {"released_group": flag.group_id, "release_reason": "a dormitory network"}
    assert (await official.post_form(release, released)).status_code == 303
    assert (await _votes(built, planted_project, honest_project))[planted_project] == 20
    [event] = await _audited("pb.screening.released")
    assert event["ballots"] == 20 and event["reason"] == "a dormitory network"
    again = await official.post_form(url, {"group": flag.group_id, "reason": "confirmed: one person"})
    assert again.status_code == 303
    assert (await _votes(built, planted_project, honest_project))[planted_project] == 0

    # A set-aside ballot's holder learns that, and only that; the results page says how many.
    receipts = f"/pb/cycles/{built.id}/results/pots/{built.city_pot}/receipts"
    held = await official2.post_form(receipts, {"q": planted_receipts[0]})
    assert 'id="receipt-set-aside"' in held.text and 'id="receipt-found"' not in held.text
    counted = await official2.post_form(receipts, {"q": honest_receipt})
    assert 'id="receipt-found"' in counted.text
    listing = await official2.get(receipts)
    assert honest_receipt in listing.text and planted_receipts[1] not in listing.text
    assert "20 ballots are set aside" in (await official2.get(f"/pb/cycles/{built.id}/results")).text

    ack = await official.post_form(f"/officials/pb/cycles/{built.id}/screening/acknowledge")
    assert ack.status_code == 303 and await _audited("pb.screening.acknowledged")
    # A row per address and minute: 5 honest addresses, the planted one in 2 minutes (moved clock),
    # plus a row for each of its two groups of 10 casts that crossed a real minute (a loaded run).
    signal_rows = await ScreenSignal.count()
    assert 5 + 2 <= signal_rows <= 5 + 4
    # An acknowledgement holds for the report that was read: a release after it needs a new one.
    assert (await official.post_form(release, released)).status_code == 303
    stale = await official.post_form(f"/officials/pb/cycles/{built.id}/approve")
    assert stale.status_code == 409 and "changed after it was acknowledged" in stale.text
    page = await official.get(f"/officials/pb/cycles/{built.id}/screening")
    assert "The report changed after it was acknowledged" in page.text
    assert (await official.post_form(url, {"group": flag.group_id, "reason": "confirmed again"})).status_code == 303
    ack = await official.post_form(f"/officials/pb/cycles/{built.id}/screening/acknowledge")
    assert ack.status_code == 303
    for c in (official, official2):
        assert (await c.post_form(f"/officials/pb/cycles/{built.id}/approve")).status_code == 303
    assert await ScreenSignal.count() == 0 and await ScreenCast.count() == 0
    [deleted] = await _audited("pb.screening.signals_deleted")
    assert deleted == {"signal_rows": signal_rows, "cast_links": 25}
    assert await Quarantine.count() == 1  # the decision stays; it holds ballot tags, no address
    assert (await official.get(f"/officials/pb/cycles/{built.id}/screening")).status_code == 200

    logged = everything_logged(caplog.records)
    assert PLANTED not in logged and "198.51.100.1" not in logged
    assert flag.key not in logged and flag.key[:8] not in logged


async def test_sign_ups_from_one_address_are_flagged_and_signals_never_name_anyone(app, users, official):
    signals.discard_pending()
    built = await build_cycle(official.account.id)
    for i in range(12):
        async with _client_from(app, PLANTED) as c:
            response = await c.post_form(
                "/register",
                {
                    "email": f"farm{i}@example.kr",
                    "password": "a long enough passphrase for the farm",
                    "display_name": f"Farm {i}",
                    "district_code": "11680",
                    "language": "en",
                },
            )
            assert response.status_code == 303, response.text
    await _cast(app, users, PLANTED, built.id, built.city_pot, built.projects[built.city_pot][0])
    await signals.flush_signals()
    report = await screening.report_of(built.id)
    assert [(f.check, f.kind, f.count) for f in report.flags] == [("address-cluster", "signup", 12)]
    assert not report.flags[0].quarantinable
    # The rows: keyed client, minute, kind, count; no user, ballot or voter key.
    rows = await ScreenSignal.select()
    assert set(rows[0]) == {"id", "cycle", "kind", "address_key", "device_key", "minute", "events"}
    stored = json.dumps(rows + await ScreenCast.select(), default=str)
    assert PLANTED not in stored and "Mozilla" not in stored
    ballot = await Ballot.select(Ballot.voter_key).first()
    assert ballot["voter_key"] not in stored
    assert all(r["minute"].second == 0 for r in rows)


async def test_acknowledging_is_refused_while_voting_is_open(official):
    built = await build_cycle(official.account.id)
    refused = await official.post_form(f"/officials/pb/cycles/{built.id}/screening/acknowledge")
    assert refused.status_code == 409 and "once voting has closed" in refused.text


def test_ballot_tags_are_keyed(monkeypatch):
    key = voter_key("k" * 40, 7, 3)
    assert signals.ballot_tag(key) != key and len(signals.ballot_tag(key)) == 64
