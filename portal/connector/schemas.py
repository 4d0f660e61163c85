"""The wire shapes of contract v1, shared by the portal client and the reference city server."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

SCHEMA_VERSION = "1.0"

Amount = Annotated[
    str,
    Meta(
        pattern=r"^(0|[1-9][0-9]{0,17})$",
        description="Whole KRW as a decimal string (no sign, no separators).",
        examples=["250000000"],
    ),
]
BatchId = Annotated[
    str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", examples=["seoul-pb-2027"])
]
Revision = Annotated[int, Meta(ge=1, le=999_999_999)]
DistrictCode = Annotated[str, Meta(pattern=r"^[0-9]{5}$", examples=["11680"])]
ShortText = Annotated[str, Meta(min_length=1, max_length=300)]
Code = Annotated[str, Meta(min_length=1, max_length=64)]
UtcTime = Annotated[datetime, Meta(tz=True)]
FiscalYear = Annotated[int, Meta(ge=2000, le=2100)]


class Source(Struct, kw_only=True):
    """Where a batch comes from, so the city can trace it back to the portal's records."""

    system: ShortText
    cycle: ShortText
    closed_at: UtcTime | None = None
    results_sha256: Annotated[str, Meta(max_length=128)] | None = None
    audit_head: Annotated[str, Meta(max_length=128)] | None = None


class Approval(Struct, kw_only=True):
    """One official's approval of the batch."""

    official: Code
    approved_at: UtcTime


class Totals(Struct, kw_only=True):
    """Control totals; they must equal the sums over ``items``."""

    item_count: Annotated[int, Meta(ge=0)]
    amount: Amount


class District(Struct, kw_only=True):
    """An autonomous district (gu), by its administrative code."""

    code: DistrictCode
    name: ShortText


class AllocationItem(Struct, kw_only=True):
    """One funded participatory-budgeting project."""

    line_id: Code
    project_code: Code
    title: ShortText
    district: District
    category: Code
    amount: Amount
    votes: Annotated[int, Meta(ge=0)]
    rank: Annotated[int, Meta(ge=1)]
    rule: Code


class Recipient(Struct, kw_only=True):
    """The startup or SME that receives an award."""

    id: Code
    name: ShortText


class AwardItem(Struct, kw_only=True):
    """One AI 50 Challenge award."""

    line_id: Code
    award_code: Code
    title: ShortText
    recipient: Recipient
    category: Code
    amount: Amount
    rank: Annotated[int, Meta(ge=1)]
    score: Annotated[str, Meta(max_length=32)] | None = None


class _BatchHeader(Struct, kw_only=True):
    schema_version: Literal["1.0"]
    batch_id: BatchId
    revision: Revision
    dry_run: bool = False
    generated_at: UtcTime
    fiscal_year: FiscalYear
    currency: Literal["KRW"]
    source: Source
    approvals: Annotated[list[Approval], Meta(min_length=2, max_length=20)]
    totals: Totals


class AllocationBatch(_BatchHeader, kw_only=True):
    """A batch of approved PB allocations (``POST /v1/allocation-batches``)."""

    items: Annotated[list[AllocationItem], Meta(min_length=1, max_length=10_000)]


class AwardBatch(_BatchHeader, kw_only=True):
    """A batch of approved AI 50 Challenge awards (``POST /v1/award-batches``)."""

    items: Annotated[list[AwardItem], Meta(min_length=1, max_length=10_000)]


Batch = AllocationBatch | AwardBatch


class Receipt(Struct, kw_only=True):
    """The city's acknowledgement of an accepted batch (201, or 200 when replayed)."""

    receipt_id: str
    batch_id: str
    revision: int
    status: Literal["accepted"]
    body_sha256: str


class Validation(Struct, kw_only=True):
    """The answer to a dry run: the batch would be accepted; nothing was stored."""

    status: Literal["validated"]
    batch_id: str
    revision: int
    body_sha256: str


class Envelope(Struct, kw_only=True):
    """The participation budget of one district for a fiscal year."""

    district_code: DistrictCode
    name: ShortText
    amount: Amount


class Problem(Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem detail."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[str] = msgspec.field(default_factory=list)
    current_revision: int | None = None


def batch_errors(batch: Batch) -> list[str]:
    """Return what is inconsistent inside a well-formed batch (totals, duplicate lines, approvals)."""
    errors: list[str] = []
    if batch.totals.item_count != len(batch.items):
        errors.append(
            f"totals.item_count is {batch.totals.item_count} but the batch has {len(batch.items)} items"
        )
    amount = sum(int(item.amount) for item in batch.items)
    if int(batch.totals.amount) != amount:
        errors.append(f"totals.amount is {batch.totals.amount} but the items sum to {amount}")
    seen: set[str] = set()
    for item in batch.items:
        if item.line_id in seen:
            errors.append(f"line_id {item.line_id} appears more than once")
        seen.add(item.line_id)
    if len({approval.official for approval in batch.approvals}) < 2:
        errors.append("a batch needs approvals by two different officials")
    return errors


# ----------------------------------------------------------------------------- executions (pull)

ExecutionStatus = Literal["planned", "in-progress", "completed", "cancelled"]
ProjectCode = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["PB-00012"])]


class ExecutionMilestone(Struct, kw_only=True):
    """A dated step of a project's execution, keyed by the city's own id."""

    key: Code
    title: ShortText
    due_on: date
    done: bool = False


class ExecutionPayment(Struct, kw_only=True):
    """Money the city paid out for a project, keyed by the city's own id (a voucher number)."""

    key: Code
    paid_on: date
    amount: Amount
    note: Annotated[str, Meta(max_length=200)] = ""


class Execution(Struct, kw_only=True):
    """How the city is carrying out one funded project, keyed by the ``project_code`` the push used."""

    project_code: ProjectCode
    status: ExecutionStatus
    status_reason: Annotated[str, Meta(max_length=2000)] = ""
    milestones: list[ExecutionMilestone] = msgspec.field(default_factory=list)
    payments: list[ExecutionPayment] = msgspec.field(default_factory=list)
    updated_at: UtcTime | None = None


class ExecutionPage(Struct, kw_only=True):
    """One page of ``GET /v1/executions``; follow ``next_after`` until it is null."""

    fiscal_year: FiscalYear
    items: list[Execution]
    next_after: ProjectCode | None = None
