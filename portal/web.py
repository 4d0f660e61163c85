"""Shared web plumbing: templates, per-request account and language, headers, error pages."""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from litestar.middleware import ASGIMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from markupsafe import Markup, escape

from portal import clock, i18n, money
from portal.districts import DISTRICTS, district_name
from portal.errors import DomainError, InvalidInput, TooManyAttempts
from portal.settings import TEMPLATES_DIR, get_settings

log = logging.getLogger("hangang.web")
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in account as handlers see it."""

    id: int
    email: str
    display_name: str
    roles: frozenset[str]
    language: str
    district_code: str | None
    residency_verified: bool
    totp_enabled: bool

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass
class RequestContext:
    user: CurrentUser | None = None
    language: str = i18n.DEFAULT_LANGUAGE
    pending_totp_user_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def context_of(request: Request) -> RequestContext:
    """The account and language resolved for this request."""
    ctx = request.scope.get("hangang")  # type: ignore[call-overload]
    if ctx is None:
        ctx = RequestContext(
            language=i18n.negotiate(None, request.query_params.get("lang"), request.headers.get("accept-language"))
        )
    return ctx


def current_user(request: Request) -> CurrentUser | None:
    return context_of(request).user


def signed_in_user(request: Request) -> CurrentUser:
    """The account behind a guarded route (its guard already refused anonymous callers)."""
    user = context_of(request).user
    if user is None:
        raise NotAuthorizedException()
    return user


MAX_WHOLE_NUMBER = 10**15 - 1  # 1,000조: far above any budget, and inside every integer column of both engines
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


def parse_whole_number(value: Any, field: str, *, optional: bool = False) -> int | None:
    """A whole number typed into a form (thousands separators allowed), or a 422 beside ``field``.

    The one place forms parse integers and amounts: "1000.5", "1e9" and letters are refused with a message,
    and so is a number too large to store (a 19-digit amount), instead of failing later in the database.
    """
    text = str(value if value is not None else "").replace(",", "").replace("_", "").strip()
    if not text:
        if optional:
            return None
        raise InvalidInput("Enter a whole number.", field=field)
    if not _WHOLE_NUMBER.fullmatch(text):
        raise InvalidInput("Enter a whole number.", field=field)
    number = int(text)
    if abs(number) > MAX_WHOLE_NUMBER:
        raise InvalidInput("This number is too large.", field=field)
    return number


def format_krw(amount: int | None) -> str:
    """Whole KRW, exact, with thousands separators (``1,234원`` / ``1,234 KRW``)."""
    if amount is None:
        return ""
    return money.exact_krw(int(amount))


def format_datetime(value: dt.datetime | None) -> str:
    """UTC in the database, Asia/Seoul on screen."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M KST")


def datetime_html(value: dt.datetime | None) -> Markup:
    """A moment on a page: Seoul time that never wraps at its hyphens, the exact UTC in ``datetime``."""
    if value is None:
        return Markup("")
    moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return Markup(
        f'<time class="nowrap" datetime="{moment.astimezone(dt.UTC).isoformat()}">{escape(format_datetime(value))}</time>'
    )


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    # Amounts: ``krw`` for pages (Korean in 억/만 units, the exact figure on hover), ``krw_text`` where
    # only text fits (an <option>, an attribute), ``krw_exact`` where every won matters; ``number`` for
    # votes, ballots, entries and voters. See portal/money.py.
    env.filters["krw"] = money.krw_html
    env.filters["krw_text"] = money.krw_text
    env.filters["krw_exact"] = format_krw
    env.filters["number"] = money.format_count
    env.globals["read_krw"] = money.read_krw
    env.globals["krw_echo_text"] = money.echo_text
    env.filters["kst"] = datetime_html
    env.globals["districts"] = DISTRICTS
    env.globals["district_name"] = lambda code: district_name(code, i18n.current_language.get())
    env.globals["current_language"] = i18n.current_language.get
    return env


JINJA_ENV = _environment()
template_engine = JinjaTemplateEngine.from_environment(JINJA_ENV)


def page(request: Request, template_name: str, *, status_code: int = 200, **context: Any) -> Template:
    """Render a page with the account, language and switcher links every layout needs."""
    ctx = context_of(request)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    base_query = "&".join(f"{k}={v}" for k, v in query.items())
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return Template(
        template_name=template_name,
        status_code=status_code,
        context={
            "user": ctx.user,
            "lang": ctx.language,
            "request_path": request.url.path,
            "lang_switch_query": (base_query + "&" if base_query else ""),
            "now": clock.now(),
            **context,
        },
    )


def back_to(path: str) -> Redirect:
    """Redirect after a successful POST (303 so the browser GETs the target)."""
    return Redirect(path=path, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths are allowed as post-login targets (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


class LanguageMiddleware(ASGIMiddleware):
    """Resolve the account and the language before any handler or guard runs."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        from portal.auth import resolve_request_context  # avoid an import cycle at module load

        ctx = await resolve_request_context(scope)
        scope["hangang"] = ctx  # type: ignore[typeddict-unknown-key]
        token = i18n.current_language.set(ctx.language)
        try:
            await next_app(scope, receive, send)
        finally:
            i18n.current_language.reset(token)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: headers on every response, unmatched 404s included (S12)."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", []))
    names = {name.lower() for name, _ in headers}

    def put(name: str, value: str) -> None:
        if name.encode() not in names:
            headers.append((name.encode(), value.encode()))

    put("content-security-policy", CSP)
    put("x-content-type-options", "nosniff")
    put("referrer-policy", "same-origin")
    put("cross-origin-opener-policy", "same-origin")
    put("x-frame-options", "DENY")
    put("permissions-policy", "camera=(), microphone=(), geolocation=()")
    if get_settings().is_production:
        put("strict-transport-security", "max-age=63072000; includeSubDomains")
    if not scope.get("path", "").startswith("/static/"):
        # Authenticated pages must not be kept by shared caches or the back button.
        put("cache-control", "no-store")
    message["headers"] = headers


# ---------------------------------------------------------------- error handling

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
        # portal.refill shows a refused form's page again with this message beside the field.
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
        message = "The form expired. Please submit it again."  # not a permission problem: see portal.refill
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
