"""Errors a user can cause, raised by services and mapped once to 4xx with a translated message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule was broken. ``message`` is an English message id; ``params`` fill its placeholders."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, status_code: int | None = None, **params: Any):
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params
        if status_code is not None:
            self.status_code = status_code


class InvalidInput(DomainError):
    status_code = 422


class NotAllowed(DomainError):
    status_code = 403


class NotFoundError(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class TooManyAttempts(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int, **params: Any):
        super().__init__(message, **params)
        self.retry_after = retry_after


class Unauthenticated(DomainError):
    status_code = 401
