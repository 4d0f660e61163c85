"""Who is asking: session login state, timeouts, and the role guards every route uses (S9, S13)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from portal import clock, i18n
from portal.db import raw
from portal.identity import CurrentUser, RequestContext
from portal.sessions import ACCOUNT_COLUMNS, LOADED_ACCOUNT, ROTATE_FLAG, keep_draft_through_login
from portal.settings import get_settings
from portal.tables import PRIVILEGED_ROLES

STAGE_FULL = "full"  # fully signed in
STAGE_TOTP = "totp"  # password accepted, waiting for the TOTP code
STAGE_ENROLL = "enroll"  # privileged account without TOTP: must enrol first
SEEN_WRITE_INTERVAL = 60  # seconds; refresh "last seen" at most this often to spare writes


def _query_param(scope: Scope, name: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


LANGUAGE_COOKIE = "hangang_lang"


def _cookie(scope: Scope, name: str) -> str | None:
    from http.cookies import SimpleCookie

    raw = _header(scope, "cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header just means no preference
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def to_current_user(row: dict[str, Any]) -> CurrentUser:
    return CurrentUser(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        roles=frozenset(r for r in row["roles"].split(",") if r),
        language=row["language"],
        district_code=row["district_code"],
        residency_verified=row["residency_verified"],
        totp_enabled=row["totp_enabled"],
        birth_date=row.get("birth_date"),
    )


_ACCOUNT_QUERY = f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM portal_user WHERE id = {{}}"  # noqa: S608


async def _account(uid: int) -> dict[str, Any] | None:
    """The signed-in account, as every request needs it (one plain statement: Piccolo's select of every
    column cost 0.56 ms of CPU against 0.22 ms for this, on each request)."""
    rows = await raw(_ACCOUNT_QUERY, uid)
    return rows[0] if rows else None


async def _signed_in_account(scope: Scope, uid: int) -> dict[str, Any] | None:
    """The account of the session's ``uid``: the row read with the session when it is that account's,
    else one more statement (a session written before ``portal_session.uid`` existed)."""
    loaded = scope.get(LOADED_ACCOUNT)  # type: ignore[call-overload]
    if loaded is not None and loaded["id"] == uid:
        return loaded
    return await _account(uid)


async def resolve_request_context(scope: Scope) -> RequestContext:
    """Load the account behind the session, enforcing idle and absolute timeouts server-side."""
    settings = get_settings()
    session: dict[str, Any] = scope.get("session") or {}  # type: ignore[assignment]
    ctx = RequestContext()
    uid = session.get("uid")
    if uid is not None:
        now = clock.now().timestamp()
        idle = now - session.get("seen", 0) > settings.session_idle_minutes * 60
        expired = now - session.get("created", 0) > settings.session_absolute_hours * 3600
        row = None if (idle or expired) else await _signed_in_account(scope, uid)
        if idle or expired:
            ctx.extra["expired_user_id"] = uid  # portal.web.keep_typed keeps a filled form for this account only
        if row is None or row["session_generation"] != session.get("gen"):
            session.clear()
        elif session.get("stage") == STAGE_FULL:
            ctx.user = to_current_user(row)
            if now - session.get("seen", 0) > SEEN_WRITE_INTERVAL:
                session["seen"] = int(now)
        else:
            ctx.pending_totp_user_id = uid
            ctx.extra["stage"] = session.get("stage")
    account_language = ctx.user.language if ctx.user else None
    if account_language in i18n.LANGUAGES:
        ctx.language = account_language  # the account decides: no need to parse the query and cookies
        return ctx
    query_language = _query_param(scope, "lang") if scope.get("query_string") else None
    cookie_language = _cookie(scope, LANGUAGE_COOKIE)
    ctx.language = i18n.negotiate(
        account_language,
        query_language if query_language in i18n.LANGUAGES else cookie_language,
        _header(scope, "accept-language"),
    )
    return ctx


class RequestContextMiddleware(ASGIMiddleware):
    """Resolve the account and the language before any handler or guard runs."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        ctx = await resolve_request_context(scope)
        scope["hangang"] = ctx  # type: ignore[typeddict-unknown-key]
        token = i18n.current_language.set(ctx.language)
        try:
            await next_app(scope, receive, send)
        finally:
            i18n.current_language.reset(token)


def begin_session(session: dict[str, Any], user_row: dict[str, Any], stage: str) -> None:
    """Start (or advance) a login on a fresh session id (S7)."""
    now = int(clock.now().timestamp())
    created = session.get("created", now) if session.get("uid") == user_row["id"] else now
    previous = dict(session)
    session.clear()
    session.update(
        uid=user_row["id"], gen=user_row["session_generation"], stage=stage, created=created, seen=now
    )
    keep_draft_through_login(previous, session, user_row["id"])
    session[ROTATE_FLAG] = True


def continue_after_role_change(session: dict[str, Any], user_row: dict[str, Any]) -> str:
    """Keep the person signed in on a fresh session id after their own action gave them a role (S7).

    A privileged role without TOTP sends them to enrolment first. Returns the stage.
    """
    roles = set(user_row["roles"].split(","))
    stage = STAGE_ENROLL if roles.intersection(PRIVILEGED_ROLES) and not user_row["totp_enabled"] else STAGE_FULL
    begin_session(session, user_row, stage)
    return stage


def end_session(session: dict[str, Any]) -> None:
    session.clear()


def login_stage_for(user_row: dict[str, Any]) -> str:
    roles = set(user_row["roles"].split(","))
    if user_row["totp_enabled"]:
        return STAGE_TOTP
    if roles.intersection(PRIVILEGED_ROLES):
        return STAGE_ENROLL
    return STAGE_FULL


# ---------------------------------------------------------------- guards
# Coroutines, not plain functions: Litestar runs a synchronous guard in its thread pool, a thread hop on
# every request (about 0.3 ms of CPU a request, docs/pb.md "Fourth round").


def _ctx(connection: ASGIConnection) -> RequestContext:
    ctx = connection.scope.get("hangang")  # type: ignore[call-overload]
    return ctx if ctx is not None else RequestContext()


async def requires_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Any signed-in account."""
    if _ctx(connection).user is None:
        raise NotAuthorizedException()


def requires_role(*roles: str):
    """A guard admitting accounts holding any of ``roles`` (admins hold every power)."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = _ctx(connection).user
        if user is None:
            raise NotAuthorizedException()
        if not user.has_role(*roles, "admin"):
            raise PermissionDeniedException()

    guard.__name__ = f"requires_role_{'_'.join(roles)}"
    return guard


async def requires_pending_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The TOTP step: a password was accepted in this session."""
    ctx = _ctx(connection)
    if ctx.pending_totp_user_id is None and ctx.user is None:
        raise NotAuthorizedException()


async def public(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Explicitly public: the route inventory test accepts only this or a real guard."""
    return None


requires_official = requires_role("official")
requires_admin = requires_role("admin")
requires_judge = requires_role("judge")
requires_startup = requires_role("startup")

