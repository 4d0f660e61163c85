"""Weighted channels through HTTP: the rules form, committee ballots, assembly counts and the combined results."""

from __future__ import annotations

import datetime as dt

from portal import accounts, clock
from tests.helpers import PortalClient
from voting.compute.rules import BallotRules
from voting.services import lifecycle
from voting.tables import AssemblyCount, Ballot, Cycle, Participation
from voting.testing import build_cycle, schedule_for

BALLOT = "/api/v1/pb/cycles/{c}/pots/{p}/ballot"
WEIGHTED = BallotRules(
    ballot_kind="approval",
    min_projects=1,
    max_projects=5,
    results_rule="weighted-channels",
    channel_weights='{"assembly":20,"committee":20,"online":60}',
)


def _rules_form(**weights: str) -> dict[str, str]:
    form = {
        "ballot_kind": "approval",
        "min_projects": "1",
        "max_projects": "5",
        "results_rule": "weighted-channels",
        "tie_break": "city",
        "tie_seed": "0",
        "stations_with_online": "on",
    }
    return form | {f"weight_{c}": w for c, w in weights.items()}


async def test_rules_form_declares_channels_and_refuses_bad_weights(official) -> None:
    built = await build_cycle(official.account.id, phase="review")
    url = f"/officials/pb/cycles/{built.id}/rules"
    no_weights = await official.post_form(url, _rules_form())
    assert no_weights.status_code == 422
    assert "Weighted channels need the channels and their weights." in no_weights.text
    short = await official.post_form(url, _rules_form(online="50", committee="30"))
    assert short.status_code == 422 and "must add up to 100" in short.text
    assert 'value="30"' in short.text  # what was typed is kept
    garbage = await official.post_form(url, _rules_form(online="half", committee="50"))
    assert garbage.status_code == 422 and 'id="f-weight_online-error"' in garbage.text
    stations = await official.post_form(url, _rules_form(online="70", stations="30"))
    assert stations.status_code == 422 and "leave the stations" in stations.text
    saved = await official.post_form(
        url, _rules_form(online="50", committee="30", assembly="20") | {"stations_with_online": ""}
    )
    assert saved.status_code == 303
    cycle = await Cycle.select().where(Cycle.id == built.id).first()
    assert cycle["results_rule"] == "weighted-channels"
    assert cycle["channel_weights"] == '{"assembly":20,"committee":30,"online":50}'
    assert cycle["stations_with_online"] is False
    page = await official.get(f"/officials/pb/cycles/{built.id}", params={"lang": "en"})
    assert 'name="weight_committee" inputmode="numeric" value="30"' in page.text
    await accounts.set_language(official.account.id, "ko")
    korean = await official.get(f"/officials/pb/cycles/{built.id}")
    assert korean.status_code == 200 and "주민참여위원회" in korean.text


async def _open_voting(cycle_id: int) -> None:
    """Move a cycle in review to voting by its dates (the rules freeze, as on the day)."""
    await Cycle.update({getattr(Cycle, k): v for k, v in schedule_for("voting").items()}).where(
        Cycle.id == cycle_id
    )
    await lifecycle.advance_cycle(cycle_id)


async def test_committee_and_assembly_are_weighted_into_the_results(app, users, official, client):
    built = await build_cycle(official.account.id, phase="review", rules=WEIGHTED)
    ids = built.projects[built.city_pot]  # costs 3, 2, 4, 1, 5 bn; budget 10 bn
    member = await users.create(roles=["citizen", "committee"], district="11680", verified=True)
    channels_url = f"/officials/pb/cycles/{built.id}/channels"
    unknown = await official.post_form(f"{channels_url}/committee", {"email": "nobody@example.org"})
    assert unknown.status_code == 422 and "nobody@example.org" in unknown.text
    added = await official.post_form(f"{channels_url}/committee", {"email": member.email})
    assert added.status_code == 303
    assert member.email in (await official.get(channels_url)).text
    await _open_voting(built.id)
    late = await official.post_form(f"{channels_url}/committee", {"email": member.email})
    assert late.status_code == 409

    # Online: three voters for project 0 and 1; the committee member for project 2 (4 bn).
    for pattern in ([ids[0]], [ids[0]], [ids[1]]):
        voter = await users.create(district="11440", verified=True)
        async with PortalClient.for_app(app) as c:
            await c.login(voter)
            r = await c.send_json(
                "PUT", BALLOT.format(c=built.id, p=built.city_pot), {"project_ids": pattern}
            )
            assert r.status_code == 200, r.text
    async with PortalClient.for_app(app) as c:
        await c.login(member)
        r = await c.send_json(
            "PUT", BALLOT.format(c=built.id, p=built.city_pot), {"project_ids": [ids[2]]}
        )
        assert r.status_code == 200, r.text
    channels = sorted(
        r["channel"]
        for r in await Ballot.select(Ballot.channel).where(Ballot.pot == built.city_pot)
    )
    assert channels == ["committee", "online", "online", "online"]
    # The member took part through the committee, and the statistics will count them there.
    taken = sorted(
        r["channel"]
        for r in await Participation.select(Participation.channel).where(
            Participation.cycle == built.id
        )
    )
    assert taken == ["committee", "online", "online", "online"]

    closed = await official.post_form(
        f"/officials/pb/cycles/{built.id}/close", {"reason": "Closing for the channels test"}
    )
    assert closed.status_code == 303

    # Assembly counts: bad input is refused beside its field and kept.
    assembly_url = f"{channels_url}/assembly/{built.city_pot}"
    form = {f"count-{pid}": "0" for pid in ids}
    negative = await official.post_form(assembly_url, form | {f"count-{ids[4]}": "-3"})
    assert negative.status_code == 422
    assert f'id="f-count-{ids[4]}-error"' in negative.text and 'value="-3"' in negative.text
    garbage = await official.post_form(assembly_url, form | {f"count-{ids[4]}": "lots"})
    assert garbage.status_code == 422 and 'value="lots"' in garbage.text
    stranger = await official.post_form(assembly_url, form | {"count-999999": "4"})
    assert stranger.status_code == 422 and "not on this pot" in stranger.text
    assert await AssemblyCount.count() == 0
    # The assembly backs project 4 (5 bn) and project 2.
    saved = await official.post_form(
        assembly_url, form | {f"count-{ids[4]}": "30", f"count-{ids[2]}": "10"}
    )
    assert saved.status_code == 303
    assert 'value="30"' in (await official.get(assembly_url)).text

    clock.advance(dt.timedelta(days=30))
    listed = (await client.get("/api/v1/pb/cycles")).json()
    read = next(c for c in listed if c["id"] == built.id)
    assert read["channels"] == {
        "weights": {"assembly": 20, "committee": 20, "online": 60},
        "stations_with_online": True,
    }
    body = (await client.get(f"/api/v1/pb/cycles/{built.id}/results")).json()
    city = next(p for p in body["pots"] if p["pot"]["district_code"] is None)
    runs = {r["rule"]: r for r in city["results"]}
    assert set(runs) == {"weighted-channels", "equal-shares"}
    # Scores: p0 .6*2/3 = .40; p1 .6*1/3 = .20; p2 .2*1 + .2*10/40 = .25; p4 .2*30/40 = .15.
    # Order p0 (3 bn), p2 (4 bn), p1 (2 bn), p4 (5 bn: 1 bn left, skipped), p3 (1 bn, no votes, fits).
    assert runs["weighted-channels"]["selected"] == [ids[0], ids[2], ids[1], ids[3]]
    # Equal Shares counts only the three online ballots.
    assert runs["equal-shares"]["voters"] == 3
    page = await client.get(
        f"/pb/cycles/{built.id}/results/pots/{built.city_pot}", params={"lang": "en"}
    )
    assert page.status_code == 200 and "Shares by channel" in page.text
    assert "66.67" in page.text and "40.00" in page.text  # p0's online share, combined score
    assert "Channel Participation committee: weight 20%" in page.text  # named by label, not by id
    assert "Channel committee" not in page.text
    client.headers["accept-language"] = "ko"
    korean = await client.get(f"/pb/cycles/{built.id}/results/pots/{built.city_pot}")
    assert korean.status_code == 200 and "채널별 득표율" in korean.text
    assert "주민참여위원회" in korean.text and "committee" not in korean.text
