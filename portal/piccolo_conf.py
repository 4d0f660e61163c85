"""Piccolo configuration: the engine comes from ``HANGANG_DATABASE_URL``.

Tables bind to ``DB`` when their class is created, so the environment must be
set before any ``tables`` module is imported (the CLI and tests do this first).
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from portal.settings import get_settings
from portal.sqlite_pool import PooledSQLiteEngine

# Each domain is one Piccolo app; add a line when a domain gets tables.
APPS = [
    "portal.piccolo_app",
    "proposals.piccolo_app",
    "voting.piccolo_app",
    "judging.piccolo_app",
    "portal.connector.piccolo_app",
]


def _engine_from_url(url: str):
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlparse(url)
        return PostgresEngine(
            config={
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "user": unquote(parts.username or "postgres"),
                "password": unquote(parts.password or ""),
                "database": parts.path.lstrip("/") or "hangang",
            },
            log_queries=False,
        )
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    # Busy timeout: concurrent workers wait for the write lock instead of failing.
    return PooledSQLiteEngine(path=path, timeout=30)


def _registered_apps() -> list[str]:
    """Apps whose module exists (domains land one by one)."""
    import importlib.util

    found = []
    for name in APPS:
        try:
            if importlib.util.find_spec(name) is not None:
                found.append(name)
        except ModuleNotFoundError:
            continue
    return found


DB = _engine_from_url(get_settings().database_url)
APP_REGISTRY = AppRegistry(apps=_registered_apps())
