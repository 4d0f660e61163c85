"""Periodic clean-up every worker runs: expired sessions and stale throttle counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portal import clock
from portal.sessions import purge_expired_sessions
from portal.tables import LoginThrottle

INTERVAL_SECONDS = 600
log = logging.getLogger("hangang.housekeeping")


async def purge_stale_throttles() -> int:
    """Forget counters once they no longer count (no permanent lockout): an account's a day after its
    last failure, a client's minutes after its last failure, a reset window once it has ended."""
    from portal.login import ACCOUNT_FAILURE_WINDOW, ADDRESS_FAILURE_WINDOW

    now = clock.now()
    account_rows = LoginThrottle.key.like("account:%")
    stale_account = account_rows & (LoginThrottle.updated_at < now - ACCOUNT_FAILURE_WINDOW)
    stale_client = LoginThrottle.key.like("address:%") & (LoginThrottle.updated_at < now - ADDRESS_FAILURE_WINDOW)
    stale_client &= LoginThrottle.blocked_until.is_null() | (LoginThrottle.blocked_until < now)
    ended_window = LoginThrottle.key.like("reset-%") & (LoginThrottle.blocked_until < now)
    rows = await LoginThrottle.delete().where(stale_account | stale_client | ended_window).returning(LoginThrottle.id)
    return len(rows)


async def housekeeping_loop(stop: asyncio.Event) -> None:
    """Run the clean-ups now and then until the server stops; a failure is logged and retried later."""
    while not stop.is_set():
        try:
            sessions = await purge_expired_sessions()
            throttles = await purge_stale_throttles()
            if sessions or throttles:
                log.info("housekeeping removed %s sessions and %s throttle rows", sessions, throttles)
        except Exception:  # a busy database must not kill the worker
            log.exception("housekeeping failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=INTERVAL_SECONDS)
