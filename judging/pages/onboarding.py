"""Self-service onboarding pages: any signed-in person registers an organization (becoming its startup
account) or joins one that invited them, with one click and no 403 on the way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from judging.categories import ORGANIZATION_SIZES
from judging.schemas import RowId
from judging.services import intake, onboarding
from portal.auth import continue_after_role_change, requires_login
from portal.errors import DomainError
from portal.web.forms import form_errors
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]


async def register_from_form(user_id: int, data: Mapping[str, str], *, become_startup: bool) -> int:
    """The organization form (``challenge/_organization_form.html``, on /challenge/start and on the
    organization page) to the one service; with ``become_startup`` the account becomes a startup."""
    return await intake.create_organization(
        user_id,
        data.get("name", ""),
        data.get("registration_number", ""),
        data.get("size", ""),
        data.get("founding_year", ""),
        become_startup=become_startup,
    )


class OnboardingPages(Controller):
    """Register an organization, or join one, from any account."""

    path = "/challenge"
    guards = [requires_login]

    async def _start_page(self, request: Request, status_code: int = 200, **extra: Any) -> Template:
        return page(
            request,
            "challenge/start.html",
            status_code=status_code,
            sizes=ORGANIZATION_SIZES,
            invitations=await intake.pending_invitations(signed_in_user(request).email),
            **extra,
        )

    @get("/start")
    async def start(self, request: Request) -> Template:
        """Register an organization and become its startup account."""
        return await self._start_page(request)

    @post("/start")
    async def register(self, request: Request, data: FormData) -> Template | Redirect:
        user = signed_in_user(request)
        try:
            await register_from_form(user.id, data, become_startup=True)
        except DomainError as exc:
            return await self._start_page(request, exc.status_code, errors=form_errors(exc), form=data)
        continue_after_role_change(request.session, await onboarding.user_row(user.id))
        request.session["flash"] = "Your organization is registered. You can now submit entries and invite colleagues."
        return back_to("/challenge/organization")

    async def _invitations_page(self, request: Request, status_code: int = 200, **extra: Any) -> Template:
        return page(
            request,
            "challenge/invitations.html",
            status_code=status_code,
            invitations=await intake.pending_invitations(signed_in_user(request).email),
            **extra,
        )

    @get("/invitations")
    async def invitations(self, request: Request) -> Template:
        """Invitations to my address, explained, each joined with one click."""
        return await self._invitations_page(request)

    @post("/invitations/{invitation_id:int}/join")
    async def join(self, request: Request, invitation_id: RowId) -> Template | Redirect:
        user = signed_in_user(request)
        try:
            await onboarding.join_organization(user.id, user.email, invitation_id)
        except DomainError as exc:
            return await self._invitations_page(request, exc.status_code, errors=form_errors(exc))
        continue_after_role_change(request.session, await onboarding.user_row(user.id))
        request.session["flash"] = "You joined the organization."
        return back_to("/challenge/organization")
