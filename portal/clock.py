"""The server clock. Every rule that depends on time asks here, so tests can move it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")  # shown on every page; the database keeps UTC

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


def format_datetime(value: dt.datetime | None) -> str:
    """UTC in the database, Asia/Seoul on screen and in mails: ``2027-03-31 18:00 KST``."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M KST")
