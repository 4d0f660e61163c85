"""Piccolo configuration: the engine comes from ``HANGANG_DATABASE_URL``.

Tables bind to ``DB`` when their class is created, so the environment must be
set before any ``tables`` module is imported (the CLI and tests do this first).
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from portal import manifest
from portal.settings import get_settings
from portal.sqlite_pool import PooledSQLiteEngine

# The core's own Piccolo app; each domain's comes from its manifest (see portal.manifest).
CORE_APPS = ["portal.piccolo_app"]


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


DB = _engine_from_url(get_settings().database_url)
APP_REGISTRY = AppRegistry(apps=[*CORE_APPS, *manifest.piccolo_apps()])
