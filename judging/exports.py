"""Exports of an approved selection: winners (CSV, XLSX, JSON), the anonymized score sheet, quotas,
the selection parameters and seed, the conflicts register, and a manifest with SHA-256 of each file.

``hangang challenge rank scores.csv --quotas quotas.json --seed <seed> --method <method>`` on these
files reproduces the official winners. A selection ranked by the blend (citizens weigh in its round)
exports ``blend.csv`` instead of ``scores.csv``, its winners carry the expert, panel, public and blended
columns with the weights, seed and scale, and ``hangang challenge blend --sheet blend.csv --quotas
quotas.json --json`` reproduces them (``advancing``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from typing import Any

from judging.services.awards import winners_of
from judging.services.conflicts import conflict_register
from judging.services.editions import get_edition, get_round
from judging.services.final_ranking import BLEND_SHEET as BLEND_SHEET_NAME
from judging.services.final_ranking import is_blend, replay_command, sheet_name
from judging.services.score_sheets import pseudonym, score_sheet
from judging.services.selection import approvals_of, get_selection
from judging.tables import CONFLICT_TYPES
from portal import audit, clock

# One CSV/XLSX writer for every export, formula-like cells made inert (S19).
from portal.connector.exports import _csv_bytes as csv_bytes
from portal.errors import NotFoundError
from portal.spreadsheet import SCORE, WHOLE, Column, as_number, xlsx_bytes

WINNER_COLUMNS = (
    "rank",
    "entry_id",
    "title",
    "organization",
    "registration_number",
    "category",
    "score",
)
# The XLSX headers (in the reader's language) of WINNER_COLUMNS.
WINNER_SHEET = (
    Column("rank", "Rank"),
    Column("entry_id", "Entry ID"),
    Column("title", "Title"),
    Column("organization", "Organization"),
    Column("registration_number", "Business registration number"),
    Column("category", "Category"),
    Column("score", "Score", SCORE),
)
# The blend's columns (blend.csv) with their XLSX labels and number formats, for a stage's blend.xlsx
# and a selection ranked by the blend.
BLEND_LABELS = (
    ("rank", "Rank", WHOLE),
    ("entry_id", "Entry ID", WHOLE),
    ("title", "Title", WHOLE),
    ("expert_score", "Expert score (calibrated, on the stage's scale)", SCORE),
    ("panel_score", "Panel score (mean, on the stage's scale)", SCORE),
    ("public_votes", "Public votes", WHOLE),
    ("expert", "Expert (0-100)", SCORE),
    ("panel", "Panel (0-100)", SCORE),
    ("public", "Public (0-100)", SCORE),
    ("blended", "Blended", SCORE),
    ("weight_expert", "Expert weight", WHOLE),
    ("weight_panel", "Panel weight", WHOLE),
    ("weight_public", "Public weight", WHOLE),
    ("seed", "Seed", WHOLE),
    ("scale", "Scale", WHOLE),
    ("category", "Category", WHOLE),
)
BLEND_TEXT_COLUMNS = ("entry_id", "title", "scale", "category")
# What a selection ranked by the blend adds to each winner: the sources side by side, weights, seed, scale.
WINNER_BLEND_COLUMNS = tuple(k for k, _, _ in BLEND_LABELS[3:15])
WINNER_BLEND_SHEET = tuple(Column(k, label, fmt) for k, label, fmt in BLEND_LABELS[3:15])
FILE_NAMES = (
    "winners.csv",
    "winners.xlsx",
    "winners.json",
    "scores.csv",
    "quotas.json",
    "selection.json",
    "conflicts.csv",
    "manifest.json",
)
BLEND_FILE_NAMES = tuple(BLEND_SHEET_NAME if n == "scores.csv" else n for n in FILE_NAMES)


def file_names(selection: dict[str, Any]) -> tuple[str, ...]:
    """A selection's export files: its stored sheet is scores.csv, or blend.csv for a blend."""
    return BLEND_FILE_NAMES if is_blend(selection) else FILE_NAMES


def json_bytes(value: Any) -> bytes:
    """A JSON export file: sorted keys, indented, UTF-8."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode(
        "utf-8"
    )


async def export_files(selection_id: int) -> dict[str, bytes]:
    """Every export file of an approved selection; 404 before the second approval (V8)."""
    selection = await get_selection(selection_id)
    if selection["status"] != "approved":
        raise NotFoundError("Exports are available once two officials have approved the selection.")
    edition = await get_edition(selection["edition"])
    columns, sheet_columns, rows = winner_table(selection, await winners_of(selection_id))
    # Everything the replay needs comes from the selection's own snapshot, never from the
    # edition's current rules or reviews, so the replay reproduces the approved winners.
    sheet_text = selection["sheet_csv"] or (await score_sheet(selection["round"])).csv_text()
    register = await conflict_register(edition["id"])
    conflicts = sorted(
        (
            pseudonym("judge", edition["id"], j),
            pseudonym("entry", edition["id"], e),
            kind,
            "declared" if kind in CONFLICT_TYPES else "detected",
        )
        for j, e, kind in register
    )
    numbers = {c for c in columns if c == "score" or c in WINNER_BLEND_COLUMNS} - set(BLEND_TEXT_COLUMNS)
    files: dict[str, bytes] = {
        "winners.csv": csv_bytes(columns, rows),
        "winners.xlsx": xlsx_bytes(
            sheet_columns,
            [[as_number(v) if k in numbers else v for k, v in zip(columns, r, strict=True)] for r in rows],
            "winners",
        ),
        "winners.json": json_bytes([dict(zip(columns, r, strict=True)) for r in rows]),
        sheet_name(selection): sheet_text.encode("utf-8"),
        "quotas.json": json_bytes(selection["parameters"]["quotas"]),
        "selection.json": json_bytes(await selection_document(selection, edition)),
        "conflicts.csv": csv_bytes(("judge_id", "entry_id", "type", "source"), conflicts),
    }
    signed = _signed_bundle(files, selection_id, await audit.checkpoint())
    if signed is not None:
        return signed
    files["manifest.json"] = await manifest(files, edition=edition["name"], selection_id=selection_id)
    return files


async def manifest(files: dict[str, bytes], **about: Any) -> bytes:
    """``manifest.json``: what the files are (``about``), when, the audit-chain head and each file's
    SHA-256 and size (a selection's export without a signing key, a stage decision's export)."""
    return json_bytes(
        {
            **about,
            "created_at": clock.now().isoformat(timespec="seconds"),
            "audit_head": await audit.head(),
            "files": [
                {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                for name, data in sorted(files.items())
            ],
        }
    )


def winner_table(
    selection: dict[str, Any], winners: list[dict[str, Any]]
) -> tuple[tuple[str, ...], tuple[Column, ...], list[list[Any]]]:
    """The winners' CSV columns, their XLSX headers and the rows; a selection ranked by the blend adds
    each winner's expert, panel, public and blended values, the weights, seed and scale (from its
    stored blend sheet, the very sheet the replay reads)."""
    blended = (
        {r["entry_id"]: r for r in csv.DictReader(io.StringIO(selection["sheet_csv"]))}
        if is_blend(selection)
        else {}
    )
    extra = WINNER_BLEND_COLUMNS if blended else ()
    rows = [
        [
            w["rank"],
            w["id"],
            w["title"],
            w["organization_name"],
            w["registration_number"],
            w["category"],
            f"{w['score']:.6f}",
            *(blended[w["pseudonym"]][k] for k in extra),
        ]
        for w in winners
    ]
    sheet = WINNER_SHEET + (WINNER_BLEND_SHEET if blended else ())
    return WINNER_COLUMNS + extra, sheet, rows


async def selection_document(selection: dict[str, Any], edition: dict[str, Any]) -> dict[str, Any]:
    """``selection.json``: method, seeds, scale, quotas, sheet hash, winners, borderline, approvals,
    the replay command and, for a selection ranked by the blend, its source and weights."""
    parameters = selection["parameters"]
    blend = (
        {k: parameters[k] for k in ("source", "weights", "blend_seed")} if is_blend(selection) else {}
    )
    return {
        "edition": edition["name"],
        "selection_id": selection["id"],
        "method": selection["method"],
        "seed": selection["seed"],
        "round_id": selection["round"],
        "scale": "{scale_min}-{scale_max}".format(**await get_round(selection["round"])),
        "quotas": parameters["quotas"],
        "score_sheet_sha256": selection["sheet_sha256"],
        "winners_pseudonymous": selection["result"]["winners"],
        "borderline": selection["result"]["borderline"],
        "approvals": [
            {"official": f"u-{a['official']}", "approved_at": a["approved_at"]}
            for a in await approvals_of(selection["id"])
        ],
        "replay": replay_command(selection),
        **blend,
    }


def _signed_bundle(
    files: dict[str, bytes], selection_id: int, anchor: audit.Checkpoint
) -> dict[str, bytes] | None:
    """The files with a manifest signed by the city budget HMAC key, as the connector's exports,
    so ``hangang verify-export`` checks them; None when no key is configured."""
    from portal.connector.exports import build_bundle
    from portal.connector.settings import load_city_settings

    try:
        settings = load_city_settings(require_url=False)
    except ValueError:
        return None
    if not settings.keys:
        return None
    return build_bundle(
        files,
        settings.keys,
        settings.key_id,
        anchor.head,
        kind="ai50-selection",
        batch_id=f"ai50-selection-{selection_id}",
        revision=1,
        created_at=clock.now(),
        audit_sequence=anchor.sequence,
    )


def zip_files(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return buffer.getvalue()


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}
