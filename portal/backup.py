"""``hangang backup DEST`` and ``hangang restore SRC``: the whole database, uploads included.

SQLite is copied with its online backup API (a consistent snapshot while the portal keeps
serving); PostgreSQL with ``pg_dump`` in custom format, restored with ``pg_restore``. Uploads
are rows of ``portal_file``, so they are in the backup too. docs/operations.md says how to
schedule backups and how to restore.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"

# Counts printed after a restore, contributed by the domains (``@counted``).
Counts = list[tuple[str, int]]
_COUNTERS: list[Callable[[], Awaitable[Counts]]] = []


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def counted(counter: Callable[[], Awaitable[Counts]]) -> Callable[[], Awaitable[Counts]]:
    """Register a coroutine returning (label, count) pairs to print after a restore."""
    _COUNTERS.append(counter)
    return counter


def _sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///").removeprefix("sqlite://"))


def _is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql://"))


def pg_tool(name: str) -> str:
    """``pg_dump`` or ``pg_restore``: from ``pg_config --bindir`` first, else from PATH."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(found.stdout.strip()) / name
        if found.returncode == 0 and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise BackupError(
        f"{name} was not found (neither in `pg_config --bindir` nor on PATH): "
        "install PostgreSQL's client programs, the same major version as the server or newer."
    )


def _pg_connection(database_url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL tools; the password goes by environment, not argv."""
    parts = urlparse(database_url)
    args = [
        "--host", parts.hostname or "127.0.0.1",
        "--port", str(parts.port or 5432),
        "--username", unquote(parts.username or "postgres"),
        "--dbname", parts.path.lstrip("/") or "hangang",
    ]  # fmt: skip
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return args, env


def _fsync_and_move(partial: Path, destination: Path) -> None:
    """Make the finished copy durable, then give it its name: a crash never leaves a half backup named DEST."""
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(destination)
    folder = os.open(destination.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def backup_database(database_url: str, destination: Path) -> str:
    """Write a consistent copy of the database to ``destination``; returns what was done."""
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose a new file name (e.g. with the date).")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    if _is_postgres(database_url):
        args, env = _pg_connection(database_url)
        done = subprocess.run(
            [pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", *args],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        kind = "PostgreSQL custom-format dump (pg_dump)"
    else:
        source_path = _sqlite_path(database_url)
        if not source_path.is_file():
            raise BackupError(f"There is no SQLite database at {source_path}.")
        source = sqlite3.connect(source_path)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # one step: a consistent snapshot, writers keep going (WAL)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            problem = copy.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            copy.close()
            source.close()
        if problem != "ok":
            partial.unlink(missing_ok=True)
            raise BackupError(f"The copy failed SQLite's check: {problem}")
        kind = "SQLite database file (online backup API)"
    _fsync_and_move(partial, destination)
    return f"Backed up to {destination} ({destination.stat().st_size} bytes, {kind})."


def _backup_engine(source: Path) -> str:
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    with source.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgres"
    raise BackupError(f"{source} is not a backup made by `hangang backup` (neither SQLite nor pg_dump).")


async def _postgres_tables() -> int:
    from portal.db import raw

    rows = await raw(
        "SELECT count(*) AS n FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    return int(rows[0]["n"])


def _sqlite_tables(path: Path) -> int:
    if not path.exists():
        return 0
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    finally:
        connection.close()


async def restore_database(database_url: str, source: Path) -> str:
    """Load a backup into the (empty) database of ``database_url``; refuse anything else."""
    engine = _backup_engine(source)
    target = "postgres" if _is_postgres(database_url) else "sqlite"
    if engine != target:
        names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
        raise BackupError(
            f"{source} is a {names[engine]} backup but HANGANG_DATABASE_URL points to "
            f"{names[target]}: restore it into a {names[engine]} database."
        )
    if target == "postgres":
        try:
            tables = await _postgres_tables()
        except Exception as exc:  # any connection failure is reported as such
            raise BackupError(f"Could not open the target database: {exc}") from exc
    else:
        tables = _sqlite_tables(_sqlite_path(database_url))
    if tables:
        raise BackupError(
            f"The target database is not empty ({tables} tables). Restore only into an empty "
            "database: create a new one (createdb, or a new SQLite path in HANGANG_DATABASE_URL); "
            "nothing was changed."
        )
    if target == "postgres":
        args, env = _pg_connection(database_url)
        done = subprocess.run(
            [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
             "--exit-on-error", *args, str(source)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed (nothing was restored): {done.stderr.strip()}")
    else:
        path = _sqlite_path(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        restored = sqlite3.connect(path)
        try:
            problem = backup.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(f"{source} failed SQLite's check: {problem}")
            backup.backup(restored)
        finally:
            restored.close()
            backup.close()
    return f"Restored {source} into the {'PostgreSQL' if target == 'postgres' else 'SQLite'} database."


@counted
async def _portal_counts() -> Counts:
    from portal.tables import StoredFile, User

    return [("users", await User.count()), ("files", await StoredFile.count())]


async def restored_counts() -> Counts:
    """What every registered counter reports, for the operator to compare with the source."""
    counts: Counts = []
    for counter in _COUNTERS:
        counts.extend(await counter())
    return counts
