"""The closing reminder: a scheduled check that tells a cycle's followers, once, that voting closes soon."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from portal import clock
from portal.settings import get_settings
from voting.services.announcements import remind_closing
from voting.tables import Cycle

log = logging.getLogger("hangang.voting")
REMINDER_INTERVAL_SECONDS = 300


async def remind_closing_cycles() -> int:
    """Remind the followers of every cycle whose voting closes within the configured hours; returns how many."""
    now = clock.now()
    lead = dt.timedelta(hours=get_settings().closing_reminder_hours)
    reminded = 0
    for cycle in await Cycle.select().where((Cycle.state == "voting") & Cycle.closed_early_at.is_null()):
        if cycle["voting_close_at"] - lead <= now < cycle["voting_close_at"]:
            reminded += await remind_closing(cycle)
    return reminded


async def closing_reminder_loop(stop: asyncio.Event) -> None:
    """Every few minutes, remind followers of cycles about to close (once per cycle)."""
    while not stop.is_set():
        try:
            reminded = await remind_closing_cycles()
            if reminded:
                log.info("reminded the followers of %s cycles that voting closes soon", reminded)
        except Exception:  # a busy database must not kill the worker
            log.exception("closing reminders failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REMINDER_INTERVAL_SECONDS)
