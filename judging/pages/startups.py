"""AI 50 Challenge pages for startups: the landing page, organizations, invitations, entries, attachments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Response, Template

from judging.categories import ORGANIZATION_SIZES, SECTORS
from judging.pages.attachments import attachment_response
from judging.pages.onboarding import register_from_form
from judging.schemas import EditionRead, EntryRead, QueryId, RowId
from judging.services import attachments, entries, intake
from judging.services.entries import EntryForm
from portal.auth import public, requires_startup
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors, parse_row_id
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]
ENTRY_TEXT_FIELDS = (*entries.TEXT_LIMITS, "demo_url")


def _echo(form: FormMultiDict) -> dict[str, Any]:
    """What the startup typed, to fill the form in again beside the error."""
    echoed: dict[str, Any] = {name: str(form.get(name) or "") for name in ENTRY_TEXT_FIELDS}
    echoed.update(
        category=str(form.get("category") or ""),
        sector=str(form.get("sector") or ""),
        districts=[str(d) for d in form.getall("districts", [])],
    )
    return echoed


def _entry_form(form: FormMultiDict) -> EntryForm:
    return EntryForm(**_echo(form))


class ChallengePages(Controller):
    """The challenge's public landing page."""

    path = "/challenge"

    @get("/", guards=[public])
    async def landing(self, request: Request) -> Template:
        """What the AI 50 Challenge is and which editions take entries."""
        return page(request, "challenge/landing.html", editions=await intake.editions())


class StartupPages(Controller):
    """Organizations and entries for startup accounts."""

    path = "/challenge"
    guards = [requires_startup]

    async def _organization_page(
        self, request: Request, status_code: int = 200, **extra: Any
    ) -> Template:
        user = signed_in_user(request)
        return page(
            request,
            "challenge/organization.html",
            status_code=status_code,
            organizations=await intake.my_organizations(user.id),
            invitations=await intake.pending_invitations(user.email),
            sizes=ORGANIZATION_SIZES,
            flash=request.session.pop("flash", None),
            format_brn=intake.format_registration_number,
            **extra,
        )

    @get("/organization")
    async def organization(self, request: Request) -> Template:
        """My organizations, their members, and invitations waiting for me."""
        return await self._organization_page(request)

    @post("/organization")
    async def create_organization(self, request: Request, data: FormData) -> Template | Redirect:
        """Register an organization by its business registration number."""
        user = signed_in_user(request)
        try:
            await register_from_form(user.id, data, become_startup=False)
        except DomainError as exc:
            return await self._organization_page(
                request, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = "Your organization is registered."
        return back_to("/challenge/organization")

    @post("/organization/{organization_id:int}/invite")
    async def invite(
        self, request: Request, organization_id: RowId, data: FormData
    ) -> Template | Redirect:
        """Invite a colleague by email."""
        user = signed_in_user(request)
        try:
            await intake.invite_member(user.id, organization_id, data.get("email", ""))
        except DomainError as exc:
            return await self._organization_page(request, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The invitation was sent."
        return back_to("/challenge/organization")

    @post("/invitations/{invitation_id:int}/accept")
    async def accept(self, request: Request, invitation_id: RowId) -> Redirect:
        """Join the organization that invited me."""
        user = signed_in_user(request)
        await intake.accept_invitation(user.id, user.email, invitation_id)
        request.session["flash"] = "You joined the organization."
        return back_to("/challenge/organization")

    @get("/entries")
    async def my_entries(self, request: Request) -> Template:
        """My organization's entries with their status."""
        user = signed_in_user(request)
        mine = await entries.my_entries(user.id)
        return page(
            request,
            "challenge/entries.html",
            entries=mine,
            outcomes=await entries.challenge_outcomes([e.id for e in mine]),
            editions=await intake.editions(),
            organizations=await intake.my_organizations(user.id),
            flash=request.session.pop("flash", None),
        )

    async def _entry_page(
        self,
        request: Request,
        entry: EntryRead | None,
        edition: EditionRead,
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        user = signed_in_user(request)
        extra.setdefault("form", msgspec.structs.asdict(entry) if entry else {})
        return page(
            request,
            "challenge/entry_form.html",
            status_code=status_code,
            entry=entry,
            edition=edition,
            intake=edition.intake,
            categories=edition.categories,
            sectors=SECTORS,
            organizations=await intake.my_organizations(user.id),
            attachments=await attachments.attachments_of(entry.id) if entry else [],
            screening=await entries.screening_of(entry.id) if entry else [],
            outcome=(await entries.challenge_outcomes([entry.id])).get(entry.id) if entry else None,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/entries/new")
    async def new_entry(self, request: Request, edition: QueryId) -> Template:
        """A blank draft for an edition."""
        return await self._entry_page(request, None, await intake.edition_intake(edition))

    @post("/entries")
    async def create_entry(self, request: Request) -> Template | Redirect:
        """Save a new draft for one of my organizations."""
        user = signed_in_user(request)
        form = await request.form()
        edition = await intake.edition_intake(parse_row_id(form.get("edition_id")))
        try:
            entry_id = await entries.create_entry(
                user.id, parse_row_id(form.get("organization_id")), edition.id, _entry_form(form)
            )
        except DomainError as exc:
            return await self._entry_page(
                request, None, edition, exc.status_code, errors=form_errors(exc), form=_echo(form)
            )
        request.session["flash"] = "Your draft was saved."
        return back_to(f"/challenge/entries/{entry_id}")

    @get("/entries/{entry_id:int}")
    async def entry(self, request: Request, entry_id: RowId) -> Template:
        """My entry: edit until the deadline, attachments, submit or withdraw."""
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        return await self._entry_page(request, entry, await intake.edition_intake(entry.edition_id))

    @post("/entries/{entry_id:int}")
    async def update_entry(self, request: Request, entry_id: RowId) -> Template | Redirect:
        """Save changes to my entry."""
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        form = await request.form()
        try:
            await entries.update_entry(user.id, entry_id, _entry_form(form))
        except DomainError as exc:
            return await self._entry_error(request, entry, exc, form=_echo(form))
        request.session["flash"] = "Your changes were saved."
        return back_to(f"/challenge/entries/{entry_id}")

    async def _entry_error(
        self, request: Request, entry: EntryRead, exc: DomainError, **extra: Any
    ) -> Template:
        """The entry page again, with the refusal beside its field."""
        edition = await intake.edition_intake(entry.edition_id)
        return await self._entry_page(
            request, entry, edition, exc.status_code, errors=form_errors(exc), **extra
        )

    async def _entry_action(
        self,
        request: Request,
        entry_id: int,
        action: Callable[[int, int], Awaitable[None]],
        flash: str,
    ) -> Template | Redirect:
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        try:
            await action(user.id, entry_id)
        except DomainError as exc:
            return await self._entry_error(request, entry, exc)
        request.session["flash"] = flash
        return back_to(f"/challenge/entries/{entry_id}")

    @post("/entries/{entry_id:int}/submit")
    async def submit(self, request: Request, entry_id: RowId) -> Template | Redirect:
        """Submit my entry before the deadline."""
        return await self._entry_action(
            request,
            entry_id,
            entries.submit_entry,
            "Your entry was submitted. A confirmation email is on its way.",
        )

    @post("/entries/{entry_id:int}/withdraw")
    async def withdraw(self, request: Request, entry_id: RowId) -> Template | Redirect:
        """Withdraw my submitted entry (it can be submitted again until the deadline)."""
        return await self._entry_action(
            request, entry_id, entries.withdraw_entry, "Your entry was withdrawn."
        )

    @post(
        "/entries/{entry_id:int}/attachments",
        request_max_body_size=attachments.UPLOAD_BODY_LIMIT,
        opt={"upload_limit_mb": attachments.MAX_PDF_BYTES // (1024 * 1024)},
    )
    async def upload(self, request: Request, entry_id: RowId) -> Template | Redirect:
        """Upload a PDF deck (up to 10 MB) or a PNG/JPEG image; the type is read from the content."""
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        form = await request.form()
        upload = form.get("file")
        try:
            if upload is None or not hasattr(upload, "read"):
                raise InvalidInput("Choose a file to upload.", field="file")
            content = await upload.read()
            await attachments.add_attachment(user.id, entry_id, upload.filename or "", content)
        except DomainError as exc:
            return await self._entry_error(request, entry, exc)
        request.session["flash"] = "The file was attached."
        return back_to(f"/challenge/entries/{entry_id}")

    @post("/entries/{entry_id:int}/attachments/{attachment_id:int}/delete")
    async def delete_attachment(
        self, request: Request, entry_id: RowId, attachment_id: RowId
    ) -> Redirect:
        """Remove a file from my entry."""
        user = signed_in_user(request)
        await attachments.remove_attachment(user.id, entry_id, attachment_id)
        request.session["flash"] = "The file was removed."
        return back_to(f"/challenge/entries/{entry_id}")

    @get("/entries/{entry_id:int}/attachments/{attachment_id:int}")
    async def download(self, request: Request, entry_id: RowId, attachment_id: RowId) -> Response:
        """Download one of my entry's files."""
        user = signed_in_user(request)
        return await attachment_response(
            await attachments.member_attachment(user.id, entry_id, attachment_id)
        )
