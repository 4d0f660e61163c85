"""One error shape for pages and the API: domain errors, validation and HTTP errors mapped to 4xx in the reader's language."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from portal import clock, i18n
from portal.errors import DomainError, TooManyAttempts
from portal.identity import RequestContext
from portal.web.pages import JINJA_ENV

log = logging.getLogger("hangang.web")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")[:40]


def _language_for_error(request: Request) -> str:
    ctx = request.scope.get("hangang")  # type: ignore[call-overload]
    if ctx is not None:
        return ctx.language
    return i18n.negotiate(None, request.query_params.get("lang"), request.headers.get("accept-language"))


def error_response(
    request: Request,
    status_code: int,
    message: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> Response:
    """One place that turns any failure into a translated HTML page or JSON body."""
    language = _language_for_error(request)
    token = i18n.current_language.set(language)
    try:
        detail = i18n.translate(message, language, **params)
        # portal.web.keep_typed shows a refused form's page again with this message beside the field.
        request.scope["hangang_error"] = (errors[0]["message"] if errors else detail, errors[0]["field"] if errors else None)  # type: ignore[typeddict-unknown-key]
        if _is_api(request):
            body: dict[str, Any] = {"status_code": status_code, "detail": detail}
            if errors:
                body["errors"] = errors
            return Response(content=body, status_code=status_code, headers=headers, media_type="application/json")
        template = "errors/error.html"
        ctx = request.scope.get("hangang") or RequestContext(language=language)  # type: ignore[call-overload]
        from litestar.utils.scope.state import ScopeState

        csrf_value = ScopeState.from_scope(request.scope).csrf_token
        content = JINJA_ENV.get_template(template).render(
            csrf_token=lambda: csrf_value if isinstance(csrf_value, str) else "",
            user=ctx.user,
            lang=language,
            status_code=status_code,
            detail=detail,
            errors=errors or [],
            request_path=request.url.path,
            lang_switch_query="",
            now=clock.now(),
        )
        return Response(content=content, status_code=status_code, headers=headers, media_type="text/html")
    finally:
        i18n.current_language.reset(token)


def handle_domain_error(request: Request, exc: DomainError) -> Response:
    errors = None
    if exc.field:
        errors = [{"field": exc.field, "message": i18n.translate(exc.message, _language_for_error(request), **exc.params)}]
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
    return error_response(request, exc.status_code, exc.message, errors=errors, headers=headers, **exc.params)


def handle_validation_error(request: Request, exc: ValidationException) -> Response:
    """Litestar's own decoding errors, reworded per field in the caller's language."""
    language = _language_for_error(request)
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            raw = str(item.get("message", ""))
            key = _field_named_in(raw) or str(item.get("key") or item.get("source") or "body")
            if "required" in raw.lower() or "missing" in raw.lower():
                text = i18n.translate("This field is required.", language)
            elif "unknown field" in raw.lower() or "object has no field" in raw.lower():
                text = i18n.translate("This field is not accepted.", language)
            else:
                text = i18n.translate("This value is not valid here.", language)
            errors.append({"field": key, "message": text})
    return error_response(request, 400, "The request is not valid. Check the fields and try again.", errors=errors)


_AT_PATH = re.compile(r"- at `\$\.?([^`]*)`")
_NAMED_FIELD = re.compile(r"field `([^`]+)`")


def _field_named_in(message: str) -> str | None:
    """The body field a decoding error is about, e.g. ``project_ids[0]`` or ``email`` (not ``data``)."""
    at = _AT_PATH.search(message)
    named = _NAMED_FIELD.search(message)
    path = at.group(1) if at else ""
    if named:
        return f"{path}.{named.group(1)}" if path else named.group(1)
    return path or None


_STATUS_MESSAGES = {
    400: "The request is not valid. Check the fields and try again.",
    401: "Please log in to continue.",
    403: "You do not have permission to do this.",
    404: "We could not find that page.",
    405: "This action is not allowed here.",
    409: "This conflicts with the current state. Reload and try again.",
    413: "The upload or request is too large.",
    415: "This content type is not accepted.",
    429: "Too many attempts. Wait a moment and try again.",
}


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status == 401 and not _is_api(request):
        return Redirect(path=f"/login?next={request.url.path}", status_code=303)  # type: ignore[return-value]
    message = _STATUS_MESSAGES.get(status)
    if status == 403 and exc.detail == "CSRF token verification failed":
        message = "The form expired. Please submit it again."  # not a permission problem: see portal.web.keep_typed
    if message is None:
        message = "Something went wrong on our side. Please try again later."
    headers = dict(exc.headers or {}) if exc.headers else None
    return error_response(request, status, message, headers=headers)


def handle_out_of_range_id(request: Request, exc: OverflowError) -> Response:
    """An id too large for the database (SQLite's 64-bit INTEGER) cannot name anything that exists."""
    return error_response(request, 404, "We could not find that page.")


def handle_database_data_error(request: Request, exc: Exception) -> Response:
    """PostgreSQL refused a value (an id out of range, a NUL byte in text): the input is invalid, not our failure."""
    return error_response(request, 400, "The request is not valid. Check the fields and try again.")


def handle_server_error(request: Request, exc: Exception) -> Response:
    """Never a traceback outside development (S22); the log keeps the detail."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again later.")


EXCEPTION_HANDLERS = {
    DomainError: handle_domain_error,
    OverflowError: handle_out_of_range_id,
    asyncpg.exceptions.DataError: handle_database_data_error,
    ValidationException: handle_validation_error,
    NotAuthorizedException: handle_http_exception,
    NotFoundException: handle_http_exception,
    HTTPException: handle_http_exception,
    HTTP_500_INTERNAL_SERVER_ERROR: handle_server_error,
    Exception: handle_server_error,
}
