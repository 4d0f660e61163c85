"""Citizens in a challenge stage (issue #13, part 3): settings and weights, the drawn panel, the public vote,
and the blended standings that the exported sheet replays to."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from judging.citizen_tables import PanelMember, PanelScore, PublicVote, PublicVoteSignal
from judging.compute import panel_draw
from judging.services import citizens, panel, public_vote
from judging.services.blending import blended_standings
from portal import clock
from portal.errors import Conflict, InvalidInput, NotAllowed, TooManyAttempts
from portal.tables import Notification, User
from tests.integration.test_challenge_selection import _scored_challenge
from tests.integration.test_challenge_setup import relogin

DISTRICTS = ("11110", "11140", "11680", "11710")


def settings_form(mode: str, weights: tuple[int, int, int], **extra) -> citizens.CitizenForm:
    return citizens.CitizenForm(
        mode=mode,
        panel_size=extra.get("panel_size", 0),
        seed=extra.get("seed", 11),
        criteria=extra.get("criteria", ()),
        weight_expert=weights[0],
        weight_panel=weights[1],
        weight_public=weights[2],
    )


async def residents(users, count: int) -> list[int]:
    """Verified residents across districts and age bands."""
    ids = []
    for i in range(count):
        account = await users.create(["citizen"], district=DISTRICTS[i % 4], verified=True)
        born = dt.date(1950 + (i * 7) % 55, 1 + i % 12, 1 + i % 27)
        await User.update({User.birth_date: born}).where(User.id == account.id)
        ids.append(account.id)
    return ids


async def test_weights_that_do_not_add_up_are_refused_beside_the_field_and_kept(official, startup, users):
    challenge = await _scored_challenge(official, startup, users, entries=4)
    url = f"/officials/challenge/rounds/{challenge.evaluation_round}/citizens"
    form = {"mode": "panel", "panel_size": "5", "seed": "2026", "criteria": ["impact", "feasibility"],
            "weight_expert": "60", "weight_panel": "30", "weight_public": "5"}
    refused = await official.post_form(url, form)
    assert refused.status_code == 422
    assert "The weights must add up to 100; these add up to 95." in refused.text
    assert 'id="f-weight_expert-error"' in refused.text and 'value="5"' in refused.text
    form["weight_public"] = "10"  # a public weight without a public vote
    refused = await official.post_form(url, form)
    assert refused.status_code == 422 and "Without a public vote" in refused.text
    form.update(weight_expert="70", weight_public="0")
    saved = await official.post_form(url, form)
    assert saved.status_code == 303, saved.text
    stage = await citizens.citizen_settings(challenge.evaluation_round)
    assert (stage.mode, stage.panel_size, stage.seed, stage.criteria) == ("panel", 5, 2026, ["impact", "feasibility"])
    assert stage.weights.label() == "70/30/0"


async def test_the_drawn_panel_scores_its_entries_and_the_blend_replays_on_the_command_line(
    official, startup, users, app, tmp_path, capsys
):
    challenge = await _scored_challenge(official, startup, users, entries=5)
    round_id = challenge.evaluation_round
    people = await residents(users, 16)
    await citizens.update_citizen_settings(
        official.account.id, round_id,
        settings_form("panel", (60, 40, 0), panel_size=6, seed=99, criteria=("impact", "innovation")),
    )
    assert await panel.draw_panel(official.account.id, round_id) == 6
    with pytest.raises(Conflict):
        await panel.draw_panel(official.account.id, round_id)
    # Once drawn, only the weights change.
    with pytest.raises(InvalidInput, match="only the weights"):
        await citizens.update_citizen_settings(
            official.account.id, round_id,
            settings_form("panel", (60, 40, 0), panel_size=7, seed=99, criteria=("impact", "innovation")),
        )
    await citizens.update_citizen_settings(
        official.account.id, round_id,
        settings_form("panel", (50, 50, 0), panel_size=6, seed=99, criteria=("impact", "innovation")),
    )
    assert (await citizens.citizen_settings(round_id)).weights.label() == "50/50/0"
    await citizens.update_citizen_settings(
        official.account.id, round_id,
        settings_form("panel", (60, 40, 0), panel_size=6, seed=99, criteria=("impact", "innovation")),
    )
    members = await PanelMember.select().output(load_json=True).where(PanelMember.round == round_id)
    drawn = {m["user"] for m in members}
    assert len(drawn) == 6 and drawn <= set(people)  # judges, officials and the startup's account: not verified
    assert await Notification.count().where(Notification.user.is_in(sorted(drawn))) == 6
    # Anyone replays the draw from the published list and seed.
    published = (await official.get(f"/officials/challenge/rounds/{round_id}/blend/export/panel-eligible.csv")).text
    replay = panel_draw.draw_panel(panel_draw.eligible_from_csv(published), 6, 99)
    assert [s.key for s in replay] == [m["resident_key"] for m in sorted(members, key=lambda m: m["position"])]
    assert len(published.strip().splitlines()) == 1 + len(people) and "@" not in published

    # Each panelist scores their entries once (a second save changes the one score).
    for m in members:
        for i, entry in enumerate(m["entries"]):
            await panel.save_panel_score(m["user"], round_id, entry, {"impact": 3 + (entry + i) % 7, "innovation": 5})
    first = members[0]
    await panel.save_panel_score(first["user"], round_id, first["entries"][0], {"impact": 10, "innovation": 10})
    assert await PanelScore.count().where(PanelScore.round == round_id) == sum(len(m["entries"]) for m in members)
    outsider = next(p for p in people if p not in drawn)
    with pytest.raises(Exception, match="could not find that entry"):
        await panel.panel_entry(outsider, round_id, first["entries"][0])

    standings = await blended_standings(round_id)
    assert [s.rank for s in standings] == list(range(1, 6))
    assert all(s.panel_score is not None and s.expert_score is not None for s in standings)
    assert standings == sorted(standings, key=lambda s: -s.blended)

    await relogin(official)
    page = await official.get(f"/officials/challenge/rounds/{round_id}/blend")
    assert page.status_code == 200 and "Panel (0-100)" in page.text
    sheet = await official.get(f"/officials/challenge/rounds/{round_id}/blend/export/blend.csv")
    path = tmp_path / "blend.csv"
    path.write_bytes(sheet.content)
    from judging.cli import run_blend

    class Args:
        json = True

    Args.sheet = str(path)
    assert run_blend(Args) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert [(r["entry_id"], r["blended"]) for r in replayed["ranking"]] == [(s.entry_id, s.blended) for s in standings]
    assert replayed["weights"] == {"expert": 60, "panel": 40, "public": 0}
    xlsx = await official.get(f"/officials/challenge/rounds/{round_id}/blend/export/blend.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def test_a_panelist_scores_through_the_panel_page(official, startup, users, app):
    challenge = await _scored_challenge(official, startup, users, entries=3)
    round_id = challenge.evaluation_round
    await citizens.update_citizen_settings(
        official.account.id, round_id,
        settings_form("panel", (70, 30, 0), panel_size=1, criteria=("impact", "feasibility")),
    )
    from tests.helpers import PortalClient

    resident = await users.create(["citizen"], district="11680", verified=True)
    await panel.draw_panel(official.account.id, round_id)
    entry = (await PanelMember.select().output(load_json=True).first())["entries"][0]
    async with PortalClient.for_app(app) as client:
        await client.login(resident)
        listing = await client.get("/challenge/panel")
        assert listing.status_code == 200 and f"/challenge/panel/rounds/{round_id}/entries/{entry}" in listing.text
        url = f"/challenge/panel/rounds/{round_id}/entries/{entry}"
        bad = await client.post_form(url, {"score_impact": "11", "score_feasibility": "4"})
        assert bad.status_code == 422 and 'value="11"' in bad.text
        ok = await client.post_form(url, {"score_impact": "8", "score_feasibility": "4"})
        assert ok.status_code == 303
        assert (await PanelScore.select(PanelScore.total_centi).first())["total_centi"] == 618  # (8 x 30 + 4 x 25) / 55 = 6.18


async def test_one_public_vote_per_resident_even_at_once_and_the_tally_is_counts_only(
    official, startup, users, citizen, app
):
    challenge = await _scored_challenge(official, startup, users, entries=3)
    round_id = challenge.evaluation_round
    await citizens.update_citizen_settings(official.account.id, round_id, settings_form("public", (60, 0, 40)))
    await relogin(citizen)
    url = f"/challenge/vote/rounds/{round_id}"
    first = await citizen.post_form(url, {"entry": str(challenge.entries[1])})
    assert first.status_code == 303, first.text
    again = await citizen.post_form(url, {"entry": str(challenge.entries[0])})
    assert again.status_code == 409 and "You have already voted in this stage" in again.text
    assert await PublicVote.count() == 1
    row = await PublicVote.select().first()
    assert set(row) == {"id", "round", "entry", "voter_key"}  # no account, no time
    assert row["voter_key"] == public_vote.voter_key(round_id, citizen.account.id)

    # Five attempts at once by one resident: exactly one vote is stored.
    resident = await users.create(["citizen"], district="11110", verified=True)
    me = await _current_user(resident.id)
    outcomes = await asyncio.gather(
        *[public_vote.cast_public_vote(me, round_id, challenge.entries[0], "10.0.0.2", "ua") for _ in range(5)],
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None)
    assert await PublicVote.count() == 2

    unverified = await _current_user((await users.create(["citizen"], verified=False)).id)
    with pytest.raises(NotAllowed):
        await public_vote.cast_public_vote(unverified, round_id, challenge.entries[0], "10.0.0.3", "ua")

    # Another resident's page shows the entries, never who voted for what.
    other = await public_vote.vote_page(await _current_user(resident.id), round_id)
    assert other.my_vote == challenge.entries[0]
    counts = await public_vote.vote_counts(round_id)
    assert counts == {challenge.entries[1]: 1, challenge.entries[0]: 1}


async def test_votes_from_one_network_are_rate_limited_and_reported_to_officials(official, official2, startup, users, app):
    challenge = await _scored_challenge(official, startup, users, entries=4)
    round_id = challenge.evaluation_round
    await citizens.update_citizen_settings(official.account.id, round_id, settings_form("public", (50, 0, 50)))
    refused = None
    for i in range(public_vote.RATE_LIMIT_ATTEMPTS + 1):
        account = await users.create(["citizen"], district=DISTRICTS[i % 4], verified=True)
        try:
            await public_vote.cast_public_vote(
                await _current_user(account.id), round_id, challenge.entries[i % 2], "203.0.113.7", "bot/1.0"
            )
        except TooManyAttempts as exc:
            refused = exc
    assert refused is not None and refused.status_code == 429
    assert await PublicVote.count() == public_vote.RATE_LIMIT_ATTEMPTS
    report = await public_vote.anomaly_report(round_id)
    assert {f.check for f in report.flags} >= {"address-cluster", "device-cluster"}
    assert not report.acknowledged
    await relogin(official)
    page = await official.get(f"/officials/challenge/rounds/{round_id}/blend")
    assert "Many votes from one network" in page.text and "203.0.113.7" not in page.text
    done = await official.post_form(f"/officials/challenge/rounds/{round_id}/public-vote/acknowledge", {})
    assert done.status_code == 303
    assert (await public_vote.anomaly_report(round_id)).acknowledged
    # Later, a new vote changes the report: it must be read again.
    clock.advance(dt.timedelta(minutes=public_vote.RATE_LIMIT_MINUTES + 1))
    late = await users.create(["citizen"], district="11680", verified=True)
    await public_vote.cast_public_vote(await _current_user(late.id), round_id, challenge.entries[0], "198.51.100.1", "ua")
    assert not (await public_vote.anomaly_report(round_id)).acknowledged
    # The edition decided: the keyed signals are deleted with the decision, the votes stay.
    from judging.services.approvals import approve_selection
    from judging.services.selection import run_selection

    selection = await run_selection(official.account.id, challenge.edition_id, round_id)
    # Winners chosen on the blend wait, like a stage's advancement, for the report as it is now.
    with pytest.raises(Conflict, match="anomaly report"):
        await approve_selection(official.account.id, selection)
    await public_vote.acknowledge_report(official.account.id, round_id)
    await approve_selection(official.account.id, selection)
    await approve_selection(official2.account.id, selection)
    assert await PublicVoteSignal.count() == 0 and await PublicVote.count() == public_vote.RATE_LIMIT_ATTEMPTS + 1


async def _current_user(user_id: int):
    from portal.auth import to_current_user

    return to_current_user(await User.select().where(User.id == user_id).first())
