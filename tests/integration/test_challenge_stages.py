"""The challenge as a funnel of stages: rubric editor, advancement proposed and approved by two
officials, only advanced entries in the next stage, reproducible and replayed by the CLI."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from judging.services import stages
from judging.services.assignment import add_assignment, run_assignment
from judging.services.editions import get_round, rounds_of
from judging.services.reviews import save_review
from judging.services.stage_rubric import CriterionForm, RubricForm, update_rubric
from judging.tables import Assignment, Review, StageDecision
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotAllowed
from tests.helpers import field_error
from tests.integration.test_challenge_setup import (
    add_entries,
    close_and_screen_in,
    make_edition,
    relogin,
    set_pool,
)

TWO_CRITERIA = [
    CriterionForm(0, "", "기술성", "Technology", 60, "0-49 | Weak | 부족\n50-100 | Strong | 우수"),
    CriterionForm(1, "", "사업성", "Business", 40, ""),
]


async def _score_stage(round_id: int, judges: list[int], quality) -> None:
    """Every assignment of the stage scored: entry quality plus a harsh or generous judge."""
    rnd = await get_round(round_id)
    for a in await Assignment.select().where(Assignment.round == round_id):
        offset = (judges.index(a["judge"]) - 1) * (rnd["scale_max"] - rnd["scale_min"]) // 20
        value = max(rnd["scale_min"], min(rnd["scale_max"], quality(a["entry"]) + offset))
        await save_review(
            a["judge"], round_id, a["entry"], {c["key"]: value for c in rnd["rubric"]}, {}, 3
        )


async def _funnel(official, official2, startup, users, entries: int = 10):
    """An edition with a pitch stage added: evaluation (0-100 rubric) -> pitch -> final."""
    challenge = await make_edition(official.account.id, winners=2)
    await add_entries(challenge, startup.account.id, entries, ("transportation", "welfare"))
    await close_and_screen_in(challenge)
    await relogin(official, official2, startup)
    pitch = await stages.add_stage(official.account.id, challenge.edition_id, "발표 심사")
    await update_rubric(
        official.account.id, challenge.evaluation_round, RubricForm(0, 100, list(TWO_CRITERIA))
    )
    judges = [(await users.create(roles=["judge"])).id for _ in range(4)]
    await set_pool(challenge, judges, per_entry=2)
    await set_pool(challenge, judges, per_entry=2, round_id=pitch)
    await run_assignment(official.account.id, challenge.evaluation_round)
    quality = {e: 30 + 6 * i for i, e in enumerate(challenge.entries)}
    await _score_stage(challenge.evaluation_round, judges, quality.__getitem__)
    return challenge, pitch, judges, quality


async def _decide(official, official2, round_id: int, rule: stages.RuleForm) -> int:
    await stages.update_stage(official.account.id, round_id, "", rule)
    decision_id = await stages.compute_advancement(official.account.id, round_id)
    assert await stages.approve_advancement(official.account.id, decision_id) is False
    assert await stages.approve_advancement(official2.account.id, decision_id) is True
    return decision_id


async def test_only_advanced_entries_enter_the_next_stage_and_approved_decisions_never_change(
    official, official2, startup, users
):
    challenge, pitch, judges, quality = await _funnel(official, official2, startup, users)
    # With a rule set, the pitch stage waits for the first stage's approved advancement.
    await stages.update_stage(
        official.account.id, challenge.evaluation_round, "", stages.RuleForm("count", 4)
    )
    with pytest.raises(ConflictError):
        await run_assignment(official.account.id, pitch)
    decision_id = await _decide(
        official, official2, challenge.evaluation_round, stages.RuleForm("count", 4)
    )
    decision = await stages.get_decision(decision_id)
    best = sorted(challenge.entries, key=quality.__getitem__)[-4:]
    assert sorted(decision["result"]["advancing_ids"]) == sorted(best)
    assert (await get_round(challenge.evaluation_round))["stage_state"] == "decided"
    # The preview explains the borderline as the final selection does.
    sheet = await stages.decision_sheet(decision_id)
    assert sheet.borderline and all(b["text"] for b in sheet.borderline)
    # Only advanced entries are assigned in the next stage; an eliminated one is refused by hand.
    await run_assignment(official.account.id, pitch)
    assigned = {a["entry"] for a in await Assignment.select().where(Assignment.round == pitch)}
    assert assigned == set(best)
    out = next(e for e in challenge.entries if e not in best)
    with pytest.raises(InvalidInput):
        await add_assignment(official.account.id, pitch, out, judges[0])
    # What two officials approved never changes: rule, rubric, reviews, a new computation.
    with pytest.raises(ConflictError):
        await stages.update_stage(
            official.account.id, challenge.evaluation_round, "", stages.RuleForm("count", 5)
        )
    with pytest.raises(ConflictError):
        await stages.compute_advancement(official.account.id, challenge.evaluation_round)
    review = (
        await Review.select()
        .output(load_json=True)
        .where(Review.round == challenge.evaluation_round)
        .first()
    )
    with pytest.raises(NotAllowed):
        await save_review(
            review["judge"], challenge.evaluation_round, review["entry"], review["scores"], {}, 3
        )
    assert (await stages.get_decision(decision_id))["result"] == decision["result"]


async def test_advancement_is_reproducible_from_its_inputs_and_seed_and_the_cli_replays_it(
    official, official2, startup, users, tmp_path
):
    challenge, pitch, judges, quality = await _funnel(official, official2, startup, users)
    rule = stages.RuleForm("quotas", 4, categories={"welfare": {"min": 3, "max": 4}})
    first = await _decide(official, official2, challenge.evaluation_round, rule)
    await run_assignment(official.account.id, pitch)
    # The pitch stage kept the 1-10 scale; its scores reverse the order of the first stage.
    await _score_stage(pitch, judges, lambda e: 10 - (quality[e] - 30) // 6)
    second = await _decide(official, official2, pitch, stages.RuleForm("cut", cut="2.5"))
    assert len((await stages.get_decision(second))["result"]["advancing"]) == 2
    for decision_id in (first, second):
        decision = await stages.get_decision(decision_id)
        # The same stored sheet, rule and seed give the same decision.
        again = stages._outcome(decision["sheet_csv"], decision["parameters"])
        assert again["winners"] == decision["result"]["advancing"]
        # The export replays through the CLI's command to exactly the approved advancement.
        response = await official.get(
            f"/officials/challenge/stage-decisions/{decision_id}/export/advancement.zip"
        )
        assert response.status_code == 200, response.text
        folder = tmp_path / str(decision_id)
        zipfile.ZipFile(io.BytesIO(response.content)).extractall(folder)
        meta = json.loads((folder / "decision.json").read_text())
        assert ("--scale 0-100" if decision_id == first else "--scale 1-10") in meta["replay"]
        argv = meta["replay"].split()[1:]
        argv = [str(folder / a) if a in ("scores.csv", "quotas.json") else a for a in argv]
        output = io.StringIO()
        import contextlib

        with contextlib.redirect_stdout(output):
            assert cli_main(argv) == 0
        assert json.loads(output.getvalue())["winners"] == decision["result"]["advancing"]
    welfare = {e for i, e in enumerate(challenge.entries) if i % 2 == 1}  # categories alternate
    advanced = (await stages.get_decision(first))["result"]["advancing_ids"]
    assert len(set(advanced) & welfare) >= 3


def cli_main(argv: list[str]) -> int:
    """Run ``hangang <argv>`` through the portal's parser (the challenge group is registered there)."""
    from portal.cli import main

    return main(argv)


async def test_rubric_edit_is_refused_after_the_first_review_and_weights_must_sum_to_100(
    official, official2, startup, users
):
    challenge = await make_edition(official.account.id)
    wrong = [
        CriterionForm(0, "", "기술성", "Technology", 60),
        CriterionForm(1, "", "사업성", "Business", 30),
    ]
    with pytest.raises(InvalidInput) as error:
        await update_rubric(
            official.account.id, challenge.evaluation_round, RubricForm(1, 10, wrong)
        )
    assert error.value.field == "weights"
    # Through the page: the message sits beside the weights and what was typed is kept.
    response = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/rubric",
        {
            "scale_min": "0",
            "scale_max": "100",
            "name_ko_0": "기술성",
            "name_en_0": "Technology",
            "weight_0": "60",
            "name_ko_1": "사업성",
            "name_en_1": "Business",
            "weight_1": "30",
        },
    )
    assert response.status_code == 422
    assert "90" in field_error(response) and 'value="사업성"' in response.text
    challenge, pitch, judges, quality = await _funnel(official, official2, startup, users)
    with pytest.raises(ConflictError):
        await update_rubric(
            official.account.id, challenge.evaluation_round, RubricForm(0, 100, list(TWO_CRITERIA))
        )
    page = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/rubric",
        {
            "scale_min": "1",
            "scale_max": "10",
            "name_ko_0": "기술성",
            "name_en_0": "Tech",
            "weight_0": "100",
        },
    )
    assert page.status_code == 409
    assert "A review was already saved in this stage" in page.text
    # The judge's form follows the stage's rubric and scale.
    assert (await get_round(challenge.evaluation_round))["stage_state"] == "reviewing"
    assert [r["name"] for r in await rounds_of(challenge.edition_id)][2] == "발표 심사"
    assert await StageDecision.count() == 0


async def test_bids_on_a_later_stage_offer_only_the_entries_that_advanced_into_it(
    official, official2, startup, users
):
    from judging.services import bids

    challenge, pitch, judges, _quality = await _funnel(official, official2, startup, users, entries=6)
    await stages.update_stage(
        official.account.id, challenge.evaluation_round, "", stages.RuleForm("count", 3)
    )
    assert (await bids.bid_page(judges[0], pitch)).rows == []  # no entry has reached the pitch yet
    decision_id = await _decide(
        official, official2, challenge.evaluation_round, stages.RuleForm("count", 3)
    )
    advanced = set((await stages.get_decision(decision_id))["result"]["advancing_ids"])
    assert {r.entry for r in (await bids.bid_page(judges[0], pitch)).rows} == advanced
    eliminated = next(e for e in challenge.entries if e not in advanced)
    with pytest.raises(InvalidInput):
        await bids.save_bids(judges[0], pitch, {eliminated: "eager"})
    assert await bids.save_bids(judges[0], pitch, {min(advanced): "eager"}) == 1
