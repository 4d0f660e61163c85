"""Officials' pages and JSON API for city budget deliveries: status, history, dry run, retry, export."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from portal import clock, i18n
from portal.auth import requires_official
from portal.connector import services
from portal.schemas import ErrorResponse
from portal.web import openapi
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]
# The portal's one error map, with the role these calls need and the batch's own refusals.
ERRORS = openapi.ERRORS | {
    403: ResponseSpec(data_container=ErrorResponse, description="Not an official"),
    404: ResponseSpec(data_container=ErrorResponse, description="No such batch"),
    409: ResponseSpec(data_container=ErrorResponse, description="Not possible in the batch's state"),
}


class AttemptRead(msgspec.Struct):
    """One exchange with the city."""

    started_at: str
    method: str
    path: str
    status_code: int | None
    latency_ms: int
    error: str | None
    dry_run: bool


class BatchRead(msgspec.Struct):
    """One outbox batch as the API shows it."""

    id: int
    batch_id: str
    kind: str
    revision: int
    title: str
    status: str
    attempts: int
    item_count: int
    amount: int
    body_sha256: str
    next_attempt_at: str
    created_at: str
    delivered_at: str | None
    receipt: dict[str, Any] | None
    last_error: str | None
    history: list[AttemptRead] = msgspec.field(default_factory=list)


class ValidationRead(msgspec.Struct):
    """The city's answer to a dry run."""

    ok: bool
    message: str
    errors: list[str]


class EnvelopesApplied(msgspec.Struct):
    """District pots set from the city's envelopes."""

    districts: dict[str, int]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def batch_read(view: services.BatchView) -> BatchRead:
    return BatchRead(
        id=view.id,
        batch_id=view.batch_id,
        kind=view.kind,
        revision=view.revision,
        title=view.title,
        status=view.status,
        attempts=view.attempts,
        item_count=view.item_count,
        amount=view.amount,
        body_sha256=view.body_sha256,
        next_attempt_at=view.next_attempt_at.isoformat(),
        created_at=view.created_at.isoformat(),
        delivered_at=_iso(view.delivered_at),
        receipt=view.receipt,
        last_error=view.last_error,
        history=[
            AttemptRead(
                started_at=h["started_at"].isoformat(),
                method=h["method"],
                path=h["path"],
                status_code=h["status_code"],
                latency_ms=h["latency_ms"],
                error=h["error"],
                dry_run=h["dry_run"],
            )
            for h in view.history
        ],
    )


def _export_response(name: str, data: bytes) -> Response[bytes]:
    return Response(
        content=data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _official_id(request: Request) -> int:
    user = signed_in_user(request)
    return user.id


async def _apply_envelopes(request: Request, cycle_id: int) -> Redirect:
    changed = await services.apply_envelopes(cycle_id, _official_id(request))
    request.session["flash"] = i18n.gettext(
        "District pots set from the city's envelopes: %(count)s districts.", count=len(changed)
    )
    return back_to("/officials/connector")


class ConnectorPages(Controller):
    """The officials' delivery board."""

    path = "/officials/connector"
    guards = [requires_official]

    @get("/")
    async def batch_list(self, request: Request) -> Template:
        """Every batch sent, or to be sent, to the city budget system."""
        batches = await services.list_batches()
        return page(
            request,
            "connector/batches.html",
            batches=batches,
            failed=[b for b in batches if b.status == "failed"],
            stuck=services.stuck_batches(batches, clock.now()),
            cycles=await services.cycles_open_for_envelopes(),
            flash=request.session.pop("flash", None),
        )

    @post("/envelopes")
    async def envelopes_form(self, request: Request, data: FormData) -> Redirect:
        """The board's form: set the chosen cycle's district pots from the city's envelopes."""
        cycle_id = data.get("cycle_id", "")
        if not cycle_id.isdigit():
            request.session["flash"] = "Choose a cycle."
            return back_to("/officials/connector")
        return await _apply_envelopes(request, int(cycle_id))

    @get("/batches/{batch_pk:int}")
    async def batch_detail(self, request: Request, batch_pk: FromPath[int]) -> Template:
        """One batch: status, receipt or reason, attempt history, and what an official can do."""
        batch = await services.get_batch(batch_pk)
        validation = request.session.pop("connector_validation", None)
        if validation and validation.get("batch") != batch_pk:
            validation = None
        return page(
            request,
            "connector/batch.html",
            batch=batch,
            stuck=bool(services.stuck_batches([batch], clock.now())),
            validation=validation,
            flash=request.session.pop("flash", None),
        )

    @post("/batches/{batch_pk:int}/validate")
    async def validate(self, request: Request, batch_pk: FromPath[int]) -> Redirect:
        """Dry run: the city validates the batch and stores nothing."""
        result = await services.validate_batch(batch_pk, _official_id(request))
        request.session["connector_validation"] = {
            "batch": batch_pk,
            "ok": result.ok,
            "message": result.message,
            "errors": result.errors[:50],
        }
        return back_to(f"/officials/connector/batches/{batch_pk}")

    @post("/batches/{batch_pk:int}/retry")
    async def retry(self, request: Request, batch_pk: FromPath[int]) -> Redirect:
        """Queue a failed batch again (same revision and idempotency key)."""
        await services.retry_batch(batch_pk, _official_id(request))
        request.session["flash"] = "The batch is queued for delivery."
        return back_to(f"/officials/connector/batches/{batch_pk}")

    @get("/batches/{batch_pk:int}/export")
    async def export(self, batch_pk: FromPath[int]) -> Response[bytes]:
        """The signed file export (zip with manifest.json) to hand over instead of a push."""
        name, data = await services.export_bundle(batch_pk)
        return _export_response(name, data)

    @post("/cycles/{cycle_id:int}/envelopes")
    async def envelopes(self, request: Request, cycle_id: FromPath[int]) -> Redirect:
        """Set a PB cycle's district pots from the city's envelopes."""
        return await _apply_envelopes(request, cycle_id)


class ConnectorApi(Controller):
    """The same actions as JSON."""

    path = "/api/v1/connector"
    guards = [requires_official]
    tags = ["city budget connector"]

    @get("/batches", responses=ERRORS)
    async def list_batches(self) -> list[BatchRead]:
        """Every outbox batch, newest first."""
        return [batch_read(view) for view in await services.list_batches()]

    @get("/batches/{batch_pk:int}", responses=ERRORS)
    async def get_batch(self, batch_pk: FromPath[int]) -> BatchRead:
        """One batch with its attempt history."""
        return batch_read(await services.get_batch(batch_pk))

    @post("/batches/{batch_pk:int}/validate", responses=ERRORS, status_code=200)
    async def validate(self, request: Request, batch_pk: FromPath[int]) -> ValidationRead:
        """Dry run with the city system."""
        result = await services.validate_batch(batch_pk, _official_id(request))
        return ValidationRead(ok=result.ok, message=result.message, errors=result.errors)

    @post("/batches/{batch_pk:int}/retry", responses=ERRORS, status_code=200)
    async def retry(self, request: Request, batch_pk: FromPath[int]) -> BatchRead:
        """Queue a failed batch again."""
        await services.retry_batch(batch_pk, _official_id(request))
        return batch_read(await services.get_batch(batch_pk))

    @get("/batches/{batch_pk:int}/export", responses=ERRORS)
    async def export(self, batch_pk: FromPath[int]) -> Response[bytes]:
        """The signed export bundle as a zip."""
        name, data = await services.export_bundle(batch_pk)
        return _export_response(name, data)

    @post("/cycles/{cycle_id:int}/envelopes", responses=ERRORS, status_code=200)
    async def envelopes(self, request: Request, cycle_id: FromPath[int]) -> EnvelopesApplied:
        """Set a PB cycle's district pots from the city's envelopes."""
        return EnvelopesApplied(
            districts=await services.apply_envelopes(cycle_id, _official_id(request))
        )
