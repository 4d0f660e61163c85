"""Outbox services: enqueue inside the approver's transaction; officials' reads and actions.

``enqueue_batch`` is called by the PB and challenge approval services INSIDE their own
transaction, so an approval and its outbox row commit together (A5). Delivery to the city is in
``portal/connector/delivery.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import msgspec

from portal import audit, clock
from portal.connector import exports, signing
from portal.connector.client import CityClient
from portal.connector.delivery import OUTBOX_LOCK, city_client, record_attempts
from portal.connector.retries import Attempt, CityError, CityRefused, RetryPolicy
from portal.connector.schemas import AllocationBatch, AwardBatch, Envelope
from portal.connector.settings import load_city_settings
from portal.connector.tables import KINDS, OutboxAttempt, OutboxBatch, json_value
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotFoundError
from portal.manifest import domain_service

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


def _view(row: dict[str, Any]) -> BatchView:
    payload = json_value(row["payload"]) or {}
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
        receipt=json_value(row["receipt"]),
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
    return row["kind"], json_value(row["payload"])


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
        await record_attempts(batch_pk, attempts, f"dry-run by user {actor_id}", dry_run=True)
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
    payload = json_value(row["payload"])
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
