"""The signed-in person's phone identity verification: status, start, and the provider's callback."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from portal import phone_identity
from portal.auth import requires_login
from portal.errors import DomainError
from portal.web.forms import form_errors
from portal.web.pages import page, signed_in_user
from portal.web.signals import note_signal


class IdentityPages(Controller):
    """``/account/identity``: verify by phone through the identity provider (docs/identity.md)."""

    path = "/account/identity"
    guards = [requires_login]

    async def _status_page(self, request: Request, status_code: int = 200, **extra: Any) -> Template:
        user = signed_in_user(request)
        status = await phone_identity.identity_status(user.id)
        flash = request.session.pop("flash", None)
        return page(request, "auth/identity.html", status_code=status_code, identity=status, flash=flash, **extra)

    @get("/")
    async def identity(self, request: Request) -> Template:
        return await self._status_page(request)

    @get("/start")
    async def start(self, request: Request) -> Template | Redirect:
        """Send the person to the provider. A link, not a form: CSP's form-action forbids a form that
        redirects to another origin, and starting a flow changes nothing until the callback."""
        try:
            url = await phone_identity.begin_verification(request.session)
        except DomainError as exc:
            return await self._status_page(request, exc.status_code, errors=form_errors(exc))
        return Redirect(path=url, status_code=303)

    @get("/callback")
    async def callback(self, request: Request) -> Template | Redirect:
        """The provider sends the person back here with a code (or an error) and the state
        (read from the query directly: ``state`` is a reserved parameter name in Litestar)."""
        user = signed_in_user(request)
        answer = {name: request.query_params.get(name, "")[:512] for name in ("state", "code", "error")}
        try:
            identity = await phone_identity.finish_verification(request.session, **answer)
            await phone_identity.store_identity(user.id, identity)
        except DomainError as exc:
            return await self._status_page(request, exc.status_code, errors=form_errors(exc))
        note_signal("verification", request)
        request.session["flash"] = "Your identity is verified by phone."
        return Redirect(path="/account/identity", status_code=303)
