"""Outbox services: enqueue inside the approver's transaction, deliver with a lease, alert on failure.

``enqueue_batch`` is called by the PB and challenge approval services INSIDE their own
transaction, so an approval and its outbox row commit together (A5). ``deliver_due_batches``
claims one due row at a time under a lease, pushes it outside any transaction, and records
the outcome; a worker killed mid-push leaves a lease that expires, and the next worker pushes
again with the same Idempotency-Key, so the city applies the batch once.
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

import msgspec

from portal import audit, clock
from portal.connector import exports, signing
from portal.connector.client import (
    Attempt,
    CityAbsence,
    CityClient,
    CityError,
    CityRefused,
    CityUnavailable,
    RetryPolicy,
    close_shared_http_client,
)
from portal.connector.schemas import AllocationBatch, AwardBatch, Envelope
from portal.connector.settings import load_city_settings
from portal.connector.tables import KINDS, OutboxAttempt, OutboxBatch
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotFoundError
from portal.manifest import domain_service

logger = logging.getLogger("portal.connector")

DEFAULT_LEASE_SECONDS = 300
# Between delivery rounds of a batch the city could not take: 30 s, doubling, at most 5 minutes.
ROUND_BASE_SECONDS = 30
ROUND_CAP_SECONDS = 5 * 60
LOOP_INTERVAL_SECONDS = 5.0
OUTBOX_LOCK = "connector-outbox"
# A batch still not delivered this long after its approval is shown to officials as an alert.
STUCK_AFTER = dt.timedelta(hours=1)


# ----------------------------------------------------------------------------- reads


@dataclass
class BatchView:
    """One outbox row as officials see it."""

    id: int
    batch_id: str
    kind: str
    revision: int
    title: str
    source: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    receipt: dict[str, Any] | None
    receipt_id: str | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    body_sha256: str
    item_count: int = 0
    amount: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _json(value: Any) -> Any:
    """Piccolo hands JSON columns back as text on both engines."""
    if isinstance(value, str):
        return json.loads(value) if value else None
    return value


def _view(row: dict[str, Any]) -> BatchView:
    payload = _json(row["payload"]) or {}
    totals = payload.get("totals") or {}
    return BatchView(
        id=row["id"],
        batch_id=row["batch_id"],
        kind=row["kind"],
        revision=row["revision"],
        title=row["title"],
        source=row["source"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        receipt=_json(row["receipt"]),
        receipt_id=row["receipt_id"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        body_sha256=row["body_sha256"],
        item_count=int(totals.get("item_count") or 0),
        amount=int(totals.get("amount") or 0),
    )


async def list_batches(limit: int = 200) -> list[BatchView]:
    """Every outbox row, newest first."""
    rows = await OutboxBatch.select().order_by(OutboxBatch.id, ascending=False).limit(limit)
    return [_view(row) for row in rows]


def stuck_batches(batches: list[BatchView], now: dt.datetime) -> list[BatchView]:
    """Batches still pending or being retried more than ``STUCK_AFTER`` after their approval."""
    return [
        b
        for b in batches
        if b.status in ("pending", "delivering") and now - b.created_at >= STUCK_AFTER
    ]


async def get_batch(batch_pk: int) -> BatchView:
    """One outbox row with its attempt history (newest first)."""
    row = await OutboxBatch.select().where(OutboxBatch.id == batch_pk).first()
    if row is None:
        raise NotFoundError("No such batch.")
    view = _view(row)
    view.history = await (
        OutboxAttempt.select(
            OutboxAttempt.started_at,
            OutboxAttempt.method,
            OutboxAttempt.path,
            OutboxAttempt.status_code,
            OutboxAttempt.latency_ms,
            OutboxAttempt.error,
            OutboxAttempt.dry_run,
            OutboxAttempt.worker,
        )
        .where(OutboxAttempt.batch == batch_pk)
        .order_by(OutboxAttempt.id, ascending=False)
        .limit(500)
    )
    return view


async def batch_payload(batch_pk: int) -> tuple[str, dict[str, Any]]:
    """Return (kind, payload) of one batch."""
    row = (
        await OutboxBatch.select(OutboxBatch.kind, OutboxBatch.payload)
        .where(OutboxBatch.id == batch_pk)
        .first()
    )
    if row is None:
        raise NotFoundError("No such batch.")
    return row["kind"], _json(row["payload"])


# ----------------------------------------------------------------------------- enqueue


async def next_revision(kind: str, batch_id: str) -> int:
    """The revision a new approval of this batch should carry (1, then one above the highest)."""
    row = (
        await OutboxBatch.select(OutboxBatch.revision)
        .where((OutboxBatch.kind == kind) & (OutboxBatch.batch_id == batch_id))
        .order_by(OutboxBatch.revision, ascending=False)
        .first()
    )
    return (row["revision"] + 1) if row else 1


async def enqueue_batch(
    kind: str,
    payload: dict[str, Any],
    *,
    title: str = "",
    source: str = "",
    actor_id: int | None = None,
) -> int:
    """Write one batch revision to the outbox; call INSIDE the approving transaction.

    A ``payload["revision"]`` of ``None`` takes the next revision. Older revisions of the same
    batch that were not delivered yet are superseded: only the newest approval goes out.
    Returns the outbox row id.
    """
    if kind not in KINDS:
        raise InvalidInput("Unknown batch kind %(kind)s.", kind=kind)
    payload = dict(payload, dry_run=False)
    if payload.get("revision") is None:
        payload["revision"] = await next_revision(kind, str(payload.get("batch_id")))
    schema = AllocationBatch if kind == "allocation" else AwardBatch
    try:
        msgspec.convert(payload, type=schema, strict=False)
        signing.idempotency_key(str(payload["batch_id"]), int(payload["revision"]))
        sha = signing.body_sha256(payload)
    except (msgspec.ValidationError, signing.SigningError) as exc:
        raise InvalidInput(
            "The batch breaks the city contract: %(reason)s", reason=str(exc)
        ) from exc
    latest = await next_revision(kind, payload["batch_id"]) - 1
    if payload["revision"] <= latest:
        raise Conflict(
            "Revision %(revision)s of %(batch)s is not above the last one (%(latest)s).",
            revision=payload["revision"],
            batch=payload["batch_id"],
            latest=latest,
        )
    now = clock.now()
    await OutboxBatch.update(
        {
            OutboxBatch.status: "superseded",
            OutboxBatch.last_error: f"superseded by revision {payload['revision']}",
        }
    ).where(
        (OutboxBatch.kind == kind)
        & (OutboxBatch.batch_id == payload["batch_id"])
        & OutboxBatch.status.is_in(["pending", "failed"])
    )
    rows = await OutboxBatch.insert(
        OutboxBatch(
            batch_id=payload["batch_id"],
            kind=kind,
            revision=payload["revision"],
            title=title[:200],
            source=source[:100],
            payload=signing.body_bytes(payload).decode("utf-8"),
            body_sha256=sha,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    ).returning(OutboxBatch.id)
    batch_pk = rows[0]["id"]
    await audit.record(
        "connector.batch_enqueued",
        actor_id=actor_id,
        subject=f"outbox:{batch_pk}",
        kind=kind,
        batch_id=payload["batch_id"],
        revision=payload["revision"],
        body_sha256=sha,
    )
    return batch_pk


# ----------------------------------------------------------------------------- delivery


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


async def _record_attempts(
    batch_pk: int, attempts: list[Attempt], worker: str, dry_run: bool
) -> None:
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
        await _record_attempts(row["id"], attempts, worker, dry_run=False)
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
        payload = _json(row["payload"])
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


# ----------------------------------------------------------------------------- officials' actions


async def retry_batch(batch_pk: int, actor_id: int) -> None:
    """Make a failed or waiting batch due now (same revision, same key)."""
    async with write_transaction(lock_key=OUTBOX_LOCK):
        row = await OutboxBatch.select(OutboxBatch.status).where(OutboxBatch.id == batch_pk).first()
        if row is None:
            raise NotFoundError("No such batch.")
        if row["status"] not in ("failed", "pending"):
            raise Conflict("Only a failed or waiting batch can be retried.")
        await OutboxBatch.update(
            {OutboxBatch.status: "pending", OutboxBatch.next_attempt_at: clock.now()}
        ).where(OutboxBatch.id == batch_pk)
        await audit.record(
            "connector.batch_retried", actor_id=actor_id, subject=f"outbox:{batch_pk}"
        )


@dataclass
class ValidationResult:
    """The city's verdict on a dry run."""

    ok: bool
    message: str
    errors: list[str] = field(default_factory=list)


async def validate_batch(
    batch_pk: int, actor_id: int, client: CityClient | None = None
) -> ValidationResult:
    """Ask the city to validate a batch without storing it (dry run); record the exchange."""
    kind, payload = await batch_payload(batch_pk)
    attempts: list[Attempt] = []
    try:
        client = client or city_client(policy=RetryPolicy(attempts=2))
        outcome = await client.push(kind, payload, dry_run=True)
        attempts = outcome.attempts
        result = ValidationResult(True, "The city system validated this batch.")
    except CityRefused as error:
        attempts = error.attempts
        result = ValidationResult(False, str(error), list(error.errors))
    except CityError as error:
        attempts = error.attempts
        result = ValidationResult(False, str(error))
    async with write_transaction():
        await _record_attempts(batch_pk, attempts, f"dry-run by user {actor_id}", dry_run=True)
    return result


async def export_bundle(batch_pk: int) -> tuple[str, bytes]:
    """Return (file name, zip bytes) of a batch's signed export; reads only."""
    row = await OutboxBatch.select().where(OutboxBatch.id == batch_pk).first()
    if row is None:
        raise NotFoundError("No such batch.")
    try:
        settings = load_city_settings(require_url=False)
    except ValueError as exc:
        raise Conflict("Exports cannot be signed: %(reason)s", reason=str(exc)) from exc
    payload = _json(row["payload"])
    anchor = await audit.checkpoint()
    bundle = exports.build_bundle(
        exports.batch_files(row["kind"], payload),
        settings.keys,
        settings.key_id,
        anchor.head,
        row["kind"],
        row["batch_id"],
        row["revision"],
        clock.now(),
        audit_sequence=anchor.sequence,
    )
    return f"{row['batch_id']}-r{row['revision']}.zip", exports.zip_bundle(bundle)


async def pull_envelopes(fiscal_year: int, client: CityClient | None = None) -> list[Envelope]:
    """Fetch the district envelopes of a fiscal year from the city."""
    try:
        client = client or city_client()
        return await client.fetch_envelopes(fiscal_year)
    except CityError as exc:
        raise Conflict(
            "The city budget system did not give envelopes: %(reason)s", reason=str(exc)
        ) from exc


async def cycles_open_for_envelopes() -> list[dict[str, Any]]:
    """PB cycles whose pots may still change (voting has not opened); PB answers, through its manifest."""
    return await domain_service("pb.cycles_open_for_envelopes")()


async def apply_envelopes(
    cycle_id: int, actor_id: int, client: CityClient | None = None
) -> dict[str, int]:
    """Set a PB cycle's district pot amounts from the city's envelopes; returns code -> amount set.

    PB's own pot service writes the amounts (and the cycle total that follows them); the connector only
    fetches the envelopes and records that they were applied.
    """
    fiscal_year = await domain_service("pb.cycle_fiscal_year")(cycle_id)
    envelopes = await pull_envelopes(fiscal_year, client)
    amounts = {envelope.district_code: int(envelope.amount) for envelope in envelopes}
    changed = await domain_service("pb.set_district_pot_amounts")(actor_id, cycle_id, amounts)
    await audit.record(
        "connector.envelopes_applied",
        actor_id=actor_id,
        subject=f"pb-cycle:{cycle_id}",
        fiscal_year=fiscal_year,
        districts=len(changed),
        amount=sum(changed.values()),
    )
    return changed
