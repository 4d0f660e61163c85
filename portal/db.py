"""Database plumbing shared by every domain: write transactions, startup checks, pools."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import weakref
import zlib
from collections.abc import AsyncIterator
from string import Formatter

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import TransactionType
from piccolo.querystring import QueryString

from portal.piccolo_conf import DB

# SQLite allows one writer at a time. Queueing writers inside the process is far
# cheaper than letting them spin on SQLITE_BUSY (p99 1.5 s -> 0.25 s measured).
_sqlite_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def raw(sql: str, *args: object) -> list[dict]:
    """Run one SQL statement (``{}`` placeholders) in the current transaction, if any.

    On PostgreSQL the statement's ``$n`` form is compiled once per SQL text and handed to asyncpg (whose
    statement cache prepares it once per connection); Piccolo's ``QueryString`` re-parsed the text on
    every call, a visible share of the CPU of the two lookups every signed-in request makes.
    """
    if isinstance(DB, PostgresEngine):
        compiled = _postgres_form(sql)
        if compiled is not None and compiled[1] == len(args) and not any(isinstance(a, QueryString) for a in args):
            transaction = DB.current_transaction.get()
            if transaction:
                return await transaction.connection.fetch(compiled[0], *args)
            if DB.pool:
                async with DB.pool.acquire() as connection:
                    return await connection.fetch(compiled[0], *args)
    return await DB.run_querystring(QueryString(sql, *args)) or []


_POSTGRES_FORMS: dict[str, tuple[str, int] | None] = {}


def _postgres_form(sql: str) -> tuple[str, int] | None:
    """``sql`` with its ``{}`` placeholders as ``$1..$n`` (parsed as ``QueryString`` does), and n; cached.
    None for anything but plain ``{}`` fields."""
    if sql in _POSTGRES_FORMS:
        return _POSTGRES_FORMS[sql]
    parts: list[str] = []
    count = 0
    form: tuple[str, int] | None = None
    for literal, field, spec, conversion in Formatter().parse(sql):
        parts.append(literal)
        if field is None:
            continue
        if field or spec or conversion:
            break
        count += 1
        parts.append(f"${count}")
    else:
        form = ("".join(parts), count)
    if len(_POSTGRES_FORMS) < 5000:  # statements built with a varying number of placeholders stay bounded
        _POSTGRES_FORMS[sql] = form
    return form


def is_postgres() -> bool:
    return isinstance(DB, PostgresEngine)


def _write_lock() -> asyncio.Lock:
    """One lock per event loop (tests run many loops in one process)."""
    loop = asyncio.get_running_loop()
    lock = _sqlite_write_locks.get(loop)
    if lock is None:
        lock = _sqlite_write_locks[loop] = asyncio.Lock()
    return lock


_writer_lock_fd: int | None = None


@contextlib.asynccontextmanager
async def _sqlite_writers_take_turns() -> AsyncIterator[None]:
    """Queue the writers of every process on one kernel file lock beside the database.

    SQLite's own busy handler makes a waiting process sleep and poll (up to 100 ms at a
    time), so with several workers one can starve for seconds; a file lock wakes the next
    writer as soon as the previous one commits.
    """
    global _writer_lock_fd
    if _writer_lock_fd is None:
        _writer_lock_fd = os.open(f"{DB.path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
    await asyncio.to_thread(fcntl.flock, _writer_lock_fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(_writer_lock_fd, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def write_transaction(lock_key: str | None = None) -> AsyncIterator[None]:
    """Run a read-then-write unit of work atomically on either engine.

    Args:
        lock_key: on PostgreSQL, also take a transaction-scoped advisory lock on
            this key so that rules checked inside (a budget cap, a chain head)
            hold against concurrent writers. SQLite's IMMEDIATE transaction
            already serializes all writers.
    """
    if is_postgres():
        async with DB.transaction():
            if lock_key is not None:
                await raw("SELECT pg_advisory_xact_lock({})", advisory_key(lock_key))
            yield
        return
    async with _write_lock(), _sqlite_writers_take_turns():
        async with DB.transaction(transaction_type=TransactionType.immediate):
            yield


def advisory_key(name: str) -> int:
    """A stable signed 32-bit key for ``pg_advisory_xact_lock``."""
    return zlib.crc32(name.encode()) - 2**31


async def check_durability() -> list[str]:
    """Return problems that would let an acknowledged write vanish in a crash (A3)."""
    problems: list[str] = []
    if is_postgres():
        for setting, wanted in (("fsync", "on"), ("synchronous_commit", "on")):
            rows = await raw(f"SHOW {setting}")
            value = next(iter(rows[0].values())) if rows else None
            if value != wanted:
                problems.append(f"PostgreSQL {setting} is {value!r}, expected {wanted!r}")
        return problems
    journal = (await raw("PRAGMA journal_mode"))[0]["journal_mode"]
    if journal.lower() != "wal":
        problems.append(f"SQLite journal_mode is {journal!r}, expected 'wal'")
    synchronous = (await raw("PRAGMA synchronous"))[0]["synchronous"]
    if int(synchronous) < 2:
        problems.append(f"SQLite synchronous is {synchronous}, expected 2 (FULL) or 3 (EXTRA)")
    return problems


async def prepare_sqlite() -> None:
    """Switch an SQLite file to WAL once (the mode is stored in the file)."""
    if not is_postgres():
        await raw("PRAGMA journal_mode=WAL")


async def _keep_session(connection: object) -> None:
    """Give a connection back to the pool without asyncpg's reset statement.

    asyncpg's default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) is one
    more round trip after every query outside a transaction: 2.5 of the 6.4 statements of a cast
    (measured with bench/cast_cost.py). Nothing here leaves session state behind: advisory locks are
    transaction-scoped (``pg_advisory_xact_lock``), and there are no session ``SET``s, cursors or
    ``LISTEN``s. asyncpg still rolls back a transaction left open before this runs.
    """


async def start_pool() -> None:
    if is_postgres():
        await DB.start_connection_pool(min_size=2, max_size=16, reset=_keep_session)


async def close_pool() -> None:
    if is_postgres():
        await DB.close_connection_pool()
    else:
        await DB.close_idle()


async def ping() -> bool:
    """True when the database answers a trivial query."""
    try:
        await raw("SELECT 1")
    except Exception:  # health checks report, they do not raise
        return False
    return True
