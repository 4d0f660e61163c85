"""The reference city server: a small standalone adapter that implements contract v1.

City IT teams run it to see what the portal sends; the tests run it for real on 127.0.0.1.
It keeps its own SQLite file (stdlib ``sqlite3``) and never touches the portal database.
Fault knobs (``POST /_faults``) make the next requests fail, slow down, drop the connection
or redirect, for tests and rehearsals; they exist only on loopback or with ``--faults``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from litestar import Litestar, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.params import Body, FromPath, HeaderParameter, QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from portal.connector import signing
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

logger = logging.getLogger("portal.connector.city_sim")

PROBLEM_MEDIA_TYPE = "application/problem+json"
KINDS = {"allocation": "allocation-batches", "award": "award-batches"}

# Seoul's 25 autonomous districts (administrative codes of the Ministry of the Interior).
SEOUL_DISTRICTS: tuple[tuple[str, str], ...] = (
    ("11110", "Jongno-gu"),
    ("11140", "Jung-gu"),
    ("11170", "Yongsan-gu"),
    ("11200", "Seongdong-gu"),
    ("11215", "Gwangjin-gu"),
    ("11230", "Dongdaemun-gu"),
    ("11260", "Jungnang-gu"),
    ("11290", "Seongbuk-gu"),
    ("11305", "Gangbuk-gu"),
    ("11320", "Dobong-gu"),
    ("11350", "Nowon-gu"),
    ("11380", "Eunpyeong-gu"),
    ("11410", "Seodaemun-gu"),
    ("11440", "Mapo-gu"),
    ("11470", "Yangcheon-gu"),
    ("11500", "Gangseo-gu"),
    ("11530", "Guro-gu"),
    ("11545", "Geumcheon-gu"),
    ("11560", "Yeongdeungpo-gu"),
    ("11590", "Dongjak-gu"),
    ("11620", "Gwanak-gu"),
    ("11650", "Seocho-gu"),
    ("11680", "Gangnam-gu"),
    ("11710", "Songpa-gu"),
    ("11740", "Gangdong-gu"),
)


class CityProblem(Exception):
    """A refusal answered as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        errors: list[str] | None = None,
        headers: dict[str, str] | None = None,
        current_revision: int | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=f"urn:hangang:city-budget:problem:{slug}",
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
            current_revision=current_revision,
        )
        self.headers = headers or {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    """Render a problem with its media type."""
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers or {},
    )


# ----------------------------------------------------------------------------- envelopes


def default_envelopes(fiscal_year: int) -> list[Envelope]:
    """Deterministic district envelopes: 1.0 to 2.0 billion KRW in steps of 25 million."""
    envelopes = []
    for code, name in SEOUL_DISTRICTS:
        digest = hashlib.sha256(f"{fiscal_year}:{code}".encode()).digest()
        amount = 1_000_000_000 + int.from_bytes(digest[:4], "big") % 41 * 25_000_000
        envelopes.append(Envelope(district_code=code, name=name, amount=str(amount)))
    return envelopes


def load_envelopes(path: Path) -> dict[int, list[Envelope]]:
    """Read ``{"2027": [{district_code, name, amount}, ...]}``; the years listed replace the defaults."""
    try:
        raw = msgspec.json.decode(path.read_bytes(), type=dict[str, list[Envelope]])
    except OSError as exc:
        raise ValueError(f"cannot read the envelopes file {path}: {exc.strerror}") from exc
    except msgspec.ValidationError as exc:
        raise ValueError(f"the envelopes file {path} is invalid: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValueError(f"the envelopes file {path} is not JSON: {exc}") from exc
    table: dict[int, list[Envelope]] = {}
    for year, envelopes in raw.items():
        if not year.isdigit():
            raise ValueError(
                f"the envelopes file {path} has a key {year!r} that is not a fiscal year"
            )
        table[int(year)] = envelopes
    return table


# ----------------------------------------------------------------------------- storage


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


# ----------------------------------------------------------------------------- faults


class FaultSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the next requests should suffer (``POST /_faults``); counters count down."""

    fail_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    status: Literal[500, 502, 503, 504, 429, 408] = 500
    retry_after: Annotated[int, msgspec.Meta(ge=0, le=3600)] | None = None
    delay: Annotated[float, msgspec.Meta(ge=0, le=120)] = 0.0
    delay_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    drop_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    redirect_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    # "after": the city stores the batch first and then fails or drops: the ambiguous case.
    phase: Literal["before", "after"] = "before"
    methods: list[Literal["GET", "POST"]] = msgspec.field(default_factory=lambda: ["POST"])


@dataclass
class FaultState:
    """The live fault counters, shared by the injector and the handlers."""

    settings: FaultSettings = field(default_factory=FaultSettings)
    delays_left: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, settings: FaultSettings) -> None:
        """Replace the knobs and start a fresh request log."""
        with self.lock:
            self.settings = settings
            self.seen = []
            self.delays_left = (
                settings.delay_next
                if settings.delay_next is not None
                else (1 if settings.delay else 0)
            )

    def applies(self, method: str, path: str) -> bool:
        """Faults hit only the contract's endpoints and the chosen methods."""
        return path.startswith("/v1/") and method in self.settings.methods

    def take(self, name: str) -> bool:
        """Use up one count of a counter, if any is left."""
        with self.lock:
            left = getattr(self.settings, name)
            if left <= 0:
                return False
            setattr(self.settings, name, left - 1)
            return True

    def take_delay(self) -> float:
        """Return the delay for this request (0 when none is left)."""
        with self.lock:
            if self.delays_left <= 0 or not self.settings.delay:
                return 0.0
            self.delays_left -= 1
            return self.settings.delay


class ConnectionDropped(Exception):
    """Raised after the response started, so uvicorn closes the socket mid-response."""


class FaultInjector:
    """Outer ASGI wrapper: redirects, fails or drops requests as the knobs say."""

    def __init__(self, app: ASGIApp, faults: FaultState) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.faults.applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        settings = self.faults.settings
        key = dict(scope["headers"]).get(b"idempotency-key", b"").decode("latin-1")
        entry = {"method": scope["method"], "path": scope["path"], "key": key, "fault": None}
        self.faults.seen.append(entry)
        if self.faults.take("redirect_next"):
            entry["fault"] = "redirect"
            await _send_simple(send, 302, b"", [(b"location", b"http://127.0.0.2:9/elsewhere")])
            return
        if self.faults.take("fail_next"):
            entry["fault"] = f"fail {settings.status} {settings.phase}"
            if settings.phase == "after":
                await self.app(scope, receive, _swallow)
            problem = Problem(
                type="urn:hangang:city-budget:problem:injected-fault",
                title="Injected fault",
                status=settings.status,
            )
            headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
            if settings.retry_after is not None:
                headers.append((b"retry-after", str(settings.retry_after).encode()))
            await _send_simple(send, settings.status, msgspec.json.encode(problem), headers)
            return
        if self.faults.take("drop_next"):
            entry["fault"] = f"drop {settings.phase}"
            if settings.phase == "after":
                await self.app(scope, receive, _swallow)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionDropped("connection dropped on purpose by the fault knobs")
        await self.app(scope, receive, send)


async def _swallow(message: Message) -> None:
    """A send() that discards the app's reply (for faults after processing)."""


async def _send_simple(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# ----------------------------------------------------------------------------- the app


@dataclass
class CitySim:
    """Everything the handlers need: keys, ledger, envelopes, faults and the clock."""

    keys: list[bytes]
    store: CityStore
    envelopes: dict[int, list[Envelope]] = field(default_factory=dict)
    faults: FaultState = field(default_factory=FaultState)
    clock: Callable[[], float] = time.time


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


@post(
    "/v1/allocation-batches",
    guards=[require_signature],
    status_code=201,
    responses=_PUSH_RESPONSES,
    summary="Push a batch of approved PB allocations",
    description=_SIGNED,
    tags=["push"],
)
async def push_allocation_batch(
    request: Request[Any, Any, Any],
    data: Annotated[AllocationBatch, Body(title="Allocation batch")],
    idempotency_key: IdempotencyKeyHeader,
) -> Receipt:
    """Accept, replay or refuse one revision of a PB allocation batch."""
    return await _push(request, "allocation", data, idempotency_key)  # type: ignore[return-value]


@post(
    "/v1/award-batches",
    guards=[require_signature],
    status_code=201,
    responses=_PUSH_RESPONSES,
    summary="Push a batch of approved AI 50 Challenge awards",
    description=_SIGNED,
    tags=["push"],
)
async def push_award_batch(
    request: Request[Any, Any, Any],
    data: Annotated[AwardBatch, Body(title="Award batch")],
    idempotency_key: IdempotencyKeyHeader,
) -> Receipt:
    """Accept, replay or refuse one revision of an award batch."""
    return await _push(request, "award", data, idempotency_key)  # type: ignore[return-value]


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


def _problem_from_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, CityProblem):
        problem = exc.problem
        problem.instance = request.url.path
        return problem_response(problem, exc.headers)
    if isinstance(exc, ValidationException):
        raw = getattr(request.state, "raw_body", b"")
        errors = [
            f"{item.get('key') or 'body'}: {item.get('message')}"
            for item in (exc.extra or [])
            if isinstance(item, dict)
        ]
        try:
            json.loads(raw)
        except ValueError:
            if request.method == "POST":
                return problem_response(
                    Problem(
                        type="urn:hangang:city-budget:problem:malformed",
                        title="The body is not JSON",
                        status=400,
                    )
                )
        status = 422 if request.method == "POST" else 400
        return problem_response(
            Problem(
                type="urn:hangang:city-budget:problem:invalid-batch"
                if status == 422
                else "urn:hangang:city-budget:problem:bad-request",
                title="The request does not follow contract v1",
                status=status,
                detail=exc.detail,
                errors=errors,
            )
        )
    if isinstance(exc, HTTPException):
        return problem_response(
            Problem(type="about:blank", title=exc.detail, status=exc.status_code),
            dict(exc.headers or {}),
        )
    logger.error("city-sim failed on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem(type="about:blank", title="Internal Server Error", status=500))


def create_city_app(
    keys: list[bytes],
    data_path: Path,
    envelopes: dict[int, list[Envelope]] | None = None,
    faults_enabled: bool = False,
    clock: Callable[[], float] = time.time,
) -> Litestar:
    """Build the reference city server's Litestar app."""
    city = CitySim(keys=keys, store=CityStore(data_path), envelopes=envelopes or {}, clock=clock)
    handlers: list[Any] = [
        push_allocation_batch,
        push_award_batch,
        get_allocation_batch,
        get_award_batch,
        list_envelopes,
    ]
    if faults_enabled:
        handlers += [set_faults, clear_faults, list_batches]
    return Litestar(
        route_handlers=handlers,
        state=State({"city": city}),
        exception_handlers={Exception: _problem_from_exception},
        on_shutdown=[lambda: city.store.close()],
        request_max_body_size=4 * 1024 * 1024,
        openapi_config=OpenAPIConfig(
            title="Hangang city budget adapter (reference implementation)",
            version="1.0.0",
            description=(
                "Contract v1 between Hangang Portal and a city budget adapter. Pushes are signed in the "
                "Standard Webhooks scheme (HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` "
                "with the base64-decoded `whsec_` secret; timestamps within 5 minutes), carry "
                "`Idempotency-Key: <batch_id>:<revision>` and are answered with RFC 9457 problems on "
                "error. `body_sha256` is the SHA-256 of the body's canonical JSON (sorted keys, no "
                "spaces, UTF-8) without its `dry_run` member."
            ),
            path="/schema",
        ),
    )


def create_city_asgi(app: Litestar) -> ASGIApp:
    """Wrap the app with the fault injector (a no-op unless knobs are set)."""
    return FaultInjector(app, app.state["city"].faults)


def is_loopback(host: str) -> bool:
    """True when the server listens only on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
