"""Page plumbing: templates and their filters, the request's account and language, redirects, headers."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request
from litestar.exceptions import (
    NotAuthorizedException,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.types import Message, Scope
from markupsafe import Markup, escape

from portal import clock, i18n, money, seoul_map
from portal.districts import DISTRICTS, district_name, dong_name
from portal.identity import CurrentUser, RequestContext
from portal.settings import TEMPLATES_DIR, get_settings

log = logging.getLogger("hangang.web")


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


def format_krw(amount: int | None) -> str:
    """Whole KRW, exact, with thousands separators (``1,234원`` / ``1,234 KRW``)."""
    if amount is None:
        return ""
    return money.exact_krw(int(amount))




def datetime_html(value: dt.datetime | None) -> Markup:
    """A moment on a page: Seoul time that never wraps at its hyphens, the exact UTC in ``datetime``."""
    if value is None:
        return Markup("")
    moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return Markup(
        f'<time class="nowrap" datetime="{moment.astimezone(dt.UTC).isoformat()}">{escape(clock.format_datetime(value))}</time>'
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
    env.globals["dong_name"] = lambda key: dong_name(key, i18n.current_language.get())
    env.globals["seoul_map_data"] = {
        "width": seoul_map.WIDTH,
        "height": seoul_map.HEIGHT,
        "shapes": seoul_map.district_shapes(),
        "river": seoul_map.river_path(),
    }
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
