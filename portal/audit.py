"""The append-only audit log, chained with a keyed HMAC and anchored outside the database (A1, A6).

``h_n = HMAC-SHA256(key, h_{n-1} || canonical_json(event_n))`` with ``HANGANG_AUDIT_KEY``, a key that is
never stored in the database: someone who can write the database can edit or delete rows, but cannot
recompute the chain so that ``hangang audit verify`` accepts it. Events are appended in the caller's
transaction, so an action and its audit record commit together.

Chain versions: events written before the key existed carry ``chain_version = 1`` (unkeyed SHA-256).
They still verify, but only as the unbroken prefix of the chain, sealed by the first keyed event
(``audit.chain_keyed``, which quotes their count and head). Every later event is keyed (version 2).
An unkeyed event after a keyed one, or a chain that ends unkeyed, is reported as recomputed
without the key.

Anchors: the head (and its sequence number, the count of events) leaves the database in every signed
export manifest, every connector push (``source.audit_head``) and in checkpoints that
``hangang audit anchor`` appends to a file; ``hangang audit verify --anchors FILE`` compares the chain
with them, which catches a truncated tail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal import clock
from portal.canonical import canonical_json
from portal.db import is_postgres, raw
from portal.settings import get_settings
from portal.tables import AuditEvent

GENESIS = "0" * 64
LEGACY_UNKEYED = 1  # SHA-256 without a key (before HANGANG_AUDIT_KEY)
KEYED = 2  # HMAC-SHA256 under HANGANG_AUDIT_KEY
SEAL_ACTION = "audit.chain_keyed"
ANCHOR_FILE_NAME = "audit-anchors.jsonl"
log = logging.getLogger("hangang.audit")


def _key(purpose: bytes) -> bytes:
    """A key per purpose (chain, anchors) derived from HANGANG_AUDIT_KEY."""
    secret = get_settings().audit_key.encode()
    if not secret:
        raise RuntimeError("HANGANG_AUDIT_KEY is not set")
    return hmac.new(secret, b"hangang-audit:" + purpose, hashlib.sha256).digest()


def chain_hash(prev_hash: str, event: dict[str, Any], version: int = KEYED) -> str:
    message = (prev_hash + canonical_json(event, default=str)).encode()
    if version == LEGACY_UNKEYED:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(_key(b"chain"), message, hashlib.sha256).hexdigest()


def _event_body(occurred_at: dt.datetime, actor_id: int | None, action: str, subject: str, details: dict) -> dict:
    return {
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "action": action,
        "subject": subject,
        "details": details,
    }


async def _append(prev_hash: str, action: str, actor_id: int | None, subject: str, details: dict) -> str:
    occurred_at = clock.now()
    details = json.loads(canonical_json(details, default=str))
    new_hash = chain_hash(prev_hash, _event_body(occurred_at, actor_id, action, subject, details))
    await AuditEvent.insert(
        AuditEvent(
            occurred_at=occurred_at,
            actor_id=actor_id,
            action=action,
            subject=subject,
            details=canonical_json(details),
            prev_hash=prev_hash,
            hash=new_hash,
            chain_version=KEYED,
        )
    )
    return new_hash


async def _last_event() -> dict[str, Any] | None:
    return (
        await AuditEvent.select(AuditEvent.hash, AuditEvent.chain_version)
        .order_by(AuditEvent.id, ascending=False)
        .first()
    )


async def _seal_if_unkeyed(last: dict[str, Any] | None) -> str:
    """After an upgrade, the first keyed event seals the unkeyed prefix: its count and head."""
    if last is None:
        return GENESIS
    if last["chain_version"] != LEGACY_UNKEYED:
        return last["hash"]
    legacy = await AuditEvent.count()
    return await _append(last["hash"], SEAL_ACTION, None, "audit-chain", {"legacy_events": legacy, "legacy_head": last["hash"]})


async def record(action: str, *, actor_id: int | None = None, subject: str = "", **details: Any) -> str:
    """Append one event; call inside ``write_transaction()``. Returns the new chain head."""
    if is_postgres():
        # Serialize appenders so two transactions never extend the same head.
        await raw("SELECT pg_advisory_xact_lock(7245001)")
    prev_hash = await _seal_if_unkeyed(await _last_event())
    new_hash = await _append(prev_hash, action, actor_id, subject, details)
    # Structured security log: ids and actions only, never secrets (A4).
    log.info("audit", extra={"action": action, "actor_id": actor_id, "subject": subject})
    return new_hash


async def seal_legacy_chain() -> bool:
    """Seal events chained before the key existed (``hangang migrate`` calls this). True when it sealed."""
    from portal.db import write_transaction

    async with write_transaction():
        if is_postgres():
            await raw("SELECT pg_advisory_xact_lock(7245001)")
        last = await _last_event()
        if last is None or last["chain_version"] != LEGACY_UNKEYED:
            return False
        await _seal_if_unkeyed(last)
        return True


async def head() -> str:
    """The current chain head (exports and pushes quote it)."""
    last = await AuditEvent.select(AuditEvent.hash).order_by(AuditEvent.id, ascending=False).first()
    return last["hash"] if last else GENESIS


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain stands: ``sequence`` events, the last with hash ``head``."""

    sequence: int
    head: str


async def checkpoint() -> Checkpoint:
    """Count and head read in one statement, so they always belong together."""
    rows = await raw(
        "SELECT COUNT(*) AS n, (SELECT hash FROM portal_audit_event ORDER BY id DESC LIMIT 1) AS head "
        "FROM portal_audit_event"
    )
    return Checkpoint(int(rows[0]["n"]), rows[0]["head"] or GENESIS)


# ---------------------------------------------------------------- verification


@dataclass
class VerifyResult:
    ok: bool
    events: int
    broken_at: int | None = None
    problem: str = ""
    anchors: int = 0
    heads: list[str] = field(default_factory=list, repr=False)


def _failure(count: int, row_id: int | None, problem: str) -> VerifyResult:
    return VerifyResult(False, count, row_id, problem)


def _check_link(row: dict[str, Any], prev_hash: str, keyed_seen: bool, legacy_count: int) -> str:
    """Why this event breaks the chain, or "" when it holds."""
    details = row["details"]
    if isinstance(details, str):
        details = json.loads(details)
    body = _event_body(row["occurred_at"], row["actor_id"], row["action"], row["subject"], details)
    if row["prev_hash"] != prev_hash:
        return "prev_hash does not match the previous event (a row was deleted, inserted or reordered)"
    version = row["chain_version"]
    if version == LEGACY_UNKEYED:
        if keyed_seen:
            return "an unkeyed event after keyed ones: the chain was recomputed without the key"
        if chain_hash(prev_hash, body, LEGACY_UNKEYED) != row["hash"]:
            return "hash does not match the event's content (the row was altered)"
        return ""
    if version != KEYED:
        return f"unknown chain version {version}"
    if chain_hash(prev_hash, body, KEYED) != row["hash"]:
        if chain_hash(prev_hash, body, LEGACY_UNKEYED) == row["hash"]:
            return "the hash is an unkeyed SHA-256: the chain was recomputed without the key"
        return "hash does not match the event's content under the audit key (the row was altered, or another key)"
    if not keyed_seen and legacy_count:
        sealed = row["action"] == SEAL_ACTION and details.get("legacy_events") == legacy_count
        if not sealed:
            return "unkeyed events precede the keyed chain without its seal: the chain was recomputed without the key"
    return ""


async def verify_chain(anchors: list[dict[str, Any]] | None = None) -> VerifyResult:
    """Walk the chain from the start; report the first link that does not hold, then check anchors."""
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    prev_hash = GENESIS
    keyed_seen = False
    legacy_count = 0
    heads: list[str] = []
    for position, row in enumerate(rows, start=1):
        problem = _check_link(row, prev_hash, keyed_seen, legacy_count)
        if problem:
            return _failure(position - 1, row["id"], problem)
        if row["chain_version"] == LEGACY_UNKEYED:
            legacy_count += 1
        else:
            keyed_seen = True
        prev_hash = row["hash"]
        heads.append(prev_hash)
    if rows and not keyed_seen:
        return _failure(
            len(rows), None,
            "the chain holds only unkeyed events: recomputed without the key, or not sealed yet (run hangang migrate)",
        )
    result = VerifyResult(True, len(rows), heads=heads)
    for anchor in anchors or []:
        problem = _check_anchor(anchor, heads)
        if problem:
            return _failure(len(rows), None, problem)
        result.anchors += 1
    return result


def _check_anchor(anchor: dict[str, Any], heads: list[str]) -> str:
    where = f"the anchor of {anchor.get('at', '?')} (line {anchor.get('line', '?')})"
    if not anchor_signature_valid(anchor):
        return f"{where} is not signed with this audit key (edited, or another key)"
    sequence = int(anchor["sequence"])
    if sequence > len(heads):
        return f"the tail was truncated: {where} counts {sequence} events, the chain has {len(heads)}"
    expected = heads[sequence - 1] if sequence else GENESIS
    if expected != anchor["head"]:
        return f"the chain differs from {where} at event {sequence} (rewritten history)"
    return ""


# ---------------------------------------------------------------- anchors (signed checkpoints)


def default_anchor_file() -> Path:
    return get_settings().var_dir / ANCHOR_FILE_NAME


def _anchor_signature(sequence: int, head: str, at: str) -> str:
    message = canonical_json({"sequence": sequence, "head": head, "at": at}).encode()
    return hmac.new(_key(b"anchor"), message, hashlib.sha256).hexdigest()


def anchor_signature_valid(anchor: dict[str, Any]) -> bool:
    try:
        expected = _anchor_signature(int(anchor["sequence"]), str(anchor["head"]), str(anchor["at"]))
    except (KeyError, TypeError, ValueError):
        return False
    return hmac.compare_digest(expected, str(anchor.get("signature", "")))


async def append_anchor(path: Path) -> dict[str, Any]:
    """Append a signed checkpoint (sequence, head, time) to ``path``, opened append-only and synced."""
    point = await checkpoint()
    at = clock.now().astimezone(dt.UTC).isoformat(timespec="seconds")
    anchor = {"sequence": point.sequence, "head": point.head, "at": at}
    anchor["signature"] = _anchor_signature(point.sequence, point.head, at)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(anchor, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


def read_anchors(path: Path) -> list[dict[str, Any]]:
    """The checkpoints of an anchor file; a line that is not JSON is kept (and fails its signature)."""
    anchors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            anchor = json.loads(line)
        except json.JSONDecodeError:
            anchor = {}
        if not isinstance(anchor, dict):
            anchor = {}
        anchors.append({**anchor, "line": number})
    return anchors
