"""The connector's commands refuse bad input with a clear message, never a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from portal.connector import cli, signing


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def test_city_sim_needs_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from portal.settings import get_settings

    # Production generates nothing: a missing or malformed secret is refused by name.
    monkeypatch.setenv("HANGANG_ENV", "production")
    monkeypatch.delenv("HANGANG_CITY_BUDGET_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        assert _run(["city-sim"]) == 2
        assert "HANGANG_CITY_BUDGET_SECRET" in capsys.readouterr().err
        monkeypatch.setenv("HANGANG_CITY_BUDGET_SECRET", "not-a-webhook-secret")
        get_settings.cache_clear()
        assert _run(["city-sim"]) == 2
        assert "whsec_" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_development_generates_one_city_secret_shared_through_var(tmp_path, monkeypatch):
    from portal.connector.signing import parse_secrets
    from portal.settings import get_settings

    monkeypatch.setenv("HANGANG_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HANGANG_CITY_BUDGET_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        first = get_settings().city_budget_secret
        get_settings.cache_clear()
        assert get_settings().city_budget_secret == first  # a second process sees the same secret
        assert parse_secrets(first) and (tmp_path / "city_budget_secret").exists()
    finally:
        get_settings.cache_clear()


def test_city_sim_names_bad_port_and_envelope_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HANGANG_CITY_BUDGET_SECRET", signing.new_secret())
    assert _run(["city-sim", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert _run(["city-sim", "--envelopes", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the envelopes file" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{nope")
    assert _run(["city-sim", "--envelopes", str(tmp_path / "bad.json")]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_push_refuses_a_non_positive_interval(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["push", "--interval", "0"]) == 2
    assert "--interval" in capsys.readouterr().out


def test_verify_export_names_a_missing_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["verify-export", str(tmp_path / "nothing")]) == 1
    assert "does not exist" in capsys.readouterr().out


def test_loopback_detection() -> None:
    from portal.connector.city_sim.app import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert (
        not is_loopback("0.0.0.0")
        and not is_loopback("10.1.2.3")
        and not is_loopback("city.example.kr")
    )


def _signed_award(secret: str) -> dict[str, bytes]:
    from datetime import UTC, datetime

    from portal.connector import exports
    from portal.connector.testing import sample_award

    payload = sample_award()
    return exports.build_bundle(
        exports.batch_files("award", payload), signing.parse_secrets(secret), "k1", "head", "award",
        payload["batch_id"], payload["revision"], datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_verify_export_never_creates_a_key(tmp_path, monkeypatch, capsys):
    """Outside the repository, with no key anywhere, it says so (exit 2) and writes nothing."""
    from portal.connector import exports

    secret = signing.new_secret()
    bundle = _signed_award(secret)
    folder = exports.write_bundle(tmp_path / "bundle", bundle)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HANGANG_VAR_DIR", str(elsewhere / "var"))
    monkeypatch.delenv("HANGANG_CITY_BUDGET_SECRET", raising=False)

    assert _run(["verify-export", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "no key to check the signature with" in err and "--key" in err
    assert list(elsewhere.iterdir()) == []  # no ./var/, no key files

    assert _run(["verify-export", str(folder), "--key", secret]) == 0
    assert capsys.readouterr().out == "ok\n"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(secret + "\n"))
    assert _run(["verify-export", str(folder), "--key", "-"]) == 0
    monkeypatch.setenv("HANGANG_CITY_BUDGET_SECRET", secret)  # from the settings' environment
    assert _run(["verify-export", str(folder)]) == 0
    capsys.readouterr()

    other = signing.new_secret()
    assert _run(["verify-export", str(folder), "--key", other]) == 1
    captured = capsys.readouterr()
    assert "signature does not match" in captured.out and "--key" in captured.err
    assert _run(["verify-export", str(folder), "--key", "not-a-secret"]) == 2
    assert "unusable" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_verify_export_reads_the_development_key_kept_under_var(tmp_path, monkeypatch, capsys):
    from portal.connector import exports

    secret = signing.new_secret()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "city_budget_secret").write_text(secret)
    monkeypatch.setenv("HANGANG_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HANGANG_CITY_BUDGET_SECRET", raising=False)
    bundle = _signed_award(secret)
    folder = exports.write_bundle(tmp_path / "bundle", bundle)
    assert _run(["verify-export", str(folder)]) == 0
    assert "development key" in capsys.readouterr().err
