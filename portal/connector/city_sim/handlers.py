"""The contract's endpoints: pushes, reconciliation, envelopes, and the fault knobs' own endpoints.

Annotations here are evaluated at definition (no ``from __future__ import annotations``), because
the push handlers are built per batch kind and Litestar reads their body type from the signature.
"""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, HeaderParameter, QueryParameter

from portal.connector import signing
from portal.connector.city_sim.envelopes import default_envelopes
from portal.connector.city_sim.faults import FaultSettings, FaultState
from portal.connector.city_sim.ledger import CityStore, ExecutionLedger
from portal.connector.city_sim.problems import PROBLEM_MEDIA_TYPE, CityProblem
from portal.connector.schemas import (
    AllocationBatch,
    AwardBatch,
    Batch,
    Envelope,
    Problem,
    Receipt,
    Validation,
    batch_errors,
)

KINDS = {"allocation": "allocation-batches", "award": "award-batches"}


@dataclass
class CitySim:
    """Everything the handlers need: keys, ledger, envelopes, faults and the clock."""

    keys: list[bytes]
    store: CityStore
    envelopes: dict[int, list[Envelope]] = field(default_factory=dict)
    faults: FaultState = field(default_factory=FaultState)
    clock: Callable[[], float] = time.time
    executions: ExecutionLedger = field(init=False)

    def __post_init__(self) -> None:
        self.executions = ExecutionLedger(self.store)


def _city(connection: ASGIConnection[Any, Any, Any, Any]) -> CitySim:
    return connection.app.state["city"]


async def require_signature(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a valid Standard Webhooks signature, a key id, and for pushes JSON and a key."""
    request: Request[Any, Any, Any] = connection  # type: ignore[assignment]
    body = await request.body()
    request.state.raw_body = body
    try:
        signing.verify(_city(request).keys, request.headers, body, now=int(_city(request).clock()))
    except signing.SigningError as exc:
        raise CityProblem(
            401, "bad-signature", "The request signature was refused", str(exc)
        ) from exc
    if not request.headers.get(signing.HEADER_KEY_ID):
        raise CityProblem(
            401, "bad-signature", "The request signature was refused", "missing X-Key-Id"
        )
    if request.method != "POST":
        return
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise CityProblem(415, "unsupported-media-type", "The body must be application/json")
    try:
        signing.parse_idempotency_key(request.headers.get(signing.HEADER_IDEMPOTENCY_KEY, ""))
    except signing.SigningError as exc:
        raise CityProblem(
            400, "bad-idempotency-key", "Missing or malformed Idempotency-Key", str(exc)
        ) from exc


IdempotencyKeyHeader = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        description="`<batch_id>:<revision>`; the same on every retry of a revision.",
    ),
]

_PUSH_RESPONSES = {
    200: ResponseSpec(
        Receipt | Validation,
        generate_examples=False,
        description="A replay of an accepted batch (header `Idempotent-Replayed: true`), or a dry run",
    ),
    400: ResponseSpec(
        Problem, description="Malformed JSON or Idempotency-Key", media_type=PROBLEM_MEDIA_TYPE
    ),
    401: ResponseSpec(
        Problem, description="Bad signature, key id or clock", media_type=PROBLEM_MEDIA_TYPE
    ),
    409: ResponseSpec(
        Problem, description="Same key in flight, or stale revision", media_type=PROBLEM_MEDIA_TYPE
    ),
    422: ResponseSpec(
        Problem,
        description="Same key with another body, or invalid (totals)",
        media_type=PROBLEM_MEDIA_TYPE,
    ),
    429: ResponseSpec(
        Problem, description="Overloaded; honour Retry-After", media_type=PROBLEM_MEDIA_TYPE
    ),
}
_SIGNED = "Signed with Standard Webhooks headers `webhook-id`, `webhook-timestamp`, `webhook-signature` and `X-Key-Id`."


async def _push(
    request: Request[Any, Any, Any], kind: str, batch: Batch, key: str
) -> Response[Any]:
    city = _city(request)
    body: bytes = request.state.raw_body
    if key != f"{batch.batch_id}:{batch.revision}":
        raise CityProblem(
            422, "key-mismatch", "Idempotency-Key must equal <batch_id>:<revision> of the body"
        )
    errors = batch_errors(batch)
    if errors:
        raise CityProblem(422, "invalid-batch", "The batch is inconsistent", errors=errors)
    try:
        sha = signing.body_sha256(json.loads(body))
    except signing.SigningError as exc:
        raise CityProblem(
            422, "invalid-batch", "The batch is inconsistent", errors=[str(exc)]
        ) from exc
    key_id = request.headers.get(signing.HEADER_KEY_ID, "")
    found = city.store.claim(kind, key, batch, body, sha, key_id)
    if batch.dry_run:
        validation = Validation(
            status="validated", batch_id=batch.batch_id, revision=batch.revision, body_sha256=sha
        )
        return Response(content=validation, status_code=200)
    if found is not None:
        return Response(
            content=found.receipt(), status_code=200, headers={"Idempotent-Replayed": "true"}
        )
    try:
        if delay := city.faults.take_delay():
            await asyncio.sleep(delay)
        stored = city.store.accept(kind, key)
    except BaseException:
        city.store.release(kind, key)
        raise
    return Response(content=stored.receipt(), status_code=201)


def _push_handler(kind: str, batch_type: type[Batch], summary: str, operation_id: str) -> Any:
    """The push POST of one batch kind (the two kinds differ only in path, body and ledger)."""

    @post(
        f"/v1/{KINDS[kind]}",
        guards=[require_signature],
        status_code=201,
        responses=_PUSH_RESPONSES,
        summary=summary,
        description=_SIGNED,
        tags=["push"],
        operation_id=operation_id,
    )
    async def push(
        request: Request[Any, Any, Any],
        data: Annotated[batch_type, Body(title=f"{kind.capitalize()} batch")],
        idempotency_key: IdempotencyKeyHeader,
    ) -> Receipt:
        """Accept, replay or refuse one revision of a batch."""
        return await _push(request, kind, data, idempotency_key)  # type: ignore[return-value]

    return push


# The operation ids are the ones the contract has always published.
push_allocation_batch = _push_handler(
    "allocation",
    AllocationBatch,
    "Push a batch of approved PB allocations",
    "V1AllocationBatchesPushAllocationBatch",
)
push_award_batch = _push_handler(
    "award",
    AwardBatch,
    "Push a batch of approved AI 50 Challenge awards",
    "V1AwardBatchesPushAwardBatch",
)


def _reconcile_handler(kind: str) -> Any:
    """The reconciliation GET of one batch kind (the two kinds differ only in path and ledger)."""

    @get(
        f"/v1/{KINDS[kind]}/{{batch_id:str}}",
        guards=[require_signature],
        responses={
            404: ResponseSpec(
                Problem, description="Nothing accepted", media_type=PROBLEM_MEDIA_TYPE
            )
        },
        summary=f"Reconcile: the latest accepted revision of an {kind} batch",
        description=_SIGNED + " Signed over an empty body.",
        tags=["reconciliation"],
        operation_id=f"reconcile_{kind}_batch",
        name=f"reconcile-{kind}",
    )
    async def reconcile(
        request: Request[Any, Any, Any],
        batch_id: FromPath[str],
        revision: Annotated[int | None, QueryParameter(ge=1, required=False)] = None,
    ) -> Receipt:
        """Return the receipt of the latest (or the given) accepted revision."""
        found = _city(request).store.accepted(kind, batch_id, revision)
        if found is None:
            raise CityProblem(404, "not-found", "No accepted revision of this batch is held")
        return found.receipt()

    return reconcile


get_allocation_batch = _reconcile_handler("allocation")
get_award_batch = _reconcile_handler("award")


@get(
    "/v1/envelopes",
    guards=[require_signature],
    summary="District participation budgets for a fiscal year",
    description=_SIGNED + " Signed over an empty body.",
    tags=["reference data"],
)


async def list_envelopes(
    request: Request[Any, Any, Any],
    fiscal_year: Annotated[int, QueryParameter(ge=2000, le=2100)],
) -> list[Envelope]:
    """Return each district's participation budget."""
    city = _city(request)
    if delay := city.faults.take_delay():
        await asyncio.sleep(delay)
    return city.envelopes.get(fiscal_year) or default_envelopes(fiscal_year)


@post("/_faults", include_in_schema=False, status_code=200)
async def set_faults(
    request: Request[Any, Any, Any], data: Annotated[FaultSettings, Body()]
) -> FaultSettings:
    """Set the fault knobs (rehearsals and tests only)."""
    _city(request).faults.configure(data)
    return data


@delete("/_faults", include_in_schema=False, status_code=200)
async def clear_faults(request: Request[Any, Any, Any]) -> FaultSettings:
    """Clear every fault knob."""
    city = _city(request)
    city.faults.configure(FaultSettings())
    return city.faults.settings


@get("/_batches", include_in_schema=False)
async def list_batches(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Every stored row and every faulted request, to check "exactly one copy"."""
    city = _city(request)
    return {"batches": city.store.all_batches(), "requests": list(city.faults.seen)}
