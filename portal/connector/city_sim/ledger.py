"""The city's batch ledger: what it received, accepted and answered, in its own SQLite file."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portal.connector.city_sim.problems import CityProblem
from portal.connector.schemas import Batch, Receipt


@dataclass(frozen=True)
class StoredBatch:
    """A batch row as the city holds it."""

    kind: str
    idempotency_key: str
    batch_id: str
    revision: int
    body_sha256: str
    status: str
    receipt_id: str | None
    key_id: str

    def receipt(self) -> Receipt:
        """Return the receipt of an accepted batch."""
        return Receipt(
            receipt_id=self.receipt_id or "",
            batch_id=self.batch_id,
            revision=self.revision,
            status="accepted",
            body_sha256=self.body_sha256,
        )


_COLUMN_NAMES = (
    "kind",
    "idempotency_key",
    "batch_id",
    "revision",
    "body_sha256",
    "status",
    "receipt_id",
    "key_id",
)
_BY_KEY = (
    "SELECT kind, idempotency_key, batch_id, revision, body_sha256, status, receipt_id, key_id"
    " FROM batch WHERE kind = ? AND idempotency_key = ?"
)
_ACCEPTED = (
    "SELECT kind, idempotency_key, batch_id, revision, body_sha256, status, receipt_id, key_id"
    " FROM batch WHERE kind = ? AND batch_id = ? AND status = 'accepted' AND (? IS NULL OR revision = ?)"
    " ORDER BY revision DESC LIMIT 1"
)
_ALL = (
    "SELECT kind, idempotency_key, batch_id, revision, body_sha256, status, receipt_id, key_id, received_at, accepted_at"
    " FROM batch ORDER BY rowid"
)


class CityStore:
    """The city's batch ledger in its own SQLite file; one lock serialises the short writes."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(
                """CREATE TABLE IF NOT EXISTS batch (
                    kind TEXT NOT NULL, idempotency_key TEXT NOT NULL, batch_id TEXT NOT NULL,
                    revision INTEGER NOT NULL, body_sha256 TEXT NOT NULL, body TEXT NOT NULL,
                    status TEXT NOT NULL, receipt_id TEXT, key_id TEXT NOT NULL,
                    received_at TEXT NOT NULL, accepted_at TEXT,
                    PRIMARY KEY (kind, idempotency_key))"""
            )
            self._conn.execute(
                """CREATE TABLE IF NOT EXISTS execution_set (
                    fiscal_year INTEGER PRIMARY KEY, items TEXT NOT NULL, set_at TEXT NOT NULL)"""
            )
            # A batch still 'processing' when the server died was never acknowledged: forget it.
            self._conn.execute("DELETE FROM batch WHERE status = 'processing'")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()

    def _one(self, sql: str, params: tuple[Any, ...]) -> StoredBatch | None:
        row = self._conn.execute(sql, params).fetchone()
        return StoredBatch(*row) if row else None

    def claim(
        self,
        kind: str,
        key: str,
        batch: Batch,
        body: bytes,
        sha: str,
        key_id: str,
    ) -> StoredBatch | None:
        """Reserve a key for processing, or raise the refusal; a replay returns the stored row."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                found = self._claim_in_transaction(kind, key, batch, body, sha, key_id)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return found

    def _claim_in_transaction(
        self, kind: str, key: str, batch: Batch, body: bytes, sha: str, key_id: str
    ) -> StoredBatch | None:
        found = self._one(_BY_KEY, (kind, key))
        if found is not None:
            if found.status == "processing":
                raise CityProblem(
                    409,
                    "in-flight",
                    "A request with this Idempotency-Key is still being processed",
                    headers={"Retry-After": "1"},
                )
            if found.body_sha256 != sha:
                raise CityProblem(
                    422,
                    "key-reused",
                    "This Idempotency-Key was used with a different body",
                    detail=f"the stored body has SHA-256 {found.body_sha256}",
                )
            return found
        (latest,) = self._conn.execute(
            "SELECT MAX(revision) FROM batch WHERE kind = ? AND batch_id = ?",
            (kind, batch.batch_id),
        ).fetchone()
        if latest is not None and batch.revision < latest:
            raise CityProblem(
                409,
                "stale-revision",
                "A later revision of this batch is already held",
                detail=f"revision {batch.revision} is lower than the stored revision {latest}",
                current_revision=latest,
            )
        if not batch.dry_run:
            self._conn.execute(
                "INSERT INTO batch (kind, idempotency_key, batch_id, revision, body_sha256,"
                " body, status, key_id, received_at) VALUES (?, ?, ?, ?, ?, ?, 'processing', ?, ?)",
                (kind, key, batch.batch_id, batch.revision, sha, body.decode(), key_id, _now()),
            )
        return None

    def accept(self, kind: str, key: str) -> StoredBatch:
        """Mark a claimed batch accepted and give it a receipt id."""
        receipt_id = "rcpt_" + secrets.token_hex(10)
        with self._lock:
            self._conn.execute(
                "UPDATE batch SET status = 'accepted', receipt_id = ?, accepted_at = ?"
                " WHERE kind = ? AND idempotency_key = ?",
                (receipt_id, _now(), kind, key),
            )
            found = self._one(_BY_KEY, (kind, key))
        assert found is not None
        return found

    def release(self, kind: str, key: str) -> None:
        """Forget a claim whose processing failed, so the key can be used again."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM batch WHERE kind = ? AND idempotency_key = ? AND status = 'processing'",
                (kind, key),
            )

    def accepted(self, kind: str, batch_id: str, revision: int | None = None) -> StoredBatch | None:
        """Return the latest accepted revision of a batch, or a given one."""
        with self._lock:
            return self._one(_ACCEPTED, (kind, batch_id, revision, revision))

    def all_batches(self) -> list[dict[str, Any]]:
        """Every row, for rehearsals and tests (``GET /_batches``)."""
        with self._lock:
            rows = self._conn.execute(_ALL).fetchall()
        names = [*_COLUMN_NAMES, "received_at", "accepted_at"]
        return [dict(zip(names, row, strict=True)) for row in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ExecutionLedger:
    """The executions the city reports per fiscal year (``GET /v1/executions``), beside the batches.

    Rows set by an operator (``--executions FILE`` or ``POST /_executions``) are kept as given, even
    malformed ones (so tests can plant them); every project of an accepted allocation batch of that year
    that has no row is reported as planned.
    """

    def __init__(self, store: CityStore) -> None:
        self.store = store

    def set_rows(self, fiscal_year: int, items: list[Any]) -> None:
        """Replace the rows the city reports for one fiscal year."""
        with self.store._lock:
            self.store._conn.execute(
                "INSERT INTO execution_set (fiscal_year, items, set_at) VALUES (?, ?, ?)"
                " ON CONFLICT (fiscal_year) DO UPDATE SET items = excluded.items, set_at = excluded.set_at",
                (fiscal_year, json.dumps(items, ensure_ascii=False), _now()),
            )

    def clear(self) -> None:
        with self.store._lock:
            self.store._conn.execute("DELETE FROM execution_set")

    def rows(self, fiscal_year: int) -> list[tuple[str, Any]]:
        """Every row for the fiscal year with its paging key (the project code), in key order."""
        with self.store._lock:
            found = self.store._conn.execute(
                "SELECT items FROM execution_set WHERE fiscal_year = ?", (fiscal_year,)
            ).fetchone()
            bodies = self.store._conn.execute(
                "SELECT body FROM batch WHERE kind = 'allocation' AND status = 'accepted' ORDER BY revision"
            ).fetchall()
        explicit = json.loads(found[0]) if found else []
        rows: dict[str, Any] = {}
        for (body,) in bodies:  # later revisions replace earlier ones' items
            batch = json.loads(body)
            if batch.get("fiscal_year") == fiscal_year:
                for item in batch.get("items", []):
                    rows[str(item["project_code"])] = {"project_code": item["project_code"], "status": "planned"}
        for item in explicit:
            code = item.get("project_code") if isinstance(item, dict) else None
            rows[str(code) if code is not None else f"~{len(rows)}"] = item
        return sorted(rows.items(), key=lambda pair: pair[0])
