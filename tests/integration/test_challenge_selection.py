"""Selection, two-official approval (V8), exports with CSV injection escaped (S19), replay with the CLI,
and the award batch written to the connector's outbox with the final approval."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from openpyxl import load_workbook

from judging import cli
from judging.compute import scoresheet
from judging.services.approvals import approve_selection
from judging.services.assignment import run_assignment
from judging.services.awards import award_batch_payload
from judging.services.editions import update_edition_rules
from judging.services.reviews import save_review
from judging.services.selection import get_selection, pseudonym, run_selection
from judging.tables import Entry, Review, Selection
from portal import clock
from portal.connector.exports import verify_files
from portal.connector.settings import load_city_settings
from portal.tables import Notification
from tests.integration.test_challenge_setup import (
    add_entries,
    close_and_screen_in,
    make_edition,
    relogin,
    scores,
    set_pool,
)


async def _scored_challenge(
    official, startup, users, *, entries: int = 8, winners: int = 3, quotas=None
):
    challenge = await make_edition(official.account.id, winners=winners, quotas=quotas)
    await add_entries(
        challenge, startup.account.id, entries, categories=("transportation", "welfare")
    )
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    judges = [await users.create(roles=["judge"]) for _ in range(4)]
    await set_pool(challenge, [j.id for j in judges], per_entry=2)
    await run_assignment(official.account.id, challenge.evaluation_round)
    from judging.tables import Assignment

    for a in await Assignment.select():
        # Quality by entry, a harsh and a generous judge: the additive model should see through them.
        quality = 3 + (challenge.entries.index(a["entry"]) % 7)
        offset = {0: -1, 1: 0, 2: 0, 3: 1}[[j.id for j in judges].index(a["judge"])]
        await save_review(
            a["judge"],
            challenge.evaluation_round,
            a["entry"],
            scores(max(1, min(10, quality + offset))),
            {},
            3,
        )
    return challenge


async def test_two_different_officials_must_approve_before_exports(
    official, official2, startup, users
):
    challenge = await _scored_challenge(official, startup, users)
    await relogin(official2)
    response = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/selections",
        {"round": str(challenge.evaluation_round), "method": "additive"},
    )
    assert response.status_code == 303, response.text
    selection_id = (await Selection.select(Selection.id).first())["id"]
    page = await official.get(f"/officials/challenge/selections/{selection_id}")
    assert "Borderline" in page.text and "Approve the winners" in page.text
    assert (
        await official.get(f"/officials/challenge/selections/{selection_id}/export/winners.csv")
    ).status_code == 404
    assert (
        await official.post_form(f"/officials/challenge/selections/{selection_id}/approve")
    ).status_code == 303
    assert (
        await official.get(f"/officials/challenge/selections/{selection_id}/export/winners.csv")
    ).status_code == 404
    waiting = await official.get(f"/officials/challenge/selections/{selection_id}")
    assert 'id="awaiting-second-approval"' in waiting.text
    assert 'id="approve-selection"' not in waiting.text  # no button the same official cannot use
    twice = await official.post_form(f"/officials/challenge/selections/{selection_id}/approve")
    assert twice.status_code == 409
    other = await official2.get(f"/officials/challenge/selections/{selection_id}")
    assert 'id="approve-selection"' in other.text
    assert (await Selection.select(Selection.status).first())["status"] == "proposed"
    assert (
        await official2.post_form(f"/officials/challenge/selections/{selection_id}/approve")
    ).status_code == 303
    assert (await Selection.select(Selection.status).first())["status"] == "approved"
    winners_csv = await official2.get(
        f"/officials/challenge/selections/{selection_id}/export/winners.csv"
    )
    assert winners_csv.status_code == 200
    assert winners_csv.headers["content-disposition"].startswith("attachment")
    assert len(list(csv.DictReader(io.StringIO(winners_csv.text)))) == 3
    notes = [
        n["message"]
        for n in await Notification.select().where(Notification.user == startup.account.id)
    ]
    assert any("one of the winners" in m for m in notes) and any("not selected" in m for m in notes)
    # The startup also sees each entry's result on its pages.
    mine = await startup.get("/challenge/entries")
    assert "Winner" in mine.text and "Not selected" in mine.text
    won = await Selection.select(Selection.result).output(load_json=True).first()
    first = won["result"]["entry_ids"][won["result"]["winners"][0]]
    entry_page = await startup.get(f"/challenge/entries/{first}")
    assert 'id="entry-outcome"' in entry_page.text and "one of the winners" in entry_page.text
    # Rules cannot change once approved.
    frozen = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/rules",
        {"winners": "4", "quotas": "{}", "max_per_organization": "1", "seed": "1"},
    )
    assert frozen.status_code == 409
    listing = await official.get(f"/officials/challenge/{challenge.edition_id}/selections")
    assert 'id="selection-approved"' in listing.text and "Run selection" not in listing.text
    edition_page = await official.get(f"/officials/challenge/{challenge.edition_id}")
    assert 'id="rules-frozen"' in edition_page.text and "Save rules" not in edition_page.text


async def test_exported_score_sheet_replays_to_the_same_winners(
    official, official2, startup, users, tmp_path
):
    quotas = {"transportation": {"min": 1, "max": 2}, "welfare": {"min": 1, "max": 3}}
    challenge = await _scored_challenge(
        official, startup, users, entries=10, winners=4, quotas=quotas
    )
    # A formula-like title must export as inert text (S19).
    await Entry.update({Entry.title: '=HYPERLINK("http://evil","x")'}).where(
        Entry.id == challenge.entries[9]
    )
    selection_id = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    await approve_selection(official.account.id, selection_id)
    await relogin(official2)
    await approve_selection(official2.account.id, selection_id)
    bundle = await official.get(f"/officials/challenge/selections/{selection_id}/export/bundle.zip")
    assert bundle.status_code == 200
    files = {
        name: zipfile.ZipFile(io.BytesIO(bundle.content)).read(name)
        for name in zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    }
    assert set(files) == {
        "winners.csv",
        "winners.xlsx",
        "winners.json",
        "scores.csv",
        "quotas.json",
        "selection.json",
        "conflicts.csv",
        "manifest.json",
    }
    manifest = json.loads(files["manifest.json"])
    for item in manifest["files"]:
        assert hashlib.sha256(files[item["name"]]).hexdigest() == item["sha256"]
    # Signed like the connector's exports, so `hangang verify-export` checks the bundle.
    keys = load_city_settings(require_url=False).keys
    assert verify_files(files, keys)["kind"] == "ai50-selection"
    sheet = list(csv.DictReader(io.StringIO(files["scores.csv"].decode())))
    assert list(sheet[0]) == ["entry_id", "judge_id", "score", "category", "organization"]
    assert all(
        r["entry_id"].startswith("E-")
        and r["judge_id"].startswith("J-")
        and r["organization"].startswith("O-")
        for r in sheet
    )
    assert await Review.count() == len(sheet)
    # Replay through the CLI's own functions with the published seed and quotas.
    (tmp_path / "scores.csv").write_bytes(files["scores.csv"])
    (tmp_path / "quotas.json").write_bytes(files["quotas.json"])
    params = json.loads(files["selection.json"])
    replay = scoresheet.rank_score_sheet(
        cli.read_score_sheet(tmp_path / "scores.csv"),
        params["method"],
        None,
        cli.read_quotas(tmp_path / "quotas.json"),
        params["seed"],
    )
    winners_json = json.loads(files["winners.json"])
    official_winners = {
        pseudonym("entry", challenge.edition_id, w["entry_id"]) for w in winners_json
    }
    assert set(replay.selection.winners) == official_winners and len(official_winners) == 4
    # And through the command line entry point itself.
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.run_rank(
            type(
                "Args",
                (),
                {
                    "sheet": str(tmp_path / "scores.csv"),
                    "quotas": str(tmp_path / "quotas.json"),
                    "winners": None,
                    "seed": params["seed"],
                    "method": params["method"],
                    "json": True,
                },
            )()
        )
    assert code == 0
    assert set(json.loads(out.getvalue())["winners"]) == official_winners
    # CSV injection: the formula title is prefixed with a quote in CSV and stored as text in XLSX.
    winners_text = files["winners.csv"].decode()
    for row in csv.DictReader(io.StringIO(winners_text)):
        assert not row["title"].startswith("=")
    workbook = load_workbook(io.BytesIO(files["winners.xlsx"]))
    for row in workbook.active.iter_rows(min_row=2, values_only=True):
        assert not str(row[2]).startswith("=")
        assert isinstance(row[0], int) and isinstance(row[6], int | float)  # rank and score are numbers
    assert workbook.active.cell(row=2, column=7).number_format == "0.000000"
    # The conflicts register and parameters are there; a judge cannot fetch any of it.
    assert files["conflicts.csv"].decode().startswith("judge_id,entry_id,type,source")
    assert params["seed"] == 7 and params["quotas"]["categories"] == quotas


async def test_final_approval_writes_the_award_batch_in_the_same_transaction(
    official, official2, startup, users
):
    challenge = await _scored_challenge(official, startup, users)
    selection_id = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    payload = None
    await approve_selection(official.account.id, selection_id)
    from portal.connector.tables import OutboxBatch

    assert await OutboxBatch.count() == 0
    await approve_selection(official2.account.id, selection_id)
    rows = await OutboxBatch.select()
    assert len(rows) == 1
    payload = await award_batch_payload(selection_id)
    assert payload["totals"]["item_count"] == 3 and len(payload["items"]) == 3
    assert len(payload["approvals"]) == 2
    assert payload["items"][0]["rank"] == 1
    assert clock.now() is not None


async def test_infeasible_quotas_get_a_clear_message(official, startup, users):
    challenge = await _scored_challenge(official, startup, users, entries=4, winners=2)
    await update_edition_rules(
        official.account.id, challenge.edition_id, 2, {"climate": {"min": 1, "max": 2}}, 1, 7
    )
    response = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/selections",
        {"round": str(challenge.evaluation_round), "method": "additive"},
    )
    assert response.status_code == 422
    assert "category Climate needs at least 1 winners" in response.text  # named by its label
    assert await Selection.count() == 0


async def test_calibration_view_shows_three_methods(official, startup, users):
    challenge = await _scored_challenge(official, startup, users, entries=4)
    page = await official.get(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/calibration"
    )
    assert page.status_code == 200
    for heading in ("Raw mean", "Z-score", "Additive model", "Disagreement", "Reviews"):
        assert heading in page.text


async def test_borderline_reasons_are_translated_and_name_organizations(official, startup, users):
    challenge = await _scored_challenge(official, startup, users, entries=10, winners=3)
    selection_id = await run_selection(
        official.account.id, challenge.edition_id, challenge.evaluation_round
    )
    page = await official.get(f"/officials/challenge/selections/{selection_id}")
    assert 'id="missing-reviews"' not in page.text  # every assigned review is in
    await Review.delete().where(Review.id == (await Review.select(Review.id).first())["id"])
    page = await official.get(f"/officials/challenge/selections/{selection_id}")
    assert 'id="missing-reviews"' in page.text and "still missing in this round: 1." in page.text
    notes = (await get_selection(selection_id))["result"]["borderline"]
    assert notes and all(n["message"] and n["reason"] for n in notes)
    await official.post_form("/language", {"language": "ko"})
    korean = (await official.get(f"/officials/challenge/selections/{selection_id}")).text
    table = korean.split("경계선")[1].split("</table>")[0]
    for note in notes:
        assert note["reason"] not in table  # no English reason on the Korean page
    assert "점수" in table or "수상작" in table
    assert "E-" not in table and "O-" not in table  # titles and names, not export pseudonyms
