"""Integration fixtures: migrated database emptied before each test, the app, clients and accounts."""

from __future__ import annotations

import asyncio

import pytest

from portal import clock
from portal.db import is_postgres
from tests.helpers import PortalClient, UserFactory, all_tables


@pytest.fixture(scope="session", autouse=True)
def migrated_database():
    """Apply every migration once per run, exactly as ``hangang migrate`` does."""
    from portal.commands import migrate

    asyncio.run(migrate())
    yield


async def _empty_postgres(tables: list) -> None:
    """Delete every row and restart the tables' sequences, as ``TRUNCATE ... RESTART IDENTITY`` would.

    TRUNCATE of all the tables gives each table and index a new file: 0.5 to 3 s per test on a 2-core
    machine, a third of the PostgreSQL pass. A test writes to a few tables: one query finds them, and
    DELETE empties them (every foreign key cascades, so the order does not matter; referencing tables
    go first anyway, which leaves nothing to cascade).
    """
    from piccolo.table import sort_table_classes

    from portal.db import raw
    from portal.piccolo_conf import DB

    try:
        tables = sort_table_classes(tables)  # referenced tables first
    except Exception:  # a cycle of references: any order empties them
        pass
    names = [t._meta.tablename for t in tables]
    probe = " UNION ALL ".join(
        f'SELECT {i} AS i WHERE EXISTS (SELECT 1 FROM "{name}")'  # noqa: S608 - our table names
        for i, name in enumerate(names)
    )
    used = sorted((row["i"] for row in await raw(probe)), reverse=True)
    async with DB.transaction():
        for i in used:
            await raw(f'DELETE FROM "{names[i]}"')  # noqa: S608 - our table names
        # The sequences of these tables' serial and identity columns that were used (not the migrations').
        await raw(
            "SELECT setval(s.oid, 1, false) FROM pg_class s"
            " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " WHERE s.relkind = 'S' AND t.relname = ANY({})"
            " AND CASE WHEN s.relkind = 'S' THEN pg_sequence_last_value(s.oid) END IS NOT NULL",
            names,
        )


@pytest.fixture(autouse=True)
async def clean_database(migrated_database):
    """Every test starts from empty tables and the real clock."""
    clock.reset()
    tables = all_tables()
    if is_postgres():
        await _empty_postgres(tables)
    else:
        # One connection for the whole clean-up: the pragma is per connection.
        from portal.piccolo_conf import DB

        connection = await DB.get_connection()
        try:
            await connection.execute("PRAGMA foreign_keys=OFF")
            for table in tables:
                await connection.execute(f'DELETE FROM "{table._meta.tablename}"')  # noqa: S608 - our table names
            await connection.commit()
            await connection.execute("PRAGMA foreign_keys=ON")
        finally:
            await connection.close()
    from portal.mail import development_outbox

    development_outbox.clear()
    yield
    clock.reset()


# Apps already built in this process, by the settings they were built with.
_APPS: dict = {}


@pytest.fixture
def app():
    """The portal app, built once per process for each set of settings.

    Building it registers some 1,400 route handlers (0.6 s of CPU): once per test, that was a fifth of
    the suite. The app keeps no state of its own between requests (sessions, throttles and everything
    else live in the database, which ``clean_database`` empties), and a test that changes the settings
    (an environment variable, then ``get_settings.cache_clear()``) gets an app built with the new ones.
    """
    from portal.app import create_app
    from portal.settings import get_settings

    settings = get_settings()
    if settings not in _APPS:
        _APPS[settings] = create_app(run_background_tasks=False)
    return _APPS[settings]


@pytest.fixture
async def client(app):
    """An anonymous browser-like client talking to the app in-process (same event loop)."""
    async with PortalClient.for_app(app) as c:
        yield c


@pytest.fixture
def users():
    return UserFactory()


async def _signed_in(app, users, roles: list[str], **options):
    """A client logged in as a new account with ``roles`` (the account is ``client.account``)."""
    account = await users.create(roles=roles, **options)
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        yield c


@pytest.fixture
async def citizen(app, users):
    """A verified resident of Gangnam-gu, logged in."""
    async for c in _signed_in(app, users, ["citizen"], district="11680", verified=True):
        yield c


@pytest.fixture
async def official(app, users):
    async for c in _signed_in(app, users, ["official"]):
        yield c


@pytest.fixture
async def official2(app, users):
    """A second, different official (two-person approvals)."""
    async for c in _signed_in(app, users, ["official"]):
        yield c


@pytest.fixture
async def judge(app, users):
    async for c in _signed_in(app, users, ["judge"]):
        yield c


@pytest.fixture
async def startup(app, users):
    async for c in _signed_in(app, users, ["startup", "citizen"]):
        yield c


@pytest.fixture
async def connection_pool():
    """PostgreSQL: a pool on this test's loop (the app runs on it too), as a server has; tests that send
    thousands of requests would otherwise open a connection for every query."""
    from portal import db

    await db.start_pool()
    yield
    await db.close_pool()
