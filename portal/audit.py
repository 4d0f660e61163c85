"""The append-only, hash-chained audit log (A1).

``h_n = SHA-256(h_{n-1} || canonical_json(event_n))``. Events are appended in
the caller's transaction, so an action and its audit record commit together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from portal import clock
from portal.db import is_postgres, raw
from portal.tables import AuditEvent

GENESIS = "0" * 64
log = logging.getLogger("hangang.audit")


def canonical_json(event: dict[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same event always hashes the same."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(event)).encode()).hexdigest()


def _event_body(occurred_at: dt.datetime, actor_id: int | None, action: str, subject: str, details: dict) -> dict:
    return {
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "action": action,
        "subject": subject,
        "details": details,
    }


async def record(action: str, *, actor_id: int | None = None, subject: str = "", **details: Any) -> str:
    """Append one event; call inside ``write_transaction()``. Returns the new chain head."""
    if is_postgres():
        # Serialize appenders so two transactions never extend the same head.
        await raw("SELECT pg_advisory_xact_lock(7245001)")
    last = await AuditEvent.select(AuditEvent.hash).order_by(AuditEvent.id, ascending=False).first()
    prev_hash = last["hash"] if last else GENESIS
    occurred_at = clock.now()
    details = json.loads(canonical_json(details))
    body = _event_body(occurred_at, actor_id, action, subject, details)
    new_hash = chain_hash(prev_hash, body)
    await AuditEvent.insert(
        AuditEvent(
            occurred_at=occurred_at,
            actor_id=actor_id,
            action=action,
            subject=subject,
            details=canonical_json(details),
            prev_hash=prev_hash,
            hash=new_hash,
        )
    )
    # Structured security log: ids and actions only, never secrets (A4).
    log.info("audit", extra={"action": action, "actor_id": actor_id, "subject": subject})
    return new_hash


async def head() -> str:
    """The current chain head (exports and pushes quote it)."""
    last = await AuditEvent.select(AuditEvent.hash).order_by(AuditEvent.id, ascending=False).first()
    return last["hash"] if last else GENESIS


@dataclass
class VerifyResult:
    ok: bool
    events: int
    broken_at: int | None = None
    problem: str = ""


async def verify_chain() -> VerifyResult:
    """Walk the chain from the start; report the first link that does not hold."""
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    prev_hash = GENESIS
    for count, row in enumerate(rows, start=1):
        details = row["details"]
        if isinstance(details, str):
            details = json.loads(details)
        body = _event_body(row["occurred_at"], row["actor_id"], row["action"], row["subject"], details)
        if row["prev_hash"] != prev_hash:
            return VerifyResult(False, count - 1, row["id"], "prev_hash does not match the previous event (a row was deleted or reordered)")
        if chain_hash(prev_hash, body) != row["hash"]:
            return VerifyResult(False, count - 1, row["id"], "hash does not match the event's content (the row was altered)")
        prev_hash = row["hash"]
    return VerifyResult(True, len(rows))
