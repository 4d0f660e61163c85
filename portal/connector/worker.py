"""``hangang push``: deliver due outbox batches from cron (``--once``) or as a standalone loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from portal.connector.client import close_shared_http_client


def _lease_seconds() -> float:
    """The lease a worker takes on a batch; shorter only for rehearsals and tests."""
    from portal.connector.delivery import DEFAULT_LEASE_SECONDS

    raw = os.environ.get("HANGANG_CONNECTOR_LEASE_SECONDS", "")
    try:
        return max(1.0, float(raw)) if raw else float(DEFAULT_LEASE_SECONDS)
    except ValueError:
        return float(DEFAULT_LEASE_SECONDS)


async def push_once() -> int:
    """One delivery round; prints a summary; exit code 1 if a batch failed for good."""
    from portal import db
    from portal.connector.delivery import deliver_due_batches

    await db.start_pool()
    try:
        report = await deliver_due_batches(lease_seconds=_lease_seconds())
    finally:
        await close_shared_http_client()
        await db.close_pool()
    print(report.summary(), flush=True)
    if report.problem:
        return 2
    return 1 if report.failed else 0


async def push_forever(interval: float) -> int:
    """Deliver until SIGINT or SIGTERM."""
    from portal import db
    from portal.connector.delivery import deliver_due_batches

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await db.start_pool()
    try:
        while not stop.is_set():
            report = await deliver_due_batches(lease_seconds=_lease_seconds())
            if report.delivered or report.failed or report.retrying or report.problem:
                print(report.summary(), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        await close_shared_http_client()
        await db.close_pool()
    return 0


def run_push_command(once: bool, interval: float) -> int:
    """Entry point of ``hangang push``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if interval <= 0:
        print("error: --interval must be positive")
        return 2
    return asyncio.run(push_once() if once else push_forever(interval))
