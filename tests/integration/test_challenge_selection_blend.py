"""The final selection on the blend (issue #13): when a citizen panel and a public vote weigh in the final
(60/30/10), the winners are chosen on the blended score under the edition's quotas and per-organization
limit, the officials' page and the exports show expert, panel, public and blended side by side, and
``hangang challenge blend`` replays the winners from the export."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile

import pytest

from judging.citizen_tables import PanelMember
from judging.services import citizens, panel, public_vote
from judging.services.approvals import approve_selection
from judging.services.assignment import run_assignment
from judging.services.blending import blended_standings
from judging.services.reviews import save_review
from judging.services.selection import get_selection, run_selection
from judging.tables import Entry
from portal import accounts
from portal.errors import Conflict
from tests.integration.test_challenge_citizens import _current_user, residents, settings_form
from tests.integration.test_challenge_setup import (
    add_entries,
    close_and_screen_in,
    make_edition,
    relogin,
    scores,
    set_pool,
)
from tests.integration.test_challenge_stages import cli_main

# Entry i: the experts' score (1-10) and the panel's; the public votes for the first three.
# Experts alone choose entries 7, 6 and 4 or 5; the blend 60/30/10 ranks 0, 7, 2, 1, 6, 4, 5, 3.
EXPERTS = (5, 5, 6, 6, 7, 7, 8, 9)
PANEL = (10, 9, 8, 6, 6, 5, 4, 3)
VOTES = {0: 4, 1: 2, 2: 1}


async def _final_with_citizens(official, official2, startup, users, *, quotas=None, share_organization=False):
    """An edition whose final is reviewed by judges, scored by a drawn panel and voted on (60/30/10)."""
    challenge = await make_edition(official.account.id, winners=3, quotas=quotas)
    await add_entries(challenge, startup.account.id, 8, ("transportation", "welfare"))
    if share_organization:  # entry 1 belongs to entry 7's organization
        await Entry.update({Entry.organization: challenge.organizations[7]}).where(
            Entry.id == challenge.entries[1]
        )
    await close_and_screen_in(challenge)
    await relogin(official, official2, startup)
    final = challenge.final_round
    judges = [(await users.create(roles=["judge"])).id for _ in range(4)]
    await set_pool(challenge, judges, per_entry=2, round_id=final)
    await run_assignment(official.account.id, final)
    from judging.tables import Assignment

    for a in await Assignment.select().where(Assignment.round == final):
        quality = EXPERTS[challenge.entries.index(a["entry"])]
        await save_review(a["judge"], final, a["entry"], scores(quality), {}, 3)
    return challenge


async def _citizens_weigh_in(official, users, challenge) -> None:
    final = challenge.final_round
    await residents(users, 12)
    await citizens.update_citizen_settings(
        official.account.id, final,
        settings_form("panel+public", (60, 30, 10), panel_size=6, seed=5, criteria=("impact", "innovation")),
    )
    await panel.draw_panel(official.account.id, final)
    for m in await PanelMember.select().output(load_json=True).where(PanelMember.round == final):
        for entry in m["entries"]:
            value = PANEL[challenge.entries.index(entry)]
            await panel.save_panel_score(m["user"], final, entry, {"impact": value, "innovation": value})
    voters = [i for i, n in VOTES.items() for _ in range(n)]
    for n, i in enumerate(voters):
        voter = await users.create(["citizen"], district="11110", verified=True)
        await public_vote.cast_public_vote(
            await _current_user(voter.id), final, challenge.entries[i], f"198.51.100.{n}", f"ua/{n}"
        )


def _winners(selection) -> set[int]:
    return {selection["result"]["entry_ids"][p] for p in selection["result"]["winners"]}


async def test_a_final_with_a_citizen_panel_chooses_its_winners_on_the_blend_and_the_cli_replays_them(
    official, official2, startup, users, tmp_path
):
    challenge = await _final_with_citizens(official, official2, startup, users)
    entries = challenge.entries
    # Without citizens the final selects on the experts' calibrated scores, as always.
    experts_only = await get_selection(await run_selection(official.account.id, challenge.edition_id, challenge.final_round))
    assert "source" not in experts_only["parameters"]
    assert experts_only["sheet_csv"].startswith("entry_id,judge_id,score,category,organization\n")
    assert {entries[7], entries[6]} <= _winners(experts_only)

    await _citizens_weigh_in(official, users, challenge)
    selection_id = await run_selection(official.account.id, challenge.edition_id, challenge.final_round)
    selection = await get_selection(selection_id)
    assert selection["parameters"]["source"] == "blend" and selection["parameters"]["weights"] == "60/30/10"
    assert selection["parameters"]["blend_seed"] == 5 and selection["parameters"]["scale"] == "1-10"
    # The winners follow the blend (not the experts' order), best blended first.
    blended = await blended_standings(challenge.final_round)
    assert [s.entry for s in blended[:3]] == [entries[0], entries[7], entries[2]]
    assert _winners(selection) == {entries[0], entries[7], entries[2]} != _winners(experts_only)
    assert all("blended score" in b["reason"] or "higher-ranked" in b["reason"] for b in selection["result"]["borderline"])

    # The officials' page shows the sources side by side, in English and in Korean.
    page = await official.get(f"/officials/challenge/selections/{selection_id}")
    assert page.status_code == 200 and 'id="selection-source"' in page.text and "60/30/10" in page.text
    for heading in ("Expert score", "Panel score", "Public votes", "Panel (0-100)", "Blended score"):
        assert heading in page.text
    assert "blended score" in page.text  # the borderline speaks of the blended score
    # Approval waits for the public vote's anomaly report, as a stage's advancement does.
    refused = await official.post_form(f"/officials/challenge/selections/{selection_id}/approve", {})
    assert refused.status_code == 409 and "anomaly report" in refused.text
    await accounts.set_language(official.account.id, "ko")
    korean = await official.get(f"/officials/challenge/selections/{selection_id}")
    assert korean.status_code == 200 and 'id="selection-source"' in korean.text
    for heading in ("전문가 점수", "시민 심사단 점수", "시민 투표 득표", "종합 점수"):
        assert heading in korean.text
    assert "Blended score" not in korean.text and "blended score" not in korean.text

    await public_vote.acknowledge_report(official.account.id, challenge.final_round)
    assert await approve_selection(official.account.id, selection_id) is False
    assert await approve_selection(official2.account.id, selection_id) is True
    response = await official2.get(f"/officials/challenge/selections/{selection_id}/export/bundle.zip")
    assert response.status_code == 200, response.text
    folder = tmp_path / "export"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(folder)
    assert not (folder / "scores.csv").exists() and (folder / "blend.csv").exists()
    meta = json.loads((folder / "selection.json").read_text())
    assert meta["source"] == "blend" and meta["weights"] == "60/30/10" and meta["blend_seed"] == 5
    assert meta["replay"] == "hangang challenge blend --sheet blend.csv --quotas quotas.json --json"
    header = (folder / "winners.csv").read_text().splitlines()[0]
    assert header.endswith(
        "score,expert_score,panel_score,public_votes,expert,panel,public,blended,"
        "weight_expert,weight_panel,weight_public,seed,scale"
    )
    assert json.loads((folder / "winners.json").read_text())[0]["weight_panel"] == "30"
    argv = [str(folder / a) if a in ("blend.csv", "quotas.json") else a for a in meta["replay"].split()[1:]]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert cli_main(argv) == 0
    replayed = json.loads(output.getvalue())
    assert replayed["advancing"] == selection["result"]["winners"] == meta["winners_pseudonymous"]
    assert [(r["entry_id"], r["blended"]) for r in replayed["ranking"]] == [(s.entry_id, s.blended) for s in blended]


async def test_quotas_and_the_organization_limit_hold_on_the_blend_and_on_the_command_line(
    official, official2, startup, users, tmp_path
):
    # Transportation (even entries) at most 1; entries 1 and 7 share an organization (at most 1 each).
    challenge = await _final_with_citizens(
        official, official2, startup, users,
        quotas={"transportation": {"min": 0, "max": 1}}, share_organization=True,
    )
    await _citizens_weigh_in(official, users, challenge)
    selection = await get_selection(
        await run_selection(official.account.id, challenge.edition_id, challenge.final_round)
    )
    entries = challenge.entries
    # Blend order 0, 7, 2, 1, 6, 4, 5: entry 2 is a second transportation entry, entry 1 a second of
    # entry 7's organization, so the third place goes to entry 5.
    assert _winners(selection) == {entries[0], entries[7], entries[5]}
    reasons = " ".join(b["reason"] for b in selection["result"]["borderline"])
    assert "category quota max reached for transportation" in reasons and "already has a winner" in reasons
    sheet = tmp_path / "blend.csv"
    sheet.write_text(selection["sheet_csv"])
    quotas = tmp_path / "quotas.json"
    quotas.write_text(json.dumps(selection["parameters"]["quotas"]))
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert cli_main(["challenge", "blend", "--sheet", str(sheet), "--quotas", str(quotas), "--json"]) == 0
    assert json.loads(output.getvalue())["advancing"] == selection["result"]["winners"]
    # A panel score changed after the selection makes it stale: it must be computed again.
    member = await PanelMember.select().output(load_json=True).where(PanelMember.round == challenge.final_round).first()
    await panel.save_panel_score(member["user"], challenge.final_round, member["entries"][0], {"impact": 1, "innovation": 1})
    await public_vote.acknowledge_report(official.account.id, challenge.final_round)
    with pytest.raises(Conflict, match="panel scores"):
        await approve_selection(official.account.id, selection["id"])
