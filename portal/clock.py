"""The server clock. Every rule that depends on time asks here, so tests can move it."""

from __future__ import annotations

import datetime as dt

_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """The current UTC time, aware."""
    return dt.datetime.now(dt.UTC) + _offset


def advance(delta: dt.timedelta) -> None:
    """Move the clock forward (tests and rehearsals only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = dt.timedelta(0)
