"""The fault knobs: make the next requests fail, slow down, drop the connection or redirect."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from portal.connector.city_sim.problems import PROBLEM_MEDIA_TYPE
from portal.connector.schemas import Problem


class FaultSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the next requests should suffer (``POST /_faults``); counters count down."""

    fail_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    status: Literal[500, 502, 503, 504, 429, 408] = 500
    retry_after: Annotated[int, msgspec.Meta(ge=0, le=3600)] | None = None
    delay: Annotated[float, msgspec.Meta(ge=0, le=120)] = 0.0
    delay_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    drop_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    redirect_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    # Answer 200 with a cut-off JSON body (a broken proxy, a half-written export).
    malformed_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
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
        if self.faults.take("malformed_next"):
            entry["fault"] = "malformed"
            body = b'{"fiscal_year": 2026, "items": [{"project_code": "PB-'
            await _send_simple(send, 200, body, [(b"content-type", b"application/json")])
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
