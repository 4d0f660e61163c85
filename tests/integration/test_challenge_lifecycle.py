"""Challenge lifecycles (issue 9 item 3): selection snapshots and stale selections, decisions frozen
once approved, coverage gaps after a late conflict, and a replay that reproduces the approved winners."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import zipfile

import pytest

from judging import cli
from judging.services.approvals import approve_selection
from judging.services.awards import winners_of
from judging.services.conflicts import declare_conflict
from judging.services.reviews import save_review
from judging.services.selection import get_selection, pseudonym, run_selection
from judging.tables import Assignment, Edition, Entry, Review, Selection
from portal.connector.exports import verify_files
from portal.connector.settings import load_city_settings
from portal.errors import DomainError
from portal.tables import AuditEvent
from tests.integration.test_challenge_selection import _scored_challenge
from tests.integration.test_challenge_setup import relogin, scores


def _replay(command: str, folder) -> list[str]:
    """Run the replay command printed in selection.json, on the bundle's files, as a shell would."""
    argv = command.split()
    assert argv[:3] == ["hangang", "challenge", "rank"]
    argv = [str(folder / a) if a.endswith((".csv", ".json")) else a for a in argv[1:]]
    parser = argparse.ArgumentParser(prog="hangang")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.handler(args) == 0
    return json.loads(out.getvalue())["winners"]


async def _states(selection_id: int) -> list[tuple[str, str]]:
    rows = (
        await AuditEvent.select(AuditEvent.details)
        .where(
            (AuditEvent.action == "challenge.selection.state")
            & (AuditEvent.subject == f"selection:{selection_id}")
        )
        .order_by(AuditEvent.id)
    )
    return [(d["old"], d["new"]) for d in (json.loads(r["details"]) for r in rows)]


async def test_rules_edited_after_a_selection_make_it_stale_and_the_bundle_replays(
    official, official2, startup, users, tmp_path
):
    challenge = await _scored_challenge(official, startup, users, entries=6, winners=2)
    first = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    # The rules change after the selection was computed: it is stale and cannot be approved.
    edited = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/rules",
        {"winners": "1", "quotas": "{}", "max_per_organization": "1", "seed": "7"},
    )
    assert edited.status_code == 303
    assert (await get_selection(first))["status"] == "stale"
    refused = await official.post_form(f"/officials/challenge/selections/{first}/approve")
    assert refused.status_code == 409
    assert "rules changed after this selection was computed" in refused.text
    await official.post_form("/language", {"language": "ko"})
    korean = await official.get(f"/officials/challenge/selections/{first}")
    assert 'id="selection-stale"' in korean.text and "회차 규칙이 바뀌었습니다" in korean.text
    await official.post_form("/language", {"language": "en"})
    # Computed again under the new rules, approved by two officials.
    second = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    assert await _states(first) == [("proposed", "stale"), ("stale", "superseded")]
    await approve_selection(official.account.id, second)
    await relogin(official2)
    assert await approve_selection(official2.account.id, second) is True
    assert await _states(second) == [("proposed", "approved")]
    edition = await Edition.select().where(Edition.id == challenge.edition_id).first()
    assert edition["state"] == "decided" and edition["decided_at"] is not None
    # The bundle comes from the selection's snapshot; its replay command reproduces the winners.
    bundle = await official.get(f"/officials/challenge/selections/{second}/export/bundle.zip")
    archive = zipfile.ZipFile(io.BytesIO(bundle.content))
    files = {name: archive.read(name) for name in archive.namelist()}
    assert verify_files(files, load_city_settings(require_url=False).keys)
    for name in ("scores.csv", "quotas.json"):
        (tmp_path / name).write_bytes(files[name])
    params = json.loads(files["selection.json"])
    quotas = json.loads(files["quotas.json"])
    winners = json.loads(files["winners.json"])
    assert quotas["winners"] == 1 == len(winners) == len(params["winners_pseudonymous"])
    assert "--winners 1" in params["replay"]
    official_winners = {
        pseudonym("entry", challenge.edition_id, w["entry_id"]) for w in winners
    }
    assert set(_replay(params["replay"], tmp_path)) == official_winners


async def test_approved_decisions_are_frozen_screening_rounds_and_reviews(
    official, official2, startup, users
):
    challenge = await _scored_challenge(official, startup, users, entries=4, winners=2)
    selection_id = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    await approve_selection(official.account.id, selection_id)
    await relogin(official2)
    await approve_selection(official2.account.id, selection_id)
    winner = (await winners_of(selection_id))[0]["id"]
    # A winner cannot be screened out after approval (it would read "screened out" next to
    # "congratulations").
    response = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/screening/{winner}",
        {"gate": "ai-solution", "passed": "0", "reason": "Not really AI after all"},
    )
    assert response.status_code == 409
    assert "screening decisions can no longer change" in response.text
    assert (await Entry.select(Entry.status).where(Entry.id == winner).first())[
        "status"
    ] == "screened-in"
    round_page = await official.get(f"/officials/challenge/rounds/{challenge.evaluation_round}")
    assert 'id="round-frozen"' in round_page.text
    assigned = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/assign"
    )
    assert assigned.status_code == 409 and "this round can no longer change" in assigned.text
    # Judges cannot rescore, officials cannot recompute.
    review = await Review.select().first()
    with pytest.raises(DomainError) as refused:
        await save_review(
            review["judge"], review["round"], review["entry"], scores(10), {}, 5
        )
    assert refused.value.status_code == 403  # as after the deadline: scores are locked
    assert (await Review.select().where(Review.id == review["id"]).first())[
        "scores"
    ] == review["scores"]
    # A conflict declared after the decision is recorded, and the approved reviews stay.
    organization = (
        await Entry.select(Entry.organization).where(Entry.id == review["entry"]).first()
    )["organization"]
    await declare_conflict(review["judge"], organization, "advisory", "")
    assert await Review.exists().where(Review.id == review["id"])
    recompute = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/selections",
        {"round": str(challenge.evaluation_round), "method": "additive"},
    )
    assert recompute.status_code == 409 and "already approved" in recompute.text


async def test_late_conflict_is_a_coverage_gap_with_one_click_reassignment(
    app, official, startup, users
):
    challenge = await _scored_challenge(official, startup, users, entries=4, winners=2)
    selection_id = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    review = await Review.select().order_by(Review.id).first()
    entry = await Entry.select(Entry.organization, Entry.title).where(
        Entry.id == review["entry"]
    ).first()
    # The judge declares a conflict after reviewing: the review goes, the entry is short of judges.
    await declare_conflict(review["judge"], entry["organization"], "advisory", "")
    assert not await Review.exists().where(Review.id == review["id"])
    for url in (
        f"/officials/challenge/rounds/{challenge.evaluation_round}",
        f"/officials/challenge/selections/{selection_id}",
    ):
        page = await official.get(url)
        assert 'id="coverage-gaps"' in page.text and f'id="gap-{review["entry"]}"' in page.text
        assert f"{entry['title']}: 1 of 2 judges" in page.text
    # The selection no longer matches the reviews: it cannot be approved as is.
    refused = await official.post_form(f"/officials/challenge/selections/{selection_id}/approve")
    assert refused.status_code == 409 and "reviews changed" in refused.text
    # One click assigns an eligible judge (not the conflicted one, not one already on the entry).
    before = {
        a["judge"]
        for a in await Assignment.select(Assignment.judge).where(
            Assignment.entry == review["entry"]
        )
    }
    fixed = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/coverage/{review['entry']}"
    )
    assert fixed.status_code == 303
    after = {
        a["judge"]
        for a in await Assignment.select(Assignment.judge).where(
            Assignment.entry == review["entry"]
        )
    }
    assert len(after) == 2 and before < after and review["judge"] not in after
    assert await AuditEvent.exists().where(AuditEvent.action == "challenge.assignment.gap_filled")
    page = await official.get(f"/officials/challenge/rounds/{challenge.evaluation_round}")
    assert 'id="coverage-gaps"' not in page.text
    twice = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/coverage/{review['entry']}"
    )
    assert twice.status_code == 409
    assert (await Selection.select(Selection.status).where(Selection.id == selection_id).first())[
        "status"
    ] == "stale"
