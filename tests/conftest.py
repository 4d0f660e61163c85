"""Test harness, shared part: one engine per run (SQLite by default, PostgreSQL when HANGANG_DATABASE_URL says so).

The environment must be set before any ``tables`` module is imported, because
Piccolo binds each table to its engine when the class is created.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _own_postgres_database(url: str, worker: str) -> str:
    """A fresh database ``<name>_<worker>`` beside ``url``'s, so parallel workers never share tables."""
    import asyncio
    from urllib.parse import urlparse

    import asyncpg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hangang'}_{worker}"

    async def create() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return parts._replace(path=f"/{name}").geturl()


# Each process has its own folder, so its own SQLite file and var dir. pytest-xdist workers ("gw0", ...)
# inherit the controller's environment, its SQLite path included: they take their own file, or their own
# PostgreSQL database, before any table is imported.
_TMP = Path(tempfile.mkdtemp(prefix="hangang-test-"))
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_URL = os.environ.get("HANGANG_DATABASE_URL", "")
if _URL.startswith(("postgres://", "postgresql://")):
    if _WORKER:
        os.environ["HANGANG_DATABASE_URL"] = _own_postgres_database(_URL, _WORKER)
elif not _URL or _WORKER:
    os.environ["HANGANG_DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite3'}"
os.environ["HANGANG_VAR_DIR"] = str(_TMP / "var")
os.environ["HANGANG_ENV"] = "development"
os.environ.setdefault("HANGANG_SECRET_KEY", "test-secret-key-that-is-long-enough-for-hmac-0123456789")
# One audit key for the test process and every `hangang` it starts (restores verify the chain with it).
os.environ.setdefault("HANGANG_AUDIT_KEY", "test-audit-key-kept-outside-the-database-0123456789")
os.environ.setdefault("HANGANG_CITY_BUDGET_SECRET", "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1jaXR5LWJ1ZGdldA==")

import pytest  # noqa: E402

import portal  # noqa: E402,F401  (sets PICCOLO_CONF)
from portal.db import is_postgres  # noqa: E402

ENGINE = "postgres" if is_postgres() else "sqlite"


def _remember_argon2_work() -> None:
    """Hash each password once per process, and verify each (hash, password) pair once.

    The portal hashes with argon2id at its real parameters (m=20 MiB, t=2): about 60 ms of CPU for a
    hash and as much for a verification, and the tests create and sign in thousands of accounts with a
    handful of passwords. The stored hashes stay real argon2id hashes with the portal's parameters (the
    tests check them), and a verification gives argon2's own answer; only an account created with a
    password already hashed in this process gets the same salt as the one before. Counting tests still
    count calls: they wrap these methods.
    """
    import argon2

    hash_once, verify_once = argon2.PasswordHasher.hash, argon2.PasswordHasher.verify
    hashes: dict[tuple, str] = {}
    verdicts: dict[tuple, tuple[bool, BaseException | None]] = {}

    def remembered_hash(self, password, *, salt=None):
        if salt is not None:
            return hash_once(self, password, salt=salt)
        key = (self.time_cost, self.memory_cost, self.parallelism, self.hash_len, self.salt_len, self.type,
               self.encoding, password)
        if key not in hashes:
            hashes[key] = hash_once(self, password)
        return hashes[key]

    def remembered_verify(self, hash, password):
        key = (hash, password, self.encoding)
        if key not in verdicts:
            try:
                verdicts[key] = (verify_once(self, hash, password), None)
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError) as error:
                verdicts[key] = (False, error)
        verdict, error = verdicts[key]
        if error is not None:
            raise type(error)(*error.args)
        return verdict

    argon2.PasswordHasher.hash = remembered_hash
    argon2.PasswordHasher.verify = remembered_verify


_remember_argon2_work()


def pytest_collection_modifyitems(config, items):
    # The long tests (marked slow) first: with `-n 2 --dist worksteal` (scripts/test.sh) they start at
    # once, and the short ones fill in around them, so both workers finish together.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    for item in items:
        if ENGINE == "sqlite" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only test; runs in the PostgreSQL pass"))
        if ENGINE == "postgres" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite-only test; runs in the SQLite pass"))


def pytest_report_header(config):
    return f"hangang database engine: {ENGINE} ({os.environ['HANGANG_DATABASE_URL'].split('@')[-1]})"
