"""Outbox delivery: claim a due batch under a lease, push it outside any transaction, record the outcome.

A worker killed mid-push leaves a lease that expires, and the next worker pushes again with the same
Idempotency-Key, so the city applies the batch once. Officials are alerted when a batch fails for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from portal import audit, clock
from portal.connector import signing
from portal.connector.client import CityAbsence, CityClient, close_shared_http_client
from portal.connector.retries import (
    Attempt,
    CityError,
    CityRefused,
    CityUnavailable,
    RetryPolicy,
)
from portal.connector.settings import load_city_settings
from portal.connector.tables import OutboxAttempt, OutboxBatch, json_value
from portal.db import write_transaction

logger = logging.getLogger("portal.connector")

DEFAULT_LEASE_SECONDS = 300
# Between delivery rounds of a batch the city could not take: 30 s, doubling, at most 5 minutes.
ROUND_BASE_SECONDS = 30
ROUND_CAP_SECONDS = 5 * 60
LOOP_INTERVAL_SECONDS = 5.0
OUTBOX_LOCK = "connector-outbox"


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    problem: str | None = None

    def summary(self) -> str:
        """One line for logs and the push command."""
        text = (
            f"delivered {len(self.delivered)}, retrying later {len(self.retrying)}, "
            f"failed {len(self.failed)}, superseded {len(self.superseded)}"
        )
        return f"{text} ({self.problem})" if self.problem else text


def worker_name() -> str:
    """Who holds a lease: host and process id."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _due_condition(now: dt.datetime):
    return ((OutboxBatch.status == "pending") & (OutboxBatch.next_attempt_at <= now)) | (
        (OutboxBatch.status == "delivering") & (OutboxBatch.lease_until < now)
    )


async def claim_due_batch(
    worker: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> dict[str, Any] | None:
    """Take the lease on the most overdue batch; ``None`` when nothing is due.

    The claim runs in one serialised write transaction, so two workers never hold the same
    batch; an expired lease (a killed worker) makes the batch due again.
    """
    async with write_transaction(lock_key=OUTBOX_LOCK):
        now = clock.now()
        candidates = await (
            OutboxBatch.select()
            .where(_due_condition(now))
            .order_by(OutboxBatch.next_attempt_at)
            .limit(20)
        )
        for row in candidates:
            # Never push two revisions of one batch at once: the older one would meet a 409.
            busy = await OutboxBatch.exists().where(
                (OutboxBatch.kind == row["kind"])
                & (OutboxBatch.batch_id == row["batch_id"])
                & (OutboxBatch.id != row["id"])
                & (OutboxBatch.status == "delivering")
                & (OutboxBatch.lease_until >= now)
            )
            if busy:
                continue
            await OutboxBatch.update(
                {
                    OutboxBatch.status: "delivering",
                    OutboxBatch.lease_until: now + dt.timedelta(seconds=lease_seconds),
                    OutboxBatch.lease_owner: worker,
                    OutboxBatch.attempts: OutboxBatch.attempts + 1,
                }
            ).where(OutboxBatch.id == row["id"])
            row["attempts"] += 1
            return row
    return None


async def record_attempts(
    batch_pk: int, attempts: list[Attempt], worker: str, dry_run: bool
) -> None:
    """Keep every exchange with the city (dry runs included) in the batch's history."""
    for attempt in attempts:
        await OutboxAttempt.insert(
            OutboxAttempt(
                batch=batch_pk,
                started_at=attempt.started_at,
                method=attempt.method,
                path=attempt.path,
                status_code=attempt.status,
                latency_ms=attempt.latency_ms,
                error=(attempt.error or None) and attempt.error[:1000],
                dry_run=dry_run,
                worker=worker,
            )
        )


def _round_delay(rounds: int, retry_after: float | None) -> float:
    backoff = min(ROUND_CAP_SECONDS, ROUND_BASE_SECONDS * 2 ** max(0, rounds - 1))
    return max(backoff, retry_after or 0)


def _refusal_text(error: CityError) -> str:
    errors = getattr(error, "errors", None) or []
    return str(error) + ("".join(f"\n- {e}" for e in errors[:20]) if errors else "")


async def _finish(
    row: dict[str, Any],
    worker: str,
    updates: dict[Any, Any],
    attempts: list[Attempt],
    action: str,
    **details: Any,
) -> bool:
    """Record the outcome if this worker still holds the lease; False if another took over."""
    async with write_transaction(lock_key=OUTBOX_LOCK):
        await record_attempts(row["id"], attempts, worker, dry_run=False)
        current = (
            await OutboxBatch.select(OutboxBatch.lease_owner, OutboxBatch.status)
            .where(OutboxBatch.id == row["id"])
            .first()
        )
        if current is None or current["status"] != "delivering" or current["lease_owner"] != worker:
            logger.warning(
                "outbox batch %s: lease lost to another worker; outcome only logged", row["id"]
            )
            return False
        await OutboxBatch.update(
            {**updates, OutboxBatch.lease_until: None, OutboxBatch.lease_owner: None}
        ).where(OutboxBatch.id == row["id"])
        await audit.record(
            action,
            subject=f"outbox:{row['id']}",
            kind=row["kind"],
            batch_id=row["batch_id"],
            revision=row["revision"],
            **details,
        )
        return True


async def _fail(
    row: dict[str, Any],
    worker: str,
    details: str,
    reason: str,
    attempts: list[Attempt],
    report: DeliveryReport,
) -> None:
    """Stop delivering a batch for good, and tell the officials why."""
    label = f"{row['batch_id']}:{row['revision']}"
    if await _finish(
        row,
        worker,
        {OutboxBatch.status: "failed", OutboxBatch.last_error: details[:4000]},
        attempts,
        "connector.batch_failed",
        reason=reason[:300],
    ):
        await alert_officials(row["id"], label, reason)
    report.failed.append(label)


async def deliver_batch(
    row: dict[str, Any], client: CityClient, worker: str, report: DeliveryReport
) -> None:
    """Push one claimed batch and record what happened."""
    label = f"{row['batch_id']}:{row['revision']}"
    try:
        payload = json_value(row["payload"])
        signing.idempotency_key(str(payload["batch_id"]), int(payload["revision"]))
    except (ValueError, KeyError, TypeError, signing.SigningError) as exc:
        # A row edited by hand or damaged: never push it, show officials why.
        reason = f"the stored batch is unreadable ({type(exc).__name__}: {exc})"
        await _fail(row, worker, reason, reason, [], report)
        return
    try:
        outcome = await client.push(row["kind"], payload)
    except CityUnavailable as error:
        delay = _round_delay(row["attempts"], error.retry_after)
        await _finish(
            row,
            worker,
            {
                OutboxBatch.status: "pending",
                OutboxBatch.next_attempt_at: clock.now() + dt.timedelta(seconds=delay),
                OutboxBatch.last_error: str(error)[:2000],
            },
            error.attempts,
            "connector.batch_retry_scheduled",
            reason=str(error)[:300],
        )
        report.retrying.append(label)
        return
    except CityRefused as error:
        newer = await OutboxBatch.exists().where(
            (OutboxBatch.kind == row["kind"])
            & (OutboxBatch.batch_id == row["batch_id"])
            & (OutboxBatch.revision > row["revision"])
        )
        if error.status == 409 and newer:
            # A later approval already went out; this revision is simply obsolete.
            await _finish(
                row,
                worker,
                {OutboxBatch.status: "superseded", OutboxBatch.last_error: str(error)[:2000]},
                error.attempts,
                "connector.batch_superseded",
            )
            report.superseded.append(label)
            return
        await _fail(row, worker, _refusal_text(error), str(error), error.attempts, report)
        return
    except CityError as error:
        # Refused locally before any exchange (another host, bad settings): an official must act.
        await _fail(row, worker, str(error), str(error), error.attempts, report)
        return
    await _finish(
        row,
        worker,
        {
            OutboxBatch.status: "delivered",
            OutboxBatch.receipt: json.dumps(outcome.receipt),
            OutboxBatch.receipt_id: str(outcome.receipt.get("receipt_id", ""))[:100],
            OutboxBatch.delivered_at: clock.now(),
            OutboxBatch.last_error: None,
        },
        outcome.attempts,
        "connector.batch_delivered",
        receipt_id=outcome.receipt.get("receipt_id"),
        result=outcome.result,
    )
    report.delivered.append(label)


async def alert_officials(batch_pk: int, label: str, reason: str) -> None:
    """Tell every official, in the app and by mail, that a batch needs them."""
    from portal.accounts import notify_and_mail
    from portal.tables import User

    officials = await User.select(User.id).where(User.roles.like("%official%"))
    for official in officials:
        try:
            await notify_and_mail(
                official["id"],
                "City budget delivery failed",
                "Batch %(batch)s could not be delivered to the city budget system: %(reason)s",
                f"/officials/connector/batches/{batch_pk}",
                batch=label,
                reason=reason[:300],
            )
        except Exception:  # one failed mail must not stop the others
            logger.exception("could not alert official %s about batch %s", official["id"], label)


def city_client(policy: RetryPolicy | None = None) -> CityClient:
    """A client from the settings, sharing the process's one HTTP client."""
    try:
        settings = load_city_settings()
    except ValueError as exc:
        raise CityError(str(exc)) from exc
    return CityClient(settings, policy=policy)


async def deliver_due_batches(
    client: CityClient | None = None,
    worker: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    limit: int = 100,
    quiet: bool = False,
) -> DeliveryReport:
    """Deliver every due batch once (oldest first); safe to run from several workers at once."""
    report = DeliveryReport()
    worker = worker or worker_name()
    if client is None:
        if not await OutboxBatch.exists().where(_due_condition(clock.now())):
            return report
        try:
            client = city_client()
        except CityError as exc:
            # Nothing can be signed or sent: leave every batch pending and say why.
            report.problem = str(exc)
            if not quiet:
                logger.error("city budget delivery is not configured: %s", exc)
            return report
    for _ in range(limit):
        row = await claim_due_batch(worker, lease_seconds)
        if row is None:
            break
        await deliver_batch(row, client, worker, report)
    return report


async def delivery_loop(stop_event: asyncio.Event, interval: float = LOOP_INTERVAL_SECONDS) -> None:
    """Deliver due batches until ``stop_event`` is set (started with the server)."""
    last_problem: str | None = None
    try:
        while not stop_event.is_set():
            try:
                report = await deliver_due_batches(quiet=True)
                if report.problem != last_problem and report.problem:
                    # Say it once, not every few seconds, while the settings stay wrong.
                    logger.error("city budget delivery is not configured: %s", report.problem)
                last_problem = report.problem
                if report.delivered or report.failed or report.retrying:
                    quiet = not (report.delivered or report.failed) and CityAbsence.quiet()
                    logger.log(
                        logging.DEBUG if quiet else logging.INFO,
                        "city budget delivery: %s",
                        report.summary(),
                    )
            except Exception:  # the loop must outlive one bad round
                logger.exception("city budget delivery round failed")
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=interval)
            except TimeoutError:
                continue
    finally:
        await close_shared_http_client()
