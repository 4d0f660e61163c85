"""The portal's client for the city budget adapter (contract v1).

One ``httpx.AsyncClient`` per process, bound to the configured base URL; signed pushes with a
fixed Idempotency-Key; retries with full-jitter backoff that honour ``Retry-After``;
a reconciliation GET after an ambiguous failure; and the district envelope pull.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from portal.connector import signing
from portal.connector.schemas import Envelope, Receipt
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


# ----------------------------------------------------------------------------- errors


class CityError(Exception):
    """Something stopped a delivery; ``str()`` is a message an official can read."""

    attempts: list[Attempt]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.attempts = []


class OutsideCityError(CityError):
    """A request aimed at a host other than the configured city (S21)."""


class CityRefused(CityError):
    """The city refused for good (4xx other than retryable ones, redirects): do not retry."""

    def __init__(
        self, message: str, status: int | None = None, errors: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class CityUnavailable(CityError):
    """Retries ran out (or the city asked to wait long): try again later with the same key."""

    def __init__(
        self, message: str, retry_after: float | None = None, ambiguous: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class _Retryable(Exception):
    """One failed exchange worth retrying."""

    def __init__(
        self, message: str, retry_after: float | None = None, ambiguous: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


# ----------------------------------------------------------------------------- policy and records


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; injectable so tests need not wait."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    # A longer Retry-After than this ends the in-process retries; the outbox waits instead.
    max_retry_after: float = 120.0
    # Retries of one push stop after this long, well inside the outbox lease (300 s), so a
    # second worker never takes over a batch whose first worker is still trying.
    max_elapsed: float = 180.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait between 0 and min(cap, base * 2^(attempt-1))."""
        return self.random() * min(self.cap, self.base * 2 ** (attempt - 1))


@dataclass
class Attempt:
    """One HTTP exchange, as shown in the officials' attempt history."""

    started_at: datetime
    method: str
    path: str
    status: int | None
    latency_ms: int
    error: str | None = None
    waited_s: float | None = None


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


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """Parse ``Retry-After`` as seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _problem(response: httpx.Response) -> tuple[str, str, list[str]]:
    """Return (type, readable message, errors) of a problem reply; tolerate anything else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "", f"HTTP {response.status_code}", []
    title = str(body.get("title") or f"HTTP {response.status_code}")
    detail = str(body.get("detail") or "")
    errors = [str(error) for error in body.get("errors") or [] if isinstance(error, str)]
    message = f"{title}: {detail}" if detail else title
    return str(body.get("type") or ""), message, errors


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
            raise _Retryable(reason, ambiguous=not isinstance(exc, httpx.ConnectError)) from exc
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

    def _raise_for_failure(self, response: httpx.Response) -> None:
        """Turn a non-success reply into a retryable failure or a final refusal."""
        status = response.status_code
        if 300 <= status < 400:
            raise CityRefused(
                f"the city answered {status} with a redirect to {response.headers.get('location', '?')}; "
                "redirects are not followed, check HANGANG_CITY_BUDGET_URL",
                status=status,
            )
        problem_type, message, errors = _problem(response)
        retry_after = _retry_after(response, self.clock())
        if status == 409 and problem_type.endswith(":in-flight"):
            raise _Retryable(f"409 {message}", retry_after=retry_after)
        if status in {408, 429} or status >= 500:
            raise _Retryable(
                f"{status} {message}", retry_after=retry_after, ambiguous=status in {500, 502, 504}
            )
        raise CityRefused(f"{status} {message}", status=status, errors=errors)

    # -- retrying ----------------------------------------------------------------------

    def _retrying(self, attempts: list[Attempt]) -> AsyncRetrying:
        policy = self.policy

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = getattr(exc, "retry_after", None)
            delay = retry_after if retry_after is not None else policy.backoff(state.attempt_number)
            if attempts:
                attempts[-1].waited_s = round(delay, 3)
            return delay

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            too_long = (getattr(exc, "retry_after", None) or 0) > policy.max_retry_after
            return (
                too_long
                or stop_after_attempt(policy.attempts)(state)
                or stop_after_delay(policy.max_elapsed)(state)
            )

        return AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=policy.sleep,
            reraise=True,
        )

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
                self._raise_for_failure(response)
            except _Retryable as failure:
                if failure.ambiguous and not dry_run:
                    held = await self._reconcile_quietly(kind, payload, sha, attempts)
                    if held is not None:
                        return PushOutcome("reconciled", held, attempts)
                raise
            raise AssertionError("unreachable")  # pragma: no cover

        try:
            async for trying in self._retrying(attempts):
                with trying:
                    outcome = await attempt()
        except _Retryable as failure:
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
            raise _Retryable("the city's reply is not JSON", ambiguous=True) from exc
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
        except (CityError, _Retryable):
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
            self._raise_for_failure(response)
        try:
            return msgspec.json.decode(response.content, type=Receipt)
        except msgspec.DecodeError as exc:
            raise CityRefused(f"the city's reconciliation reply is not a receipt: {exc}") from exc

    async def fetch_envelopes(self, fiscal_year: int) -> list[Envelope]:
        """Pull each district's participation budget for a fiscal year (retried like pushes)."""
        attempts: list[Attempt] = []
        try:
            async for trying in self._retrying(attempts):
                with trying:
                    response = await self._exchange(
                        "GET", "/v1/envelopes", attempts, params={"fiscal_year": str(fiscal_year)}
                    )
                    if response.status_code != 200:
                        self._raise_for_failure(response)
        except _Retryable as failure:
            raise CityUnavailable(
                f"no envelopes after {len(attempts)} attempts: {failure}"
            ) from failure
        try:
            return msgspec.json.decode(response.content, type=list[Envelope])
        except msgspec.DecodeError as exc:
            raise CityRefused(
                f"the city's envelopes are not in the contract's shape: {exc}"
            ) from exc
