"""Nothing typed is lost: a refused form comes back holding what the person sent.

One place does this for every HTML form, whatever the controller re-rendered:

* an answer of 4xx to a form POST gets the submitted values put back into the form(s) posting to that path;
* when the answer is a bare error page (a conflict, a stale or missing CSRF token, a body over the upload
  limit), the page the form was on (the same-origin ``Referer``) is rendered again with the values and the
  message beside the form, and a fresh CSRF token;
* a POST whose session expired keeps the values as a draft in the new session, tied to the account that
  was signed in; after that account logs in again, the page shows the draft in its form.

Passwords and other secrets are never put back or kept; ballots are never kept as drafts (ballot secrecy).
The rewriting of the page itself is in ``refill.py``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types import Empty as _EMPTY
from litestar.utils.scope.state import ScopeState

from portal import clock, i18n
from portal.sessions import DRAFT_KEY
from portal.web.refill import Values, refill, submitted_values

log = logging.getLogger("hangang.web")

FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")
ERROR_SCOPE_KEY = "hangang_error"  # set by portal.web.error_response: (message, field)
CSRF_FAILED = "CSRF token verification failed"
EXPIRED_MESSAGE = "The form expired. Please submit it again."
RESTORED_MESSAGE = "Your unsaved answers were kept while you signed in again. Check them and submit."


def _header(scope: Scope, name: bytes) -> bytes:
    return next((v for k, v in scope.get("headers", []) if k.lower() == name), b"")


def _referer_path(scope: Scope) -> str | None:
    """The page the form was on, when the browser says so and it is on this site."""
    raw = _header(scope, b"referer").decode("latin-1")
    if not raw:
        return None
    parts = urlsplit(raw)
    host = _header(scope, b"host").decode("latin-1")
    if parts.netloc and host and parts.netloc != host:
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def _render_get(scope: Scope, target: str) -> tuple[int, list[tuple[bytes, bytes]], str] | None:
    """Render another page of the app for the same browser (cookies included), in process."""
    path, _, query = target.partition("?")
    sub: dict[str, Any] = {k: scope[k] for k in ("type", "asgi", "http_version", "scheme", "server", "client", "root_path") if k in scope}
    sub.update(
        method="GET", path=path, raw_path=path.encode(), query_string=query.encode(), state={},
        headers=[(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-type", b"content-length")],
    )
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def collect(message: Message) -> None:
        messages.append(message)

    await scope["app"](sub, receive, collect)
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None or start["status"] != 200:
        return None
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], list(start.get("headers", [])), body.decode("utf-8", "replace")


def _form_values(scope: Scope) -> Values:
    """What the request's form held (read only when a refusal or a draft needs it)."""
    form = ScopeState.from_scope(scope).form
    return submitted_values(form if form is not _EMPTY else None)


def _html_response_headers(headers: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length",)]
    return [*kept, (b"content-length", str(len(body)).encode())]


class KeepTypedMiddleware(ASGIMiddleware):
    """Refills refused forms, re-renders expired ones, and keeps drafts across a new login."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await next_app(scope, receive, send)
            return
        if scope["method"] == "GET":
            await self._restore_draft(scope, receive, send, next_app)
            return
        content_type = _header(scope, b"content-type").split(b";")[0].strip().lower()
        if scope["method"] != "POST" or content_type not in FORM_TYPES:
            await next_app(scope, receive, send)
            return
        messages: list[Message] = []

        async def hold(message: Message) -> None:
            messages.append(message)

        try:
            await next_app(scope, receive, hold)
        except HTTPException as exc:
            if exc.status_code == 403 and exc.detail == CSRF_FAILED:
                message = i18n.translate(EXPIRED_MESSAGE, self._language(scope))
            elif exc.status_code == 413:
                text, params = self._too_large(scope)
                message = i18n.translate(text, self._language(scope), **params)
            else:
                raise
            if not await self._send_page_again(scope, send, exc.status_code, message, None, []):
                raise
            return
        await self._answer(scope, send, messages)

    @staticmethod
    def _language(scope: Scope) -> str:
        ctx = scope.get("hangang")  # type: ignore[call-overload]
        return ctx.language if ctx is not None else i18n.DEFAULT_LANGUAGE

    @staticmethod
    def _too_large(scope: Scope) -> tuple[str, dict[str, Any]]:
        """The upload limit of the route, stated (routes with uploads say it in ``opt``)."""
        handler = scope.get("route_handler")
        limit = getattr(handler, "opt", {}).get("upload_limit_mb") if handler is not None else None
        if limit:
            return "The file is too large (at most %(mb)s MB).", {"mb": limit}
        return "The upload or request is too large.", {}

    async def _answer(self, scope: Scope, send: Send, messages: list[Message]) -> None:
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:
            for message in messages:
                await send(message)
            return
        status = start["status"]
        headers = list(start.get("headers", []))
        is_html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
        if 300 <= status < 400:
            self._keep_draft(scope, headers)
            start["headers"] = headers
        elif status >= 400 and is_html:
            values = _form_values(scope)
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
            refilled = refill(body.decode("utf-8", "replace"), scope["path"], values)
            if refilled is not None:
                data = refilled.encode()
                await send({**start, "headers": _html_response_headers(headers, data)})
                await send({"type": "http.response.body", "body": data, "more_body": False})
                return
            error = scope.get(ERROR_SCOPE_KEY)  # type: ignore[call-overload]
            if error and await self._send_page_again(scope, send, status, error[0], error[1], headers, values):
                return
        for message in messages:
            await send(message)

    async def _send_page_again(
        self,
        scope: Scope,
        send: Send,
        status: int,
        message: str,
        field_name: str | None,
        headers: list[tuple[bytes, bytes]],
        values: Values | None = None,
    ) -> bool:
        """Show the page the form was on again, refilled, with ``message``; False when that is not possible."""
        target = _referer_path(scope)
        if target is None:
            return False
        if values is None:
            values = _form_values(scope)
        rendered = await _render_get(scope, target)
        if rendered is None:
            return False
        _, page_headers, source = rendered
        refilled = refill(source, scope["path"], values, message=message, field_name=field_name)
        if refilled is None:
            return False
        data = refilled.encode()
        cookies = [(k, v) for k, v in [*headers, *page_headers] if k.lower() == b"set-cookie"]
        others = [(k, v) for k, v in page_headers if k.lower() != b"set-cookie"]
        await send({"type": "http.response.start", "status": status, "headers": _html_response_headers([*others, *cookies], data)})
        await send({"type": "http.response.body", "body": data, "more_body": False})
        return True

    # ------------------------------------------------------------ drafts across an expired session

    @staticmethod
    def _keep_draft(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
        """The session expired under a filled form: keep it for the same account, and come back to its page."""
        location = next((v.decode("latin-1") for k, v in headers if k.lower() == b"location"), "")
        ctx = scope.get("hangang")  # type: ignore[call-overload]
        owner = ctx.extra.get("expired_user_id") if ctx is not None else None
        session = scope.get("session")
        if not location.startswith("/login?next=") or owner is None or not isinstance(session, dict):
            return
        if "/ballot" in scope["path"]:
            return  # ballot secrecy: a ballot's content is never stored against an account
        page = _referer_path(scope) or scope["path"]
        session[DRAFT_KEY] = {
            "owner": owner, "page": page, "action": scope["path"], "values": _form_values(scope),
            "saved_at": int(clock.now().timestamp()),
        }
        from urllib.parse import quote

        headers[:] = [(k, v) for k, v in headers if k.lower() != b"location"]
        headers.append((b"location", f"/login?next={quote(page, safe='/?=&')}".encode()))

    async def _restore_draft(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        session = scope.get("session")
        ctx = scope.get("hangang")  # type: ignore[call-overload]
        draft = session.get(DRAFT_KEY) if isinstance(session, dict) else None
        page = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
        if not draft or ctx is None or ctx.user is None or draft.get("page") != page:
            await next_app(scope, receive, send)
            return
        if draft.get("owner") != ctx.user.id:
            await next_app(scope, receive, send)
            return
        session.pop(DRAFT_KEY, None)
        messages: list[Message] = []

        async def hold(message: Message) -> None:
            messages.append(message)

        await next_app(scope, receive, hold)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        refilled = None
        if start is not None and start["status"] == 200:
            message = i18n.translate(RESTORED_MESSAGE, ctx.language)
            refilled = refill(body.decode("utf-8", "replace"), draft["action"], draft["values"], message=message)
        if refilled is None:
            for message in messages:
                await send(message)
            return
        data = refilled.encode()
        await send({**start, "headers": _html_response_headers(list(start.get("headers", [])), data)})
        await send({"type": "http.response.body", "body": data, "more_body": False})
