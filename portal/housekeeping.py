"""Periodic clean-up every worker runs: expired sessions and stale throttle counters."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from portal import clock
from portal.sessions import purge_expired_sessions
from portal.tables import LoginThrottle

INTERVAL_SECONDS = 600
log = logging.getLogger("hangang.housekeeping")


async def purge_stale_throttles() -> int:
    """Forget failure counters a day after their last failure (no permanent lockout)."""
    cutoff = clock.now() - dt.timedelta(days=1)
    rows = await LoginThrottle.delete().where(LoginThrottle.updated_at < cutoff).returning(LoginThrottle.id)
    return len(rows)


async def housekeeping_loop(stop: asyncio.Event) -> None:
    """Run the clean-ups now and then until the server stops; a failure is logged and retried later."""
    while not stop.is_set():
        try:
            sessions = await purge_expired_sessions()
            throttles = await purge_stale_throttles()
            if sessions or throttles:
                log.info("housekeeping removed %s sessions and %s throttle rows", sessions, throttles)
        except Exception:  # noqa: BLE001 - a busy database must not kill the worker
            log.exception("housekeeping failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=INTERVAL_SECONDS)
