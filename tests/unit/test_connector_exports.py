"""Signed export bundles: Fiscal Data Package for PB, CSV/XLSX/JSON for awards, verify-export."""

from __future__ import annotations

import argparse
import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import frictionless
import openpyxl
import pytest

from portal.connector import cli, exports, signing
from portal.connector.testing import sample_allocation, sample_award

SECRET = signing.new_secret()
KEYS = signing.parse_secrets(SECRET)
HEAD = "ab" * 32


def _bundle(kind: str, payload: dict) -> dict[str, bytes]:
    return exports.build_bundle(
        exports.batch_files(kind, payload),
        KEYS,
        "k1",
        HEAD,
        kind,
        payload["batch_id"],
        payload["revision"],
        datetime(2026, 11, 28, tzinfo=UTC),
        audit_sequence=42,
    )


def _write(tmp_path: Path, kind: str, payload: dict) -> Path:
    return exports.write_bundle(tmp_path / "bundle", _bundle(kind, payload))


def _validate_package(folder: Path) -> frictionless.Report:
    # frictionless would download the fiscal-data-package profile (offline here); a Fiscal Data
    # Package is a Tabular Data Package, so the tabular profile checks metadata and every row.
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert descriptor["profile"] == "fiscal-data-package"
    descriptor["profile"] = "tabular-data-package"
    (folder / "tabular.json").write_text(json.dumps(descriptor))
    return frictionless.validate(str(folder / "tabular.json"))


def test_pb_allocations_form_a_valid_fiscal_data_package(tmp_path: Path) -> None:
    folder = _write(tmp_path, "allocation", sample_allocation(items=4))
    report = _validate_package(folder)
    assert report.valid, report.flatten(["type", "note"])
    descriptor = json.loads((folder / "datapackage.json").read_text())
    column_types = {
        f["name"]: f["columnType"] for f in descriptor["resources"][0]["schema"]["fields"]
    }
    assert column_types["amount"] == "value"
    assert column_types["fiscal_year"] == "date:fiscal-year"
    assert column_types["project_code"] == "activity:generic:project:code"
    assert column_types["district_code"] == "geo:target:code"
    rows = list(csv.DictReader(io.StringIO((folder / "allocations.csv").read_text())))
    assert (
        len(rows) == 4 and rows[0]["amount"] == "250000000" and rows[0]["district_code"] == "11680"
    )


def test_a_broken_csv_fails_frictionless(tmp_path: Path) -> None:
    folder = _write(tmp_path, "allocation", sample_allocation(items=2))
    text = (folder / "allocations.csv").read_text().replace("250000000", "lots", 1)
    (folder / "allocations.csv").write_text(text)
    assert not _validate_package(folder).valid


def test_award_csv_xlsx_json_escape_formulas(tmp_path: Path) -> None:
    payload = sample_award(items=3)
    assert payload["items"][0]["title"].startswith("=HYPERLINK")
    folder = _write(tmp_path, "award", payload)
    rows = list(csv.DictReader(io.StringIO((folder / "awards.csv").read_text())))
    assert rows[0]["title"].startswith("'=HYPERLINK")
    assert rows[1]["title"] == "Smart crossing 2"
    sheet = openpyxl.load_workbook(folder / "awards.xlsx").active
    title = sheet.cell(row=2, column=4)
    assert title.data_type == "s" and title.value.startswith("'=HYPERLINK")
    assert sheet.cell(row=2, column=8).value == 100_000_000
    assert sheet.cell(row=2, column=8).number_format == "#,##0"
    assert isinstance(sheet.cell(row=2, column=10).value, int | float)  # the score, a number
    assert (
        json.loads((folder / "awards.json").read_text())["items"][0]["title"]
        == payload["items"][0]["title"]
    )


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"])
def test_formula_like_cells_are_escaped(text: str) -> None:
    assert exports.escape_cell(text) == "'" + text
    assert exports.escape_cell("plain") == "plain"
    assert exports.escape_cell(-5) == -5


def test_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    folder = _write(tmp_path, "allocation", sample_allocation())
    manifest = exports.verify_bundle(folder, KEYS)
    assert manifest["audit_head"] == HEAD
    # The audit-chain anchor, inside the signed part of the manifest (A6).
    assert manifest["source"] == {"system": "hangang-portal", "audit_head": HEAD, "audit_sequence": 42}
    assert {f["name"] for f in manifest["files"]} == {
        "allocations.csv",
        "datapackage.json",
        "batch.json",
    }
    for entry in manifest["files"]:
        assert entry["sha256"] == signing.sha256_hex((folder / entry["name"]).read_bytes())


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda d: (d / "allocations.csv").write_text("x"), "allocations.csv has SHA-256"),
        (lambda d: (d / "batch.json").unlink(), "batch.json is listed in the manifest but missing"),
        (
            lambda d: (d / "extra.csv").write_text("x"),
            "extra.csv is in the bundle but not in the manifest",
        ),
        (lambda d: (d / "manifest.json").unlink(), "manifest.json is missing"),
        (
            lambda d: (d / "manifest.json").write_text(
                (d / "manifest.json").read_text().replace('"revision": 1', '"revision": 2')
            ),
            "signature does not match",
        ),
    ],
)
def test_tampering_is_reported(tmp_path: Path, tamper, problem: str) -> None:
    folder = _write(tmp_path, "allocation", sample_allocation())
    tamper(folder)
    with pytest.raises(exports.ExportError, match=problem):
        exports.verify_bundle(folder, KEYS)


def test_another_key_does_not_verify(tmp_path: Path) -> None:
    folder = _write(tmp_path, "award", sample_award())
    with pytest.raises(exports.ExportError, match="signature"):
        exports.verify_bundle(folder, signing.parse_secrets(signing.new_secret()))


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def test_verify_export_command_on_folder_and_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HANGANG_CITY_BUDGET_SECRET", SECRET)
    from portal.settings import get_settings

    get_settings.cache_clear()
    try:
        bundle = _bundle("award", sample_award())
        folder = exports.write_bundle(tmp_path / "awards", bundle)
        archive = tmp_path / "awards.zip"
        archive.write_bytes(exports.zip_bundle(bundle))
        assert _run_cli(["verify-export", str(folder)]) == 0
        assert _run_cli(["verify-export", str(archive)]) == 0
        assert capsys.readouterr().out == "ok\nok\n"
        (folder / "awards.csv").write_text("tampered")
        assert _run_cli(["verify-export", str(folder)]) == 1
        assert "problem: awards.csv has SHA-256" in capsys.readouterr().out
        (tmp_path / "not.zip").write_text("nope")
        assert _run_cli(["verify-export", str(tmp_path / "not.zip")]) == 1
        assert "neither a folder nor a zip" in capsys.readouterr().out
        with zipfile.ZipFile(archive, "a") as z:
            z.writestr("evil.sh", "rm -rf /")
        assert _run_cli(["verify-export", str(archive)]) == 1
    finally:
        get_settings.cache_clear()
