"""Exports of an approved selection: winners (CSV, XLSX, JSON), the anonymized score sheet, quotas,
the selection parameters and seed, the conflicts register, and a manifest with SHA-256 of each file.

``hangang challenge rank scores.csv --quotas quotas.json --seed <seed> --method <method>`` on these
files reproduces the official winners.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from judging.services.awards import winners_of
from judging.services.conflicts import conflict_register
from judging.services.editions import get_edition, get_round
from judging.services.selection import approvals_of, get_selection, pseudonym, score_sheet
from judging.tables import CONFLICT_TYPES
from portal import audit, clock

# One CSV/XLSX writer for every export, formula-like cells made inert (S19).
from portal.connector.exports import _csv_bytes as csv_bytes
from portal.errors import NotFoundError
from portal.spreadsheet import SCORE, Column, as_number, xlsx_bytes

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


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode(
        "utf-8"
    )


async def export_files(selection_id: int) -> dict[str, bytes]:
    """Every export file of an approved selection; 404 before the second approval (V8)."""
    selection = await get_selection(selection_id)
    if selection["status"] != "approved":
        raise NotFoundError("Exports are available once two officials have approved the selection.")
    edition = await get_edition(selection["edition"])
    winners = await winners_of(selection_id)
    rows = [
        [
            w["rank"],
            w["id"],
            w["title"],
            w["organization_name"],
            w["registration_number"],
            w["category"],
            f"{w['score']:.6f}",
        ]
        for w in winners
    ]
    # Everything the replay needs comes from the selection's own snapshot, never from the
    # edition's current rules or reviews, so the replay reproduces the approved winners.
    sheet_text = selection["sheet_csv"] or (await score_sheet(selection["round"])).csv_text()
    quotas = selection["parameters"]["quotas"]
    approvals = await approvals_of(selection_id)
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
    files: dict[str, bytes] = {
        "winners.csv": csv_bytes(WINNER_COLUMNS, rows),
        "winners.xlsx": xlsx_bytes(WINNER_SHEET, [[*r[:-1], as_number(r[-1])] for r in rows], "winners"),
        "winners.json": _json([dict(zip(WINNER_COLUMNS, r, strict=True)) for r in rows]),
        "scores.csv": sheet_text.encode("utf-8"),
        "quotas.json": _json(quotas),
        "selection.json": _json(
            {
                "edition": edition["name"],
                "selection_id": selection_id,
                "method": selection["method"],
                "seed": selection["seed"],
                "round_id": selection["round"],
                "scale": "{scale_min}-{scale_max}".format(**await get_round(selection["round"])),
                "quotas": quotas,
                "score_sheet_sha256": selection["sheet_sha256"],
                "winners_pseudonymous": selection["result"]["winners"],
                "borderline": selection["result"]["borderline"],
                "approvals": [
                    {"official": f"u-{a['official']}", "approved_at": a["approved_at"]}
                    for a in approvals
                ],
                "replay": (
                    f"hangang challenge rank scores.csv --method {selection['method']} --winners {quotas['winners']}"
                    f" --quotas quotas.json --seed {selection['seed']} --json"
                ),
            }
        ),
        "conflicts.csv": csv_bytes(("judge_id", "entry_id", "type", "source"), conflicts),
    }
    signed = _signed_bundle(files, selection_id, await audit.checkpoint())
    if signed is not None:
        return signed
    manifest = {
        "edition": edition["name"],
        "selection_id": selection_id,
        "created_at": clock.now().isoformat(timespec="seconds"),
        "audit_head": await audit.head(),
        "files": [
            {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(files.items())
        ],
    }
    files["manifest.json"] = _json(manifest)
    return files


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
