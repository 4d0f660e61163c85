"""Test harness: one engine per run (SQLite by default, PostgreSQL when HANGANG_DATABASE_URL says so).

The environment must be set before any ``tables`` module is imported, because
Piccolo binds each table to its engine when the class is created.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="hangang-test-"))
if not os.environ.get("HANGANG_DATABASE_URL"):
    os.environ["HANGANG_DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite3'}"
os.environ["HANGANG_VAR_DIR"] = str(_TMP / "var")
os.environ["HANGANG_ENV"] = "development"
os.environ.setdefault("HANGANG_SECRET_KEY", "test-secret-key-that-is-long-enough-for-hmac-0123456789")
os.environ.setdefault("HANGANG_CITY_BUDGET_SECRET", "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1jaXR5LWJ1ZGdldA==")

import asyncio  # noqa: E402

import pytest  # noqa: E402

import portal  # noqa: E402,F401  (sets PICCOLO_CONF)
from portal import clock  # noqa: E402
from portal.db import is_postgres  # noqa: E402
from tests.helpers import PortalClient, UserFactory, all_tables  # noqa: E402

ENGINE = "postgres" if is_postgres() else "sqlite"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if ENGINE == "sqlite" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only test; runs in the PostgreSQL pass"))
        if ENGINE == "postgres" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite-only test; runs in the SQLite pass"))


def pytest_report_header(config):
    return f"hangang database engine: {ENGINE} ({os.environ['HANGANG_DATABASE_URL'].split('@')[-1]})"


@pytest.fixture(scope="session", autouse=True)
def migrated_database():
    """Apply every migration once per run, exactly as ``hangang migrate`` does."""
    from portal.commands import migrate

    asyncio.run(migrate())
    yield


@pytest.fixture(autouse=True)
async def clean_database(migrated_database):
    """Every test starts from empty tables and the real clock."""
    from portal.db import raw

    clock.reset()
    tables = all_tables()
    if is_postgres():
        names = ", ".join(f'"{t._meta.tablename}"' for t in tables)
        await raw(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        await raw("PRAGMA foreign_keys=OFF")
        for table in tables:
            await raw(f'DELETE FROM "{table._meta.tablename}"')
    from portal.mail import development_outbox

    development_outbox.sent.clear()
    yield
    clock.reset()


@pytest.fixture
def app():
    from portal.app import create_app

    return create_app(run_background_tasks=False)


@pytest.fixture
async def client(app):
    """An anonymous browser-like client talking to the app in-process (same event loop)."""
    async with PortalClient.for_app(app) as c:
        yield c


@pytest.fixture
def users():
    return UserFactory()


@pytest.fixture
async def citizen(app, users):
    """A verified resident of Gangnam-gu, logged in."""
    account = await users.create(roles=["citizen"], district="11680", verified=True)
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        c.account = account
        yield c


@pytest.fixture
async def official(app, users):
    account = await users.create(roles=["official"])
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        c.account = account
        yield c


@pytest.fixture
async def official2(app, users):
    account = await users.create(roles=["official"])
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        c.account = account
        yield c


@pytest.fixture
async def judge(app, users):
    account = await users.create(roles=["judge"])
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        c.account = account
        yield c


@pytest.fixture
async def startup(app, users):
    account = await users.create(roles=["startup", "citizen"])
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        c.account = account
        yield c
