"""Exports of an approved stage advancement: who advanced (CSV, XLSX), the score sheet with its scale,
the rule as QUOTAS.json, the decision with its replay command, and a manifest with SHA-256 of each file.

``hangang challenge rank scores.csv --quotas quotas.json --seed S --scale MIN-MAX [--cut C] --json``
on these files gives exactly the approved advancement (the command is in ``decision.json``). A stage
ranked by the blend (citizens weigh in) exports ``blend.csv`` instead of ``scores.csv``, replayed by
``hangang challenge blend --sheet blend.csv --count N | --cut C | --quotas quotas.json --json``.
"""

from __future__ import annotations

from typing import Any

from judging.exports import json_bytes, manifest
from judging.services import stages
from judging.services.editions import get_edition
from portal.connector.exports import _csv_bytes as csv_bytes
from portal.errors import NotFoundError
from portal.spreadsheet import SCORE, Column, as_number, xlsx_bytes

ADVANCEMENT_COLUMNS = ("rank", "entry_id", "title", "category", "score", "advances")
ADVANCEMENT_SHEET = (
    Column("rank", "Rank"),
    Column("entry_id", "Entry ID"),
    Column("title", "Title"),
    Column("category", "Category"),
    Column("score", "Score", SCORE),
    Column("advances", "Advances"),
)
FILE_NAMES = (
    "advancement.csv",
    "advancement.xlsx",
    "scores.csv",
    "quotas.json",
    "decision.json",
    "manifest.json",
)
BLEND_FILE_NAMES = tuple("blend.csv" if n == "scores.csv" else n for n in FILE_NAMES)


def file_names(decision: dict[str, Any]) -> tuple[str, ...]:
    """The export files of a decision: its stored sheet is scores.csv, or blend.csv for a blend."""
    return BLEND_FILE_NAMES if decision["parameters"].get("source") == "blend" else FILE_NAMES


async def advancement_files(decision_id: int) -> dict[str, bytes]:
    """Every export file of an approved advancement; 404 before the second approval."""
    sheet = await stages.decision_sheet(decision_id)
    decision = sheet.decision
    if decision["status"] != "approved":
        raise NotFoundError("Exports are available once two officials have approved the decision.")
    edition = await get_edition(decision["edition"])
    rows = [
        [r.rank, r.entry, r.title, r.category, f"{r.score:.6f}", "yes" if r.advances else "no"]
        for r in sheet.ranking
    ]
    parameters = decision["parameters"]
    sheet_name = "blend.csv" if parameters.get("source") == "blend" else "scores.csv"
    files: dict[str, bytes] = {
        "advancement.csv": csv_bytes(ADVANCEMENT_COLUMNS, rows),
        "advancement.xlsx": xlsx_bytes(
            ADVANCEMENT_SHEET, [[*r[:4], as_number(r[4]), r[5]] for r in rows], "advancement"
        ),
        sheet_name: decision["sheet_csv"].encode("utf-8"),
        "quotas.json": json_bytes(parameters["quotas"]),
        "decision.json": json_bytes(
            {
                "edition": edition["name"],
                "decision_id": decision_id,
                "stage": sheet.stage["name"] or sheet.stage["kind"],
                "round_id": decision["round"],
                "rule": parameters["rule"],
                "scale": parameters["scale"],
                "method": decision["method"],
                "seed": decision["seed"],
                "source": parameters.get("source", "experts"),
                **({"weights": parameters["weights"]} if "weights" in parameters else {}),
                "score_sheet_sha256": decision["sheet_sha256"],
                "advancing_pseudonymous": decision["result"]["advancing"],
                "borderline": decision["result"]["borderline"],
                "approvals": [
                    {"official": f"u-{a['official']}", "approved_at": a["approved_at"]}
                    for a in sheet.approvals
                ],
                "replay": sheet.replay,
            }
        ),
    }
    files["manifest.json"] = await manifest(files, edition=edition["name"], decision_id=decision_id)
    return files
