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

Unlinked events (``record_unlinked``): hot paths (a polling station's check-ins and paper batches) append
an event without the chain's lock: ``chain_version = 3``, ``prev_hash = ''`` and ``hash`` an HMAC of the
event alone (under a key of its own), so an edit is detected before it is chained. ``seal_pending`` (every
worker's ``audit_seal_loop``, every second, under the chain's lock) checks each such row, appends it to the
chain as a keyed event (same time, actor, action, subject and details) and deletes the unlinked row in the
same transaction; ``verify_chain`` walks the chained events and checks the waiting ones on their own
(docs/security.md, "Unlinked audit events and the sealer").

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
UNLINKED = 3  # recorded without the lock, waiting for the sealer: hash = HMAC of the event alone
CHAIN_LOCK = 7245001  # pg_advisory_xact_lock key of the chain's appenders
SEAL_BATCH = 500
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
    return await _append_at(prev_hash, clock.now(), action, actor_id, subject, details)


async def _append_at(
    prev_hash: str, occurred_at: dt.datetime, action: str, actor_id: int | None, subject: str, details: dict
) -> str:
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
    """The last chained event (unlinked ones wait for the sealer)."""
    return (
        await AuditEvent.select(AuditEvent.hash, AuditEvent.chain_version)
        .where(AuditEvent.chain_version != UNLINKED)
        .order_by(AuditEvent.id, ascending=False)
        .first()
    )


async def _seal_if_unkeyed(last: dict[str, Any] | None) -> str:
    """After an upgrade, the first keyed event seals the unkeyed prefix: its count and head."""
    if last is None:
        return GENESIS
    if last["chain_version"] != LEGACY_UNKEYED:
        return last["hash"]
    legacy = await AuditEvent.count().where(AuditEvent.chain_version != UNLINKED)
    return await _append(last["hash"], SEAL_ACTION, None, "audit-chain", {"legacy_events": legacy, "legacy_head": last["hash"]})


async def record(action: str, *, actor_id: int | None = None, subject: str = "", **details: Any) -> str:
    """Append one event; call inside ``write_transaction()``. Returns the new chain head."""
    if is_postgres():
        # Serialize appenders so two transactions never extend the same head.
        await raw(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")
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
            await raw(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")
        last = await _last_event()
        if last is None or last["chain_version"] != LEGACY_UNKEYED:
            return False
        await _seal_if_unkeyed(last)
        return True


def unlinked_mac(body: dict[str, Any]) -> str:
    """The HMAC an unlinked event carries until it is chained (a key of its own, not the chain's)."""
    return hmac.new(_key(b"unlinked"), canonical_json(body, default=str).encode(), hashlib.sha256).hexdigest()


async def record_unlinked(action: str, *, actor_id: int | None = None, subject: str = "", **details: Any) -> None:
    """Append one event without the chain's lock; call inside ``write_transaction()``.

    For hot paths where many transactions audit at once (polling stations): the event commits with the
    action like ``record``'s, carries an HMAC of itself, and ``seal_pending`` chains it within a second or so.
    """
    occurred_at = clock.now()
    details = json.loads(canonical_json(details, default=str))
    mac = unlinked_mac(_event_body(occurred_at, actor_id, action, subject, details))
    await raw(
        "INSERT INTO portal_audit_event (occurred_at, actor_id, action, subject, details, prev_hash, hash, "
        "chain_version) VALUES ({}, {}, {}, {}, {}, '', {}, {})",
        occurred_at, actor_id, action, subject, canonical_json(details), mac, UNLINKED,
    )
    log.info("audit", extra={"action": action, "actor_id": actor_id, "subject": subject})


_reported_altered: set[int] = set()


def _unlinked_holds(row: dict[str, Any]) -> bool:
    details = row["details"] if isinstance(row["details"], dict) else json.loads(row["details"])
    body = _event_body(row["occurred_at"], row["actor_id"], row["action"], row["subject"], details)
    return hmac.compare_digest(unlinked_mac(body), row["hash"] or "")


async def seal_pending(limit: int = SEAL_BATCH) -> int:
    """Chain the waiting unlinked events, oldest id first; returns how many were chained.

    Under the chain's lock, in one transaction: each unlinked row whose HMAC holds is appended as a keyed
    event and deleted, so a crash before COMMIT leaves it waiting and one after leaves it chained, never
    both. A row whose HMAC fails (edited while it waited) is left where it is for ``verify_chain`` to report.
    """
    from portal.db import write_transaction

    # The partial index portal_audit_event_unlinked answers this without a transaction or the lock.
    if not await raw(f"SELECT id FROM portal_audit_event WHERE chain_version = {UNLINKED} LIMIT 1"):  # noqa: S608
        return 0
    async with write_transaction():
        if is_postgres():
            await raw(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")
        rows = await AuditEvent.select().where(AuditEvent.chain_version == UNLINKED).order_by(AuditEvent.id).limit(limit)
        if not rows:
            return 0
        prev_hash = await _seal_if_unkeyed(await _last_event())
        sealed = []
        for row in rows:
            if not _unlinked_holds(row):
                if row["id"] not in _reported_altered:
                    _reported_altered.add(row["id"])
                    log.error("audit: unlinked event %s was altered while it waited; left for audit verify", row["id"])
                continue
            details = row["details"] if isinstance(row["details"], dict) else json.loads(row["details"])
            prev_hash = await _append_at(prev_hash, row["occurred_at"], row["action"], row["actor_id"], row["subject"], details)
            sealed.append(row["id"])
        if sealed:
            await AuditEvent.delete().where(AuditEvent.id.is_in(sealed))
    return len(sealed)


async def audit_seal_loop(stop: Any) -> None:
    """Chain unlinked events every second until the server stops (every worker; the lock takes turns)."""
    import asyncio
    import contextlib

    while not stop.is_set():
        try:
            while await seal_pending() >= SEAL_BATCH:
                pass
        except Exception:  # a busy database must not kill the worker; the rows wait for the next round
            log.exception("audit: sealing unlinked events failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def head() -> str:
    """The current chain head (exports and pushes quote it)."""
    last = await _last_event()
    return last["hash"] if last else GENESIS


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain stands: ``sequence`` events, the last with hash ``head``."""

    sequence: int
    head: str


async def checkpoint() -> Checkpoint:
    """Count and head read in one statement, so they always belong together."""
    rows = await raw(
        "SELECT COUNT(*) AS n, (SELECT hash FROM portal_audit_event WHERE chain_version <> {} ORDER BY id DESC LIMIT 1) "
        "AS head FROM portal_audit_event WHERE chain_version <> {}",
        UNLINKED,
        UNLINKED,
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
    unlinked: int = 0  # recorded, HMAC intact, waiting for the sealer (not counted in ``events``)
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
    waiting = 0
    for row in rows:
        if row["chain_version"] == UNLINKED:
            if not _unlinked_holds(row):
                return _failure(len(heads), row["id"], "an event waiting to be chained was altered (its HMAC does not hold)")
            waiting += 1
            continue
        problem = _check_link(row, prev_hash, keyed_seen, legacy_count)
        if problem:
            return _failure(len(heads), row["id"], problem)
        if row["chain_version"] == LEGACY_UNKEYED:
            legacy_count += 1
        else:
            keyed_seen = True
        prev_hash = row["hash"]
        heads.append(prev_hash)
    if heads and not keyed_seen:
        return _failure(
            len(heads), None,
            "the chain holds only unkeyed events: recomputed without the key, or not sealed yet (run hangang migrate)",
        )
    result = VerifyResult(True, len(heads), unlinked=waiting, heads=heads)
    for anchor in anchors or []:
        problem = _check_anchor(anchor, heads)
        if problem:
            return _failure(len(heads), None, problem)
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
