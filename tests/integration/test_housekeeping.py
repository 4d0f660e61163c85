"""Expired sessions and stale throttle counters are removed by the housekeeping loop."""

from __future__ import annotations

import asyncio
import datetime as dt

from portal import clock
from portal.housekeeping import housekeeping_loop
from portal.tables import LoginThrottle, SessionRecord


async def test_housekeeping_removes_expired_sessions_and_old_counters():
    now = clock.now()
    await SessionRecord.insert(
        SessionRecord(key="old", data=b"{}", expires_at=now - dt.timedelta(minutes=1)),
        SessionRecord(key="live", data=b"{}", expires_at=now + dt.timedelta(hours=1)),
    )
    await LoginThrottle.insert(
        LoginThrottle(key="account:a", failures=3, updated_at=now - dt.timedelta(days=2)),
        LoginThrottle(key="account:b", failures=3, updated_at=now),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(housekeeping_loop(stop))
    for _ in range(50):
        if not await SessionRecord.exists().where(SessionRecord.key == "old"):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert [r["key"] for r in await SessionRecord.select(SessionRecord.key)] == ["live"]
    assert [r["key"] for r in await LoginThrottle.select(LoginThrottle.key)] == ["account:b"]
