"""A stage where citizens weigh in (issue #13): the stage ranks and advances by the blend of experts,
citizen panel and public vote, on the stage's own 0-100 scale; approval waits for the public vote's
anomaly report; the export replays through ``hangang challenge blend`` to the approved advancement."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile

import pytest

from judging.citizen_tables import PanelMember
from judging.services import citizens, panel, public_vote, stages
from judging.services.blending import blended_standings
from judging.services.editions import get_round
from judging.services.standings import stage_standings
from portal.errors import Conflict
from tests.integration.test_challenge_citizens import _current_user, residents, settings_form
from tests.integration.test_challenge_setup import relogin
from tests.integration.test_challenge_stages import _funnel, cli_main


async def _citizens_reverse_the_experts(official, users, round_id: int, quality: dict[int, int], entries: list[int]):
    """A panel scoring on the stage's 0-100 scale and a public vote, both preferring the entries the
    experts ranked lowest; weights 20/40/40."""
    keys = tuple(c["key"] for c in (await get_round(round_id))["rubric"])
    await residents(users, 12)
    await citizens.update_citizen_settings(
        official.account.id, round_id,
        settings_form("panel+public", (20, 40, 40), panel_size=6, seed=5, criteria=keys),
    )
    await panel.draw_panel(official.account.id, round_id)
    for m in await PanelMember.select().output(load_json=True).where(PanelMember.round == round_id):
        for entry in m["entries"]:
            # 84 down to 30: outside 1-10, so the panel scores on the stage's scale
            await panel.save_panel_score(m["user"], round_id, entry, dict.fromkeys(keys, 114 - quality[entry]))
    for i, entry in enumerate([entries[0]] * 3 + [entries[1]] * 2 + [entries[2]]):
        voter = await users.create(["citizen"], district="11110", verified=True)
        await public_vote.cast_public_vote(await _current_user(voter.id), round_id, entry, f"198.51.100.{i}", f"ua/{i}")


async def test_a_stage_with_citizens_advances_by_the_blend_and_the_cli_replays_it(
    official, official2, startup, users, tmp_path
):
    challenge, pitch, _judges, quality = await _funnel(official, official2, startup, users)
    round_id = challenge.evaluation_round
    await _citizens_reverse_the_experts(official, users, round_id, quality, challenge.entries)

    standings = await stage_standings(round_id)
    blended = await blended_standings(round_id)
    assert standings.source == "blend" and standings.scale == (0, 100)
    assert [r.entry for r in standings.rows] == [s.entry for s in blended]
    # On a 0-100 stage the expert value is the calibrated score itself (no 1-10 rescaling).
    assert all(s.expert == pytest.approx(max(0, min(100, s.expert_score))) for s in blended)

    await stages.update_stage(official.account.id, round_id, "", stages.RuleForm("count", 3))
    decision_id = await stages.compute_advancement(official.account.id, round_id)
    decision = await stages.get_decision(decision_id)
    assert decision["parameters"]["source"] == "blend" and decision["parameters"]["weights"] == "20/40/40"
    assert decision["result"]["advancing_ids"] == sorted(s.entry for s in blended[:3])
    # The experts alone would have sent the three best-reviewed entries; the blend sends others.
    assert set(decision["result"]["advancing_ids"]).isdisjoint(challenge.entries[-3:])
    assert decision["sheet_csv"].splitlines()[0].endswith(",seed,scale,category")

    # Not approvable until an official acknowledged the public vote's anomaly report (409 on the page).
    await relogin(official, official2)
    refused = await official.post_form(f"/officials/challenge/stage-decisions/{decision_id}/approve", {})
    assert refused.status_code == 409 and "anomaly report" in refused.text
    with pytest.raises(Conflict, match="anomaly report"):
        await stages.approve_advancement(official2.account.id, decision_id)
    await public_vote.acknowledge_report(official.account.id, round_id)
    assert await stages.approve_advancement(official.account.id, decision_id) is False
    assert await stages.approve_advancement(official2.account.id, decision_id) is True

    # Only the advanced entries are in the next stage, for its citizens too.
    assert [e["id"] for e in await citizens.stage_entries(pitch)] == decision["result"]["advancing_ids"]

    stage_page = await official.get(f"/officials/challenge/rounds/{round_id}/stage")
    assert stage_page.status_code == 200 and 'id="standings-source"' in stage_page.text and "20/40/40" in stage_page.text
    page = await official.get(f"/officials/challenge/stage-decisions/{decision_id}")
    assert page.status_code == 200 and 'id="decision-source"' in page.text and "blend.csv" in page.text
    assert (await official.get(f"/officials/challenge/stage-decisions/{decision_id}/export/scores.csv")).status_code == 404
    response = await official.get(f"/officials/challenge/stage-decisions/{decision_id}/export/advancement.zip")
    assert response.status_code == 200, response.text
    folder = tmp_path / "export"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(folder)
    meta = json.loads((folder / "decision.json").read_text())
    assert meta["replay"] == "hangang challenge blend --sheet blend.csv --count 3 --json"
    argv = [str(folder / a) if a in ("blend.csv", "quotas.json") else a for a in meta["replay"].split()[1:]]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert cli_main(argv) == 0
    replayed = json.loads(output.getvalue())
    assert replayed["advancing"] == decision["result"]["advancing"] == meta["advancing_pseudonymous"]
    assert [(r["entry_id"], r["blended"]) for r in replayed["ranking"]] == [(s.entry_id, s.blended) for s in blended]
    assert replayed["scale"] == "0-100"


async def test_a_cut_under_quotas_on_the_blend_replays_from_the_stored_sheet(official, official2, startup, users):
    challenge, _pitch, _judges, quality = await _funnel(official, official2, startup, users)
    round_id = challenge.evaluation_round
    await _citizens_reverse_the_experts(official, users, round_id, quality, challenge.entries)
    blended = await blended_standings(round_id)
    cut = f"{blended[4].blended:.2f}"  # 0-100 stage: the cut is on the blended scale itself
    await stages.update_stage(official.account.id, round_id, "", stages.RuleForm("cut", cut=cut))
    decision = await stages.get_decision(await stages.compute_advancement(official.account.id, round_id))
    reaching = sorted(s.entry for s in blended if s.blended >= float(cut))
    assert decision["result"]["advancing_ids"] == reaching and len(reaching) >= 5
    assert stages.replay_command(decision["parameters"]).endswith(f"--cut {cut} --json")
    again = stages._outcome(decision["sheet_csv"], decision["parameters"])
    assert again["advancing"] == decision["result"]["advancing"]
