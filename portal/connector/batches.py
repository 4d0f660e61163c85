"""Build contract v1 batch bodies from plain data (pure: no database, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
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


def _item(
    kind: type[AllocationItem] | type[AwardItem], line: AllocationLine | AwardLine, **parts: Any
) -> Any:
    """A line as the contract's item: the line's fields of the same name, the amount as a decimal
    string, and the nested ``parts`` (the district, the recipient) built from the rest."""
    same = {name: value for name, value in asdict(line).items() if name in kind.__struct_fields__}
    return kind(**same | {"amount": str(line.amount)}, **parts)


def _batch(
    kind: type[AllocationBatch] | type[AwardBatch],
    header: BatchHeader,
    items: list[Any],
    amounts: list[int],
) -> dict[str, Any]:
    return _checked(kind(**_common(header, amounts), items=items), kind, header.revision)


def allocation_batch(header: BatchHeader, lines: Sequence[AllocationLine]) -> dict[str, Any]:
    """Return the JSON-ready body of a PB allocation batch, totals computed."""
    items = [
        _item(
            AllocationItem,
            line,
            district=District(code=line.district_code, name=line.district_name),
        )
        for line in lines
    ]
    return _batch(AllocationBatch, header, items, [line.amount for line in lines])


def award_batch(header: BatchHeader, lines: Sequence[AwardLine]) -> dict[str, Any]:
    """Return the JSON-ready body of an award batch, totals computed."""
    items = [
        _item(AwardItem, line, recipient=Recipient(id=line.recipient_id, name=line.recipient_name))
        for line in lines
    ]
    return _batch(AwardBatch, header, items, [line.amount for line in lines])


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
