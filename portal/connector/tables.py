"""The transactional outbox: one row per batch revision to deliver, and its attempt history."""

from __future__ import annotations

import json
from typing import Any

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

KINDS = ("allocation", "award")
STATUSES = ("pending", "delivering", "delivered", "failed", "superseded")


class OutboxBatch(Table, tablename="connector_outbox_batch"):
    """A batch revision waiting for, or done with, delivery to the city budget system.

    Written in the same transaction as the approval that produced it (A5).
    """

    batch_id = Varchar(length=128, index=True)
    kind = Varchar(length=16)
    revision = Integer()
    title = Varchar(length=200, default="")
    source = Varchar(length=100, default="")
    payload = JSON()
    body_sha256 = Varchar(length=64)
    status = Varchar(length=16, default="pending", index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(index=True)
    lease_until = Timestamptz(null=True, default=None)
    lease_owner = Varchar(length=64, null=True, default=None)
    receipt = JSON(null=True, default=None)
    receipt_id = Varchar(length=100, null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)


class OutboxAttempt(Table, tablename="connector_outbox_attempt"):
    """One HTTP exchange with the city for a batch (pushes, dry runs, reconciliation GETs)."""

    batch = ForeignKey(OutboxBatch, index=True)
    started_at = Timestamptz()
    method = Varchar(length=8)
    path = Varchar(length=300)
    status_code = Integer(null=True, default=None)
    latency_ms = Integer(default=0)
    error = Text(null=True, default=None)
    dry_run = Boolean(default=False)
    worker = Varchar(length=64, default="")


def json_value(value: Any) -> Any:
    """A JSON column's value: Piccolo hands JSON columns back as text on both engines."""
    if isinstance(value, str):
        return json.loads(value) if value else None
    return value
