"""Unit tests: pure computation, no database.

The PostgreSQL pass of scripts/test.sh leaves this folder out (the engine changes nothing here), so a
unit test that opens a database connection fails: such a test belongs under tests/integration, where it
runs on both engines.
"""

from __future__ import annotations

import aiosqlite
import asyncpg
import pytest


def _refuse(*args, **kwargs):
    raise AssertionError(
        "a unit test opened a database connection: move it to tests/integration (it runs on both engines)"
    )


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """The portal's engines connect through aiosqlite and asyncpg. (The city simulator's own ledger, a
    separate service's storage whatever the portal runs on, uses sqlite3 and stays allowed.)"""
    for module, name in ((aiosqlite, "connect"), (asyncpg, "connect"), (asyncpg, "create_pool")):
        monkeypatch.setattr(module, name, _refuse)
