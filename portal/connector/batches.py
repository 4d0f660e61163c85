"""Build contract v1 batch bodies from plain data (pure: no database, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from portal.connector.schemas import (
    SCHEMA_VERSION,
    AllocationBatch,
    AllocationItem,
    Approval,
    AwardBatch,
    AwardItem,
    District,
    Recipient,
    Source,
    Totals,
)

SYSTEM = "hangang-portal"


@dataclass(frozen=True)
class AllocationLine:
    """One funded PB project, in the portal's words."""

    line_id: str
    project_code: str
    title: str
    district_code: str
    district_name: str
    category: str
    amount: int
    votes: int
    rank: int
    rule: str


@dataclass(frozen=True)
class AwardLine:
    """One AI 50 Challenge award."""

    line_id: str
    award_code: str
    title: str
    recipient_id: str
    recipient_name: str
    category: str
    amount: int
    rank: int
    score: str | None = None


@dataclass(frozen=True)
class BatchHeader:
    """What every batch says about itself."""

    batch_id: str
    # None: ``enqueue_batch`` gives the next revision of this batch.
    revision: int | None
    fiscal_year: int
    cycle: str
    approvals: Sequence[tuple[str, datetime]]
    generated_at: datetime
    closed_at: datetime | None = None
    results_sha256: str | None = None
    audit_head: str | None = None


def _utc(moment: datetime) -> datetime:
    """Whole seconds in UTC, so the JSON is the same wherever it is built."""
    if moment.tzinfo is None:
        raise ValueError("times in a batch must carry a time zone")
    return moment.astimezone(UTC).replace(microsecond=0)


def _common(header: BatchHeader, amounts: list[int]) -> dict[str, Any]:
    if any(amount < 0 for amount in amounts):
        raise ValueError("amounts must not be negative")
    return {
        "schema_version": SCHEMA_VERSION,
        "batch_id": header.batch_id,
        "revision": header.revision or 1,
        "dry_run": False,
        "generated_at": _utc(header.generated_at),
        "fiscal_year": header.fiscal_year,
        "currency": "KRW",
        "source": Source(
            system=SYSTEM,
            cycle=header.cycle,
            closed_at=_utc(header.closed_at) if header.closed_at else None,
            results_sha256=header.results_sha256,
            audit_head=header.audit_head,
        ),
        "approvals": [
            Approval(official=official, approved_at=_utc(at)) for official, at in header.approvals
        ],
        "totals": Totals(item_count=len(amounts), amount=str(sum(amounts))),
    }


def allocation_batch(header: BatchHeader, lines: Sequence[AllocationLine]) -> dict[str, Any]:
    """Return the JSON-ready body of a PB allocation batch, totals computed."""
    items = [
        AllocationItem(
            line_id=line.line_id,
            project_code=line.project_code,
            title=line.title,
            district=District(code=line.district_code, name=line.district_name),
            category=line.category,
            amount=str(line.amount),
            votes=line.votes,
            rank=line.rank,
            rule=line.rule,
        )
        for line in lines
    ]
    batch = AllocationBatch(**_common(header, [line.amount for line in lines]), items=items)
    return _checked(batch, AllocationBatch, header.revision)


def award_batch(header: BatchHeader, lines: Sequence[AwardLine]) -> dict[str, Any]:
    """Return the JSON-ready body of an award batch, totals computed."""
    items = [
        AwardItem(
            line_id=line.line_id,
            award_code=line.award_code,
            title=line.title,
            recipient=Recipient(id=line.recipient_id, name=line.recipient_name),
            category=line.category,
            amount=str(line.amount),
            rank=line.rank,
            score=line.score,
        )
        for line in lines
    ]
    batch = AwardBatch(**_common(header, [line.amount for line in lines]), items=items)
    return _checked(batch, AwardBatch, header.revision)


def _checked(
    batch: AllocationBatch | AwardBatch, kind: type, revision: int | None
) -> dict[str, Any]:
    """Round-trip through the contract's schema so the portal never enqueues what the city rejects."""
    encoded = msgspec.json.encode(batch)
    try:
        msgspec.json.decode(encoded, type=kind)
    except msgspec.ValidationError as exc:
        raise ValueError(f"the batch breaks contract v1: {exc}") from exc
    body = msgspec.json.decode(encoded)
    body["revision"] = revision
    return body
