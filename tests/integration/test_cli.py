"""The `hangang` command line: create-user, audit verify, production refusal, hash-residents."""

from __future__ import annotations

import os
import subprocess
import sys

from portal.db import raw
from portal.tables import AuditEvent, User


def hangang(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", *args], input=stdin, text=True, capture_output=True,
        env={**os.environ, **(env or {})}, cwd="/tmp", timeout=120,
    )


def test_help_lists_every_command():
    result = hangang("--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "demo", "create-user", "audit", "tally", "challenge", "city-sim", "push", "verify-export", "mix-ballots", "mail-outbox"):
        assert command in result.stdout, command


async def test_create_user_with_combined_roles_and_verified_district():
    result = hangang(
        "create-user", "--email", "Cli@Example.kr", "--role", "official", "--role", "judge", "--district", "11110",
        "--verified", "--display-name", "Kim", "--password-stdin", stdin="a long enough passphrase here\n",
    )
    assert result.returncode == 0, result.stderr
    row = await User.select().where(User.email == "cli@example.kr").first()
    assert row["roles"] == "judge,official" and row["district_code"] == "11110" and row["residency_verified"]
    assert "two-factor" in result.stdout


async def test_create_user_refuses_weak_password_and_bad_district():
    weak = hangang("create-user", "--email", "w@example.kr", "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "at least 15" in weak.stderr and "Traceback" not in weak.stderr
    bad = hangang("create-user", "--email", "d@example.kr", "--district", "99999", "--password-stdin", stdin="a long enough passphrase here\n")
    assert bad.returncode == 2 and "25 districts" in bad.stderr


async def test_audit_verify_reports_ok_then_the_first_broken_link():
    for i in range(3):
        assert hangang("create-user", "--email", f"a{i}@example.kr", "--password-stdin", stdin="a long enough passphrase here\n").returncode == 0
    ok = hangang("audit", "verify")
    assert ok.returncode == 0 and ok.stdout.strip().endswith("ok 3 events")
    second = (await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id))[1]["id"]
    await raw("UPDATE portal_audit_event SET action = {} WHERE id = {}", "forged", second)
    broken = hangang("audit", "verify")
    assert broken.returncode == 1 and f"broken at event {second}" in broken.stdout


def test_production_refuses_unsafe_settings():
    result = hangang("serve", "--port", "1", env={"HANGANG_ENV": "production", "HANGANG_SECRET_KEY": "", "HANGANG_BASE_URL": "http://x"})
    assert result.returncode == 2
    assert "HANGANG_SECRET_KEY" in result.stderr and "https://" in result.stderr and "Traceback" not in result.stderr


def test_hash_residents_then_import_format(tmp_path):
    source = tmp_path / "residents.csv"
    source.write_text("identifier,district_code\n900101-1234567,11680\n")
    result = hangang("hash-residents", str(source))
    assert result.returncode == 0
    header, line = result.stdout.strip().splitlines()
    assert header == "identifier_hash,district_code"
    digest, district = line.split(",")
    assert len(digest) == 64 and district == "11680" and "1234567" not in result.stdout


async def test_mix_ballots_rewrites_changed_pots_under_new_ids_and_keeps_every_ballot():
    from voting.testing import build_cycle

    built = await build_cycle(None)
    rows = [
        (n + 1, built.city_pot, f"key-{n}", f"AAAA-BBBB-CCC{n}", f'{{"project_ids":[{pid}]}}')
        for n, pid in enumerate(built.projects[built.city_pot][:3])
    ]
    for row in rows:
        await raw(
            "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at) "
            "VALUES ({}, {}, {}, {}, {}, 1, CURRENT_TIMESTAMP)",
            *row,
        )
    result = hangang("mix-ballots")
    assert result.returncode == 0, result.stderr
    assert "Mixed 1 pots (3 ballots)." in result.stdout
    after = await raw("SELECT id, voter_key, receipt, content FROM pb_ballot")
    assert {(r["voter_key"], r["receipt"], r["content"]) for r in after} == {row[2:] for row in rows}
    assert not {r["id"] for r in after} & {1, 2, 3}  # new random ids
    assert "Mixed 0 pots (0 ballots)." in hangang("mix-ballots").stdout  # nothing changed since
