"""The portal's client for the city budget adapter (contract v1).

One ``httpx.AsyncClient`` per process, bound to the configured base URL; signed pushes with a
fixed Idempotency-Key; retries with full-jitter backoff that honour ``Retry-After`` (the policy and
the error types are in ``retries.py``); a reconciliation GET after an ambiguous failure; and the
district envelope pull.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import msgspec

from portal.connector import signing
from portal.connector.retries import (
    Attempt,
    CityError,
    CityRefused,
    CityUnavailable,
    OutsideCityError,
    Retryable,
    RetryPolicy,
    raise_for_failure,
    retrying,
)
from portal.connector.schemas import Envelope, Execution, Receipt
from portal.connector.settings import CitySettings

logger = logging.getLogger("portal.connector")

Kind = Literal["allocation", "award"]
PATHS: dict[str, str] = {"allocation": "/v1/allocation-batches", "award": "/v1/award-batches"}
DEFAULT_TIMEOUT = httpx.Timeout(10, connect=3)


class CityAbsence:
    """Development without a city system: say so once, not on every poll.

    Connection refusals are logged at debug level after the first one, until the city answers
    again. Production keeps a warning per failed exchange (an operator must see an outage).
    """

    said = False

    @classmethod
    def quiet(cls) -> bool:
        """Whether connection failures are currently logged at debug level only."""
        return cls.said

    @classmethod
    def connect_failed(cls, url: str) -> bool:
        """Record a refused connection; True when it was already said (log it quietly)."""
        from portal.settings import get_settings

        if get_settings().is_production:
            return False
        if cls.said:
            return True
        cls.said = True
        logger.warning(
            "no city budget system answers at %s (development): approved batches wait in the"
            " outbox and are retried; start `hangang city-sim` to receive them."
            " Said once until the city answers.",
            url,
        )
        return True

    @classmethod
    def answered(cls) -> None:
        cls.said = False


class _RawExecutionPage(msgspec.Struct):
    """A page of ``GET /v1/executions`` whose rows are checked one by one (a bad row is reported, not fatal)."""

    fiscal_year: int
    items: list[msgspec.Raw]
    next_after: str | None = None


@dataclass
class ExecutionPull:
    """The rows the city reported for a fiscal year: the valid ones, and why the others were left out."""

    fiscal_year: int
    rows: list[Execution] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    pages: int = 0
    attempts: list[Attempt] = field(default_factory=list)


MAX_EXECUTION_PAGES = 1000


@dataclass
class PushOutcome:
    """How a push ended when it succeeded."""

    result: Literal["accepted", "replayed", "validated", "reconciled"]
    receipt: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)


# ----------------------------------------------------------------------------- the HTTP client


_shared_client: httpx.AsyncClient | None = None


def build_http_client(
    settings: CitySettings, timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> httpx.AsyncClient:
    """Make an ``AsyncClient`` that can only reach the city's base URL and never follows redirects."""
    if not settings.base_url:
        raise CityError("HANGANG_CITY_BUDGET_URL is not set")
    base = httpx.URL(settings.base_url)

    async def only_the_city(request: httpx.Request) -> None:
        if (request.url.scheme, request.url.host, request.url.port) != (
            base.scheme,
            base.host,
            base.port,
        ):
            raise OutsideCityError(
                f"refused to contact {request.url.host}: only the configured city host is allowed"
            )

    return httpx.AsyncClient(
        base_url=settings.base_url,
        timeout=timeout,
        follow_redirects=False,
        verify=True,
        trust_env=False,
        event_hooks={"request": [only_the_city]},
        headers={"user-agent": "hangang-portal-connector/1"},
    )


def shared_http_client(settings: CitySettings) -> httpx.AsyncClient:
    """Return the process's one ``AsyncClient`` (created on first use)."""
    global _shared_client
    if (
        _shared_client is None
        or _shared_client.is_closed
        or str(_shared_client.base_url).rstrip("/") != settings.base_url
    ):
        _shared_client = build_http_client(settings)
    return _shared_client


async def close_shared_http_client() -> None:
    """Close the process's client (call at shutdown)."""
    global _shared_client
    if _shared_client is not None:
        await _shared_client.aclose()
        _shared_client = None


class CityClient:
    """Pushes batches to, and reads from, the city budget adapter."""

    def __init__(
        self,
        settings: CitySettings,
        http: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.http = http or shared_http_client(settings)
        self.policy = policy or RetryPolicy()
        self.clock = clock

    # -- one signed exchange ---------------------------------------------------------

    async def _exchange(
        self,
        method: str,
        path: str,
        attempts: list[Attempt],
        body: bytes = b"",
        msg_id: str | None = None,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        timestamp = int(self.clock())
        msg_id = msg_id or signing.message_id("get", f"{path}?{params}", False) + f"_{timestamp}"
        headers = signing.signing_headers(
            self.settings.keys, self.settings.key_id, msg_id, timestamp, body
        )
        if method == "POST":
            headers["content-type"] = "application/json; charset=utf-8"
        if key:
            headers["idempotency-key"] = key
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        try:
            response = await self.http.request(
                method, path, content=body or None, headers=headers, params=params
            )
        except OutsideCityError:
            raise
        except httpx.HTTPError as exc:
            latency = int((time.perf_counter() - started) * 1000)
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            attempts.append(Attempt(started_at, method, path, None, latency, error=reason))
            absent = isinstance(exc, httpx.ConnectError) and CityAbsence.connect_failed(
                self.settings.base_url
            )
            logger.log(
                logging.DEBUG if absent else logging.WARNING,
                "city %s %s failed (%s) in %d ms, idempotency key %s",
                method,
                path,
                type(exc).__name__,
                latency,
                key or "-",
                extra={
                    "method": method,
                    "path": path,
                    "status": None,
                    "latency_ms": latency,
                    "idempotency_key": key,
                },
            )
            # A connect error never reached the city; anything later may have been applied.
            raise Retryable(reason, ambiguous=not isinstance(exc, httpx.ConnectError)) from exc
        latency = int((time.perf_counter() - started) * 1000)
        attempts.append(Attempt(started_at, method, path, response.status_code, latency))
        CityAbsence.answered()
        logger.info(
            "city %s %s -> %d in %d ms, idempotency key %s",
            method,
            path,
            response.status_code,
            latency,
            key or "-",
            extra={
                "method": method,
                "path": path,
                "status": response.status_code,
                "latency_ms": latency,
                "idempotency_key": key,
            },
        )
        return response

    # -- pushes ------------------------------------------------------------------------

    async def push(self, kind: Kind, payload: dict[str, Any], dry_run: bool = False) -> PushOutcome:
        """Push one batch revision; retry what may succeed later; raise ``CityError`` otherwise.

        After an ambiguous failure (timeout, dropped connection, 5xx) the city is asked whether it
        already holds this revision with the same ``body_sha256``; if so, the push is done.
        """
        body_payload = dict(payload, dry_run=dry_run)
        body = signing.body_bytes(body_payload)
        sha = signing.body_sha256(body_payload)
        key = signing.idempotency_key(str(payload["batch_id"]), int(payload["revision"]))
        msg_id = signing.message_id(kind, key, dry_run)
        path = PATHS[kind]
        attempts: list[Attempt] = []

        async def attempt() -> PushOutcome:
            try:
                response = await self._exchange(
                    "POST", path, attempts, body=body, msg_id=msg_id, key=key
                )
                if response.status_code in {200, 201}:
                    return self._success(response, dry_run, attempts)
                raise_for_failure(response, self.clock)
            except Retryable as failure:
                if failure.ambiguous and not dry_run:
                    held = await self._reconcile_quietly(kind, payload, sha, attempts)
                    if held is not None:
                        return PushOutcome("reconciled", held, attempts)
                raise
            raise AssertionError("unreachable")  # pragma: no cover

        try:
            async for trying in retrying(self.policy, attempts):
                with trying:
                    outcome = await attempt()
        except Retryable as failure:
            unavailable = CityUnavailable(
                f"no answer after {len(attempts)} attempts: {failure}",
                retry_after=failure.retry_after,
                ambiguous=failure.ambiguous,
            )
            unavailable.attempts = attempts
            raise unavailable from failure
        except CityError as error:
            error.attempts = attempts
            raise
        return outcome

    def _success(
        self, response: httpx.Response, dry_run: bool, attempts: list[Attempt]
    ) -> PushOutcome:
        try:
            receipt = response.json()
        except ValueError as exc:
            raise Retryable("the city's reply is not JSON", ambiguous=True) from exc
        if dry_run:
            return PushOutcome("validated", receipt, attempts)
        replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
        return PushOutcome("replayed" if replayed else "accepted", receipt, attempts)

    async def _reconcile_quietly(
        self, kind: Kind, payload: dict[str, Any], sha: str, attempts: list[Attempt]
    ) -> dict[str, Any] | None:
        """Ask whether the city holds this revision with this body; ``None`` on any doubt."""
        try:
            held = await self.reconcile(
                kind, str(payload["batch_id"]), int(payload["revision"]), attempts
            )
        except (CityError, Retryable):
            return None
        if (
            held is not None
            and held.revision == int(payload["revision"])
            and held.body_sha256 == sha
        ):
            return msgspec.to_builtins(held)
        return None

    async def reconcile(
        self,
        kind: Kind,
        batch_id: str,
        revision: int | None = None,
        attempts: list[Attempt] | None = None,
    ) -> Receipt | None:
        """Return the city's receipt for the latest (or given) accepted revision, ``None`` if it holds none."""
        attempts = attempts if attempts is not None else []
        params = {"revision": str(revision)} if revision is not None else None
        response = await self._exchange("GET", f"{PATHS[kind]}/{batch_id}", attempts, params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise_for_failure(response, self.clock)
        try:
            return msgspec.json.decode(response.content, type=Receipt)
        except msgspec.DecodeError as exc:
            raise CityRefused(f"the city's reconciliation reply is not a receipt: {exc}") from exc

    async def fetch_envelopes(self, fiscal_year: int) -> list[Envelope]:
        """Pull each district's participation budget for a fiscal year (retried like pushes)."""
        attempts: list[Attempt] = []
        try:
            async for trying in retrying(self.policy, attempts):
                with trying:
                    response = await self._exchange(
                        "GET", "/v1/envelopes", attempts, params={"fiscal_year": str(fiscal_year)}
                    )
                    if response.status_code != 200:
                        raise_for_failure(response, self.clock)
        except Retryable as failure:
            raise CityUnavailable(
                f"no envelopes after {len(attempts)} attempts: {failure}"
            ) from failure
        try:
            return msgspec.json.decode(response.content, type=list[Envelope])
        except msgspec.DecodeError as exc:
            raise CityRefused(
                f"the city's envelopes are not in the contract's shape: {exc}"
            ) from exc

    async def fetch_executions(self, fiscal_year: int, limit: int = 200) -> ExecutionPull:
        """Pull how the city carries out the fiscal year's funded projects, every page, each retried like
        a push (5xx, 429, timeouts, a cut-off body). Rows that break the contract are reported in
        ``invalid`` with their position and the reason, and the others are returned."""
        pull = ExecutionPull(fiscal_year=fiscal_year)
        after: str | None = None
        while pull.pages < MAX_EXECUTION_PAGES:
            page = await self._execution_page(fiscal_year, after, limit, pull.attempts)
            if page.fiscal_year != fiscal_year:
                raise CityRefused(f"the city answered fiscal year {page.fiscal_year} for {fiscal_year}")
            for index, raw in enumerate(page.items):
                try:
                    pull.rows.append(msgspec.json.decode(raw, type=Execution))
                except msgspec.DecodeError as exc:
                    pull.invalid.append(f"page {pull.pages + 1}, row {index + 1}: {exc}")
            pull.pages += 1
            if not page.next_after or page.next_after == after:
                return pull
            after = page.next_after
        raise CityRefused(f"the city's executions did not end after {MAX_EXECUTION_PAGES} pages")

    async def _execution_page(
        self, fiscal_year: int, after: str | None, limit: int, attempts: list[Attempt]
    ) -> _RawExecutionPage:
        params = {"fiscal_year": str(fiscal_year), "limit": str(limit)}
        if after:
            params["after"] = after
        try:
            async for trying in retrying(self.policy, attempts):
                with trying:
                    response = await self._exchange("GET", "/v1/executions", attempts, params=params)
                    if response.status_code != 200:
                        raise_for_failure(response, self.clock)
                    page = _decode_execution_page(response.content)
        except Retryable as failure:
            unavailable = CityUnavailable(f"no executions after {len(attempts)} attempts: {failure}")
            unavailable.attempts = attempts
            raise unavailable from failure
        return page


def _decode_execution_page(content: bytes) -> _RawExecutionPage:
    """A page of executions; a body that is not JSON (cut off) is retried, a wrong shape is refused."""
    try:
        msgspec.json.decode(content)
    except msgspec.DecodeError as exc:
        raise Retryable("the city's executions reply is not JSON (cut off?)", ambiguous=False) from exc
    try:
        return msgspec.json.decode(content, type=_RawExecutionPage)
    except msgspec.DecodeError as exc:
        raise CityRefused(f"the city's executions are not in the contract's shape: {exc}") from exc
