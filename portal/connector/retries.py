"""What can go wrong talking to the city, and how the connector retries it.

The error types an official reads, the retry policy (full-jitter backoff that honours
``Retry-After``), the record of each exchange, and the reading of a failed reply into a retryable
failure or a final refusal.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

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


class Retryable(Exception):
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


# ----------------------------------------------------------------------------- reading replies


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
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


def problem_of(response: httpx.Response) -> tuple[str, str, list[str]]:
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


def raise_for_failure(response: httpx.Response, clock: Callable[[], float]) -> None:
    """Turn a non-success reply into a retryable failure or a final refusal."""
    status = response.status_code
    if 300 <= status < 400:
        raise CityRefused(
            f"the city answered {status} with a redirect to {response.headers.get('location', '?')}; "
            "redirects are not followed, check HANGANG_CITY_BUDGET_URL",
            status=status,
        )
    problem_type, message, errors = problem_of(response)
    retry_after = retry_after_seconds(response, clock())
    if status == 409 and problem_type.endswith(":in-flight"):
        raise Retryable(f"409 {message}", retry_after=retry_after)
    if status in {408, 429} or status >= 500:
        raise Retryable(
            f"{status} {message}", retry_after=retry_after, ambiguous=status in {500, 502, 504}
        )
    raise CityRefused(f"{status} {message}", status=status, errors=errors)


def retrying(policy: RetryPolicy, attempts: list[Attempt]) -> AsyncRetrying:
    """Retry ``Retryable`` failures under the policy, honouring Retry-After; notes each wait."""

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
        retry=retry_if_exception_type(Retryable),
        sleep=policy.sleep,
        reraise=True,
    )
