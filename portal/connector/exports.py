"""Signed file exports: the fallback when the city cannot take a push.

PB allocations become a Fiscal Data Package (CSV + ``datapackage.json``); AI 50 Challenge awards
become CSV, XLSX and JSON. Every bundle carries ``manifest.json`` with the SHA-256 of each file
and the audit-chain head, signed with the connector's HMAC key.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from portal.connector import signing
from portal.spreadsheet import AMOUNT, SCORE, Column, as_number, escape_cell, xlsx_bytes

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "hangang-export/1"
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class ExportError(Exception):
    """A bundle that does not verify; the message names the first problem."""


# ----------------------------------------------------------------------------- file builders

ALLOCATION_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    # (column, table-schema type, budget taxonomy columnType, description)
    ("fiscal_year", "year", "date:fiscal-year", "Fiscal year the allocation is budgeted in"),
    ("line_id", "string", "budget-line-id", "Line identifier, unique within the batch"),
    ("project_code", "string", "activity:generic:project:code", "Project code in the portal"),
    ("project_title", "string", "activity:generic:project:label", "Project title"),
    (
        "district_code",
        "string",
        "geo:target:code",
        "Administrative code of the target district (gu)",
    ),
    ("district_name", "string", "geo:target:label", "Target district"),
    ("category", "string", "functional-classification:generic:label", "Policy category"),
    ("amount", "integer", "value", "Allocated amount in whole KRW"),
    ("votes", "integer", "unknown:integer", "Votes the project received"),
    ("rank", "integer", "unknown:integer", "Rank in the result"),
    ("rule", "string", "unknown:string", "Aggregation rule that selected the project"),
)


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")


def allocation_files(payload: Mapping[str, Any]) -> dict[str, bytes]:
    """Return the Fiscal Data Package files of a PB allocation batch."""
    year = int(payload["fiscal_year"])
    rows = [
        [
            year,
            item["line_id"],
            item["project_code"],
            item["title"],
            item["district"]["code"],
            item["district"]["name"],
            item["category"],
            int(item["amount"]),
            int(item["votes"]),
            int(item["rank"]),
            item["rule"],
        ]
        for item in payload["items"]
    ]
    csv_bytes = _csv_bytes([field[0] for field in ALLOCATION_FIELDS], rows)
    name = re.sub(r"[^a-z0-9._-]", "-", f"{payload['batch_id']}-r{payload['revision']}".lower())
    descriptor = {
        "profile": "fiscal-data-package",
        "name": name,
        "title": f"Participatory budgeting allocations {payload['batch_id']} (revision {payload['revision']})",
        "countryCode": "KR",
        "currency": "KRW",
        "fiscalPeriod": {"start": f"{year}-01-01", "end": f"{year}-12-31"},
        "sources": [{"title": "Hangang Portal", "path": "batch.json"}],
        "resources": [
            {
                "name": "allocations",
                "path": "allocations.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {
                            "name": column,
                            "type": kind,
                            "columnType": column_type,
                            "description": description,
                        }
                        | ({"constraints": {"minimum": 0}} if column == "amount" else {})
                        for column, kind, column_type, description in ALLOCATION_FIELDS
                    ],
                    "primaryKey": ["line_id"],
                },
            }
        ],
    }
    return {
        "allocations.csv": csv_bytes,
        "datapackage.json": json.dumps(descriptor, ensure_ascii=False, indent=2).encode("utf-8"),
        "batch.json": signing.body_bytes(dict(payload)),
    }


AWARD_COLUMNS = (
    "fiscal_year",
    "line_id",
    "award_code",
    "title",
    "recipient_id",
    "recipient_name",
    "category",
    "amount",
    "rank",
    "score",
)


# The XLSX headers (in the reader's language) of AWARD_COLUMNS.
AWARD_SHEET = (
    Column("fiscal_year", "Fiscal year"),
    Column("line_id", "Line ID"),
    Column("award_code", "Award code"),
    Column("title", "Title"),
    Column("recipient_id", "Recipient ID"),
    Column("recipient_name", "Recipient"),
    Column("category", "Category"),
    Column("amount", "Amount (KRW)", AMOUNT),
    Column("rank", "Rank"),
    Column("score", "Score", SCORE),
)


def _award_rows(payload: Mapping[str, Any]) -> list[list[Any]]:
    return [
        [
            int(payload["fiscal_year"]),
            item["line_id"],
            item["award_code"],
            item["title"],
            item["recipient"]["id"],
            item["recipient"]["name"],
            item["category"],
            int(item["amount"]),
            int(item["rank"]),
            item.get("score") or "",
        ]
        for item in payload["items"]
    ]


def award_files(payload: Mapping[str, Any]) -> dict[str, bytes]:
    """Return the CSV, XLSX and JSON files of an award batch."""
    rows = _award_rows(payload)
    return {
        "awards.csv": _csv_bytes(AWARD_COLUMNS, rows),
        "awards.xlsx": xlsx_bytes(
            AWARD_SHEET, [[*r[:-1], as_number(str(r[-1]))] for r in rows], "awards"
        ),
        "awards.json": signing.body_bytes(dict(payload)),
    }


def batch_files(kind: str, payload: Mapping[str, Any]) -> dict[str, bytes]:
    """Return the export files of a batch of either kind."""
    return allocation_files(payload) if kind == "allocation" else award_files(payload)


# ----------------------------------------------------------------------------- manifest


def _manifest_signature(keys: Iterable[bytes], unsigned: Mapping[str, Any]) -> str:
    message = signing.body_bytes(dict(unsigned))
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")
        for key in keys
    )


def build_bundle(
    files: Mapping[str, bytes],
    keys: Sequence[bytes],
    key_id: str,
    audit_head: str,
    kind: str,
    batch_id: str,
    revision: int,
    created_at: datetime,
    audit_sequence: int | None = None,
) -> dict[str, bytes]:
    """Return the files plus a signed ``manifest.json``.

    ``source.audit_head`` (with ``audit_sequence``, the number of events up to that head) anchors the
    portal's audit chain outside the database: ``hangang audit verify`` can later be checked against it.
    """
    for name in files:
        if not _SAFE_NAME.match(name) or name == MANIFEST:
            raise ValueError(f"cannot export a file named {name!r}")
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "kind": kind,
        "batch_id": batch_id,
        "revision": revision,
        "created_at": created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "audit_head": audit_head,
        "source": {"system": "hangang-portal", "audit_head": audit_head, "audit_sequence": audit_sequence},
        "key_id": key_id,
        "files": [
            {"name": name, "sha256": signing.sha256_hex(data), "bytes": len(data)}
            for name, data in sorted(files.items())
        ],
    }
    manifest["signature"] = _manifest_signature(keys, manifest)
    return {**files, MANIFEST: json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")}


def write_bundle(directory: Path, bundle: Mapping[str, bytes]) -> Path:
    """Write a bundle into a new folder."""
    directory.mkdir(parents=True, exist_ok=False)
    for name, data in bundle.items():
        (directory / name).write_bytes(data)
    return directory


def zip_bundle(bundle: Mapping[str, bytes]) -> bytes:
    """Pack a bundle as a zip, for download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(bundle.items()):
            archive.writestr(name, data)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- verification


def _read_bundle(path: Path) -> dict[str, bytes]:
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    if path.is_dir():
        files: dict[str, bytes] = {}
        for entry in sorted(path.iterdir()):
            if entry.is_dir():
                raise ExportError(f"unexpected folder {entry.name} in the bundle")
            files[entry.name] = entry.read_bytes()
        return files
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_BUNDLE_BYTES:
                raise ExportError("the zip unpacks to more than 50 MB")
            files = {}
            for info in infos:
                if info.is_dir():
                    raise ExportError(f"unexpected folder {info.filename} in the bundle")
                files[info.filename] = archive.read(info)
            return files
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{path.name} is neither a folder nor a zip file") from exc


def verify_files(files: Mapping[str, bytes], keys: Sequence[bytes]) -> dict[str, Any]:
    """Check a bundle's signature and hashes; return the manifest or raise ``ExportError``."""
    manifest = _signed_manifest(files, keys)
    _check_listed_files(manifest, files)
    return manifest


def _signed_manifest(files: Mapping[str, bytes], keys: Sequence[bytes]) -> dict[str, Any]:
    """The bundle's manifest, once its signature matches one of ``keys``."""
    if MANIFEST not in files:
        raise ExportError("manifest.json is missing")
    try:
        manifest = json.loads(files[MANIFEST])
    except ValueError as exc:
        raise ExportError("manifest.json is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ExportError(f"manifest.json is not a {MANIFEST_FORMAT} manifest")
    offered = str(manifest.get("signature") or "")
    unsigned = {name: value for name, value in manifest.items() if name != "signature"}
    try:
        expected = _manifest_signature(keys, unsigned).split()
    except signing.SigningError as exc:
        raise ExportError(f"manifest.json cannot be canonicalised: {exc}") from exc
    matched = False
    for candidate in offered.split():
        for wanted in expected:
            matched |= hmac.compare_digest(candidate.encode(), wanted.encode())
    if not matched:
        raise ExportError(
            "the manifest signature does not match the key (the bundle names key id"
            f" {str(manifest.get('key_id'))!r}): either this is not the key it was signed with,"
            " or the bundle was changed"
        )
    return manifest


def _check_listed_files(manifest: dict[str, Any], files: Mapping[str, bytes]) -> None:
    """Every file the manifest lists is present with its hash, and nothing else is in the bundle."""
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise ExportError("manifest.json lists no files")
    names: set[str] = set()
    for entry in listed:
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        if not _SAFE_NAME.match(name):
            raise ExportError(f"manifest.json lists an unsafe file name {name!r}")
        names.add(name)
        if name not in files:
            raise ExportError(f"{name} is listed in the manifest but missing")
        actual = signing.sha256_hex(files[name])
        if actual != entry.get("sha256"):
            raise ExportError(
                f"{name} has SHA-256 {actual}, the manifest says {entry.get('sha256')}"
            )
    extra = sorted(set(files) - names - {MANIFEST})
    if extra:
        raise ExportError(f"{extra[0]} is in the bundle but not in the manifest")


def verify_bundle(path: Path, keys: Sequence[bytes]) -> dict[str, Any]:
    """Verify a bundle folder or zip file; return its manifest or raise ``ExportError``."""
    return verify_files(_read_bundle(path), keys)
