"""An SQLite engine that reuses connections.

Piccolo's ``SQLiteEngine`` opens a new connection (and aiosqlite worker thread) for
every query outside a transaction, and re-sends ``PRAGMA foreign_keys`` before every
query inside one. Reusing a few open connections per event loop makes a simple
select several times cheaper; everything else is Piccolo's own code path.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

MAX_IDLE_CONNECTIONS = 8


class PooledConnection:
    """An aiosqlite connection whose ``close()`` returns it to the pool."""

    def __init__(self, engine: PooledSQLiteEngine, raw: aiosqlite.Connection):
        self._engine = engine
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    async def close(self) -> None:
        await self._engine.release(self._raw)


class PooledSQLiteEngine(SQLiteEngine):
    """``SQLiteEngine`` with a small per-event-loop pool of open connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[aiosqlite.Connection]] = (
            weakref.WeakKeyDictionary()
        )

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # An idle pooled connection holds nothing uncommitted, so its worker thread must not
        # keep the process alive at exit (the CLI and test runs would hang otherwise).
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def acquire(self) -> aiosqlite.Connection:
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        return idle.pop() if idle else await self._open()

    async def release(self, connection: aiosqlite.Connection) -> None:
        if connection.in_transaction:
            await connection.rollback()  # never hand a half-finished transaction to the next user
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        if len(idle) < MAX_IDLE_CONNECTIONS:
            idle.append(connection)
        else:
            await connection.close()

    async def close_idle(self) -> None:
        """Close this event loop's idle connections (at shutdown)."""
        idle = self._idle.pop(asyncio.get_running_loop(), [])
        for connection in idle:
            await connection.close()

    async def get_connection(self) -> PooledConnection:  # type: ignore[override]
        """Used by Piccolo's transactions, which ``close()`` the connection when done."""
        return PooledConnection(self, await self.acquire())

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ):
        connection = await self.acquire()
        try:
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                rows = await cursor.fetchall()
        except sqlite3.Error:
            await self.release(connection)  # a failed statement leaves the connection usable
            raise
        except BaseException:
            await connection.close()  # cancelled mid-query: do not reuse
            raise
        await self.release(connection)
        return rows

    async def _run_in_existing_connection(
        self, connection: Any, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ):
        # The pragma was set when the connection was opened; Piccolo re-sends it on every query.
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()
