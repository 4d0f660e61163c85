"""AI 50 Challenge pages and API for startups: organizations, invitations, entries, attachments."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post, put
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from judging.schemas import EditionRead, EntryCreate, EntryRead, EntryWrite, QueryId, RowId
from judging.tables import ORGANIZATION_SIZES, SECTORS, Edition
from portal.auth import public, requires_startup
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors
from portal.web.openapi import ERRORS
from portal.web.pages import back_to, page, signed_in_user
from proposals import entries

FormData = URLEncodedBody[dict[str, str]]
ENTRY_TEXT_FIELDS = (
    "title",
    "summary",
    "problem",
    "ai_approach",
    "data_protection",
    "target_users",
    "team",
    "demo_url",
)


async def attachment_response(row: dict[str, Any], *, blind_name: str | None = None) -> Response:
    """Always a download, never rendered inline (S18), typed by the detected content.

    Judges get ``blind_name`` plus the type's extension and nothing of the uploader's file
    name (it can name the company); startups and officials also get the original name.
    """
    stored = await entries.read_attachment(row)
    if blind_name:
        disposition = f'attachment; filename="{stored.download_name(blind_name)}"'
    else:
        fallback = stored.download_name(f"attachment-{row['id']}")
        disposition = (
            f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(row['original_name'])}"
        )
    return Response(
        content=stored.content,
        media_type=stored.file_type.media_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


def _form_from_multidict(form: Any) -> entries.EntryForm:
    values = {name: str(form.get(name) or "") for name in ENTRY_TEXT_FIELDS}
    districts = form.getall("districts", [])
    return entries.EntryForm(
        category=str(form.get("category") or ""),
        sector=str(form.get("sector") or ""),
        districts=[str(d) for d in districts],
        **values,
    )


async def _open_editions() -> list[dict[str, Any]]:
    rows = await Edition.select().output(load_json=True).order_by(Edition.id, ascending=False)
    for row in rows:
        row["intake"] = entries.intake_state(row)
    return rows


class ChallengePages(Controller):
    """The challenge's public landing page."""

    path = "/challenge"

    @get("/", guards=[public])
    async def landing(self, request: Request) -> Template:
        """What the AI 50 Challenge is and which editions take entries."""
        return page(request, "challenge/landing.html", editions=await _open_editions())


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
            organizations=await entries.my_organizations(user.id),
            invitations=await entries.pending_invitations(user.email),
            sizes=ORGANIZATION_SIZES,
            flash=request.session.pop("flash", None),
            format_brn=entries.format_registration_number,
            **extra,
        )

    @get("/organization")
    async def organization(self, request: Request) -> Template:
        """My organizations, their members, and invitations waiting for me."""
        return await self._organization_page(request)

    @post("/organization")
    async def create_organization(self, request: Request, data: FormData) -> Template | Redirect:
        user = signed_in_user(request)
        try:
            await entries.create_organization(
                user.id,
                data.get("name", ""),
                data.get("registration_number", ""),
                data.get("size", ""),
                data.get("founding_year", ""),
            )
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
        user = signed_in_user(request)
        try:
            await entries.invite_member(user.id, organization_id, data.get("email", ""))
        except DomainError as exc:
            return await self._organization_page(request, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The invitation was sent."
        return back_to("/challenge/organization")

    @post("/invitations/{invitation_id:int}/accept")
    async def accept(self, request: Request, invitation_id: RowId) -> Redirect:
        user = signed_in_user(request)
        await entries.accept_invitation(user.id, user.email, invitation_id)
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
            outcomes=await entries.challenge_outcomes([e["id"] for e in mine]),
            editions=await _open_editions(),
            organizations=await entries.my_organizations(user.id),
            flash=request.session.pop("flash", None),
        )

    async def _entry_form(
        self,
        request: Request,
        entry: dict[str, Any] | None,
        edition: dict[str, Any],
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        user = signed_in_user(request)
        attachments = await entries.attachments_of(entry["id"]) if entry else []
        screening = await entries.screening_of(entry["id"]) if entry else []
        extra.setdefault("form", entry or {})
        return page(
            request,
            "challenge/entry_form.html",
            status_code=status_code,
            entry=entry,
            edition=edition,
            intake=entries.intake_state(edition),
            categories=edition["categories"],
            sectors=SECTORS,
            organizations=await entries.my_organizations(user.id),
            attachments=attachments,
            screening=screening,
            outcome=(await entries.challenge_outcomes([entry["id"]])).get(entry["id"])
            if entry
            else None,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/entries/new")
    async def new_entry(self, request: Request, edition: QueryId) -> Template:
        """A blank draft for an edition."""
        row = await Edition.select().output(load_json=True).where(Edition.id == edition).first()
        if row is None:
            raise InvalidInput("We could not find that edition.", field="edition")
        return await self._entry_form(request, None, row)

    @post("/entries")
    async def create_entry(self, request: Request) -> Template | Redirect:
        user = signed_in_user(request)
        form = await request.form()
        edition_id = _int(form.get("edition_id"))
        edition = (
            await Edition.select().output(load_json=True).where(Edition.id == edition_id).first()
        )
        if edition is None:
            raise InvalidInput("We could not find that edition.", field="edition")
        try:
            entry_id = await entries.create_entry(
                user.id, _int(form.get("organization_id")), edition_id, _form_from_multidict(form)
            )
        except DomainError as exc:
            return await self._entry_form(
                request, None, edition, exc.status_code, errors=form_errors(exc), form=_echo(form)
            )
        request.session["flash"] = "Your draft was saved."
        return back_to(f"/challenge/entries/{entry_id}")

    @get("/entries/{entry_id:int}")
    async def entry(self, request: Request, entry_id: RowId) -> Template:
        """My entry: edit until the deadline, attachments, submit or withdraw."""
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        edition = (
            await Edition.select()
            .output(load_json=True)
            .where(Edition.id == entry["edition"])
            .first()
        )
        return await self._entry_form(request, entry, edition)

    @post("/entries/{entry_id:int}")
    async def update_entry(self, request: Request, entry_id: RowId) -> Template | Redirect:
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        form = await request.form()
        try:
            await entries.update_entry(user.id, entry_id, _form_from_multidict(form))
        except DomainError as exc:
            edition = (
                await Edition.select()
                .output(load_json=True)
                .where(Edition.id == entry["edition"])
                .first()
            )
            return await self._entry_form(
                request, entry, edition, exc.status_code, errors=form_errors(exc), form=_echo(form)
            )
        request.session["flash"] = "Your changes were saved."
        return back_to(f"/challenge/entries/{entry_id}")

    async def _entry_action(
        self, request: Request, entry_id: int, action: Any, flash: str
    ) -> Template | Redirect:
        user = signed_in_user(request)
        entry = await entries.entry_for_member(user.id, entry_id)
        try:
            await action(user.id, entry_id)
        except DomainError as exc:
            edition = (
                await Edition.select()
                .output(load_json=True)
                .where(Edition.id == entry["edition"])
                .first()
            )
            return await self._entry_form(
                request, entry, edition, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = flash
        return back_to(f"/challenge/entries/{entry_id}")

    @post("/entries/{entry_id:int}/submit")
    async def submit(self, request: Request, entry_id: RowId) -> Template | Redirect:
        return await self._entry_action(
            request,
            entry_id,
            entries.submit_entry,
            "Your entry was submitted. A confirmation email is on its way.",
        )

    @post("/entries/{entry_id:int}/withdraw")
    async def withdraw(self, request: Request, entry_id: RowId) -> Template | Redirect:
        return await self._entry_action(
            request, entry_id, entries.withdraw_entry, "Your entry was withdrawn."
        )

    @post(
        "/entries/{entry_id:int}/attachments",
        request_max_body_size=entries.UPLOAD_BODY_LIMIT,
        opt={"upload_limit_mb": entries.MAX_PDF_BYTES // (1024 * 1024)},
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
            await entries.add_attachment(user.id, entry_id, upload.filename or "", content)
        except DomainError as exc:
            edition = (
                await Edition.select()
                .output(load_json=True)
                .where(Edition.id == entry["edition"])
                .first()
            )
            return await self._entry_form(
                request, entry, edition, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = "The file was attached."
        return back_to(f"/challenge/entries/{entry_id}")

    @post("/entries/{entry_id:int}/attachments/{attachment_id:int}/delete")
    async def delete_attachment(
        self, request: Request, entry_id: RowId, attachment_id: RowId
    ) -> Redirect:
        user = signed_in_user(request)
        await entries.remove_attachment(user.id, entry_id, attachment_id)
        request.session["flash"] = "The file was removed."
        return back_to(f"/challenge/entries/{entry_id}")

    @get("/entries/{entry_id:int}/attachments/{attachment_id:int}")
    async def download(self, request: Request, entry_id: RowId, attachment_id: RowId) -> Response:
        user = signed_in_user(request)
        await entries.entry_for_member(user.id, entry_id)
        rows = [a for a in await entries.attachments_of(entry_id) if a["id"] == attachment_id]
        if not rows:
            raise InvalidInput("We could not find that file.", field="file", status_code=404)
        return await attachment_response(rows[0])


def _int(value: Any) -> int:
    """A form id; anything that is not a plausible row id becomes 0 (found nowhere)."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return 0
    return number if 0 < number < 2**31 else 0


def _echo(form: Any) -> dict[str, Any]:
    echoed: dict[str, Any] = {name: str(form.get(name) or "") for name in ENTRY_TEXT_FIELDS}
    echoed.update(
        category=str(form.get("category") or ""),
        sector=str(form.get("sector") or ""),
        districts=form.getall("districts", []),
    )
    return echoed


def entry_read(row: dict[str, Any]) -> EntryRead:
    return EntryRead(
        id=row["id"],
        edition_id=row["edition"],
        organization_id=row["organization"],
        title=row["title"],
        summary=row["summary"],
        problem=row["problem"],
        ai_approach=row["ai_approach"],
        data_protection=row["data_protection"],
        target_users=row["target_users"],
        category=row["category"],
        sector=row["sector"],
        districts=list(row["districts"]),
        team=row["team"],
        demo_url=row["demo_url"],
        status=row["status"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
    )


def _entry_form_of(data: EntryWrite) -> entries.EntryForm:
    return entries.EntryForm(
        title=data.title,
        summary=data.summary,
        problem=data.problem,
        ai_approach=data.ai_approach,
        data_protection=data.data_protection,
        target_users=data.target_users,
        category=data.category,
        sector=data.sector,
        districts=list(data.districts),
        team=data.team,
        demo_url=data.demo_url,
    )


class EntryApi(Controller):
    """Entries for startup accounts, as JSON."""

    path = "/api/v1/challenge"
    tags = ["challenge"]

    @get("/editions", guards=[public], responses=ERRORS)
    async def editions(self) -> list[EditionRead]:
        """Editions with their intake window and state."""
        return [
            EditionRead(
                id=e["id"],
                name=e["name"],
                intake_opens_at=e["intake_opens_at"],
                intake_closes_at=e["intake_closes_at"],
                intake=e["intake"],
                winners=e["winners"],
                categories=list(e["categories"]),
                seed=e["seed"],
            )
            for e in await _open_editions()
        ]

    @get("/entries", guards=[requires_startup], responses=ERRORS)
    async def list_entries(self, request: Request) -> list[EntryRead]:
        """My organizations' entries (never anyone else's)."""
        user = signed_in_user(request)
        ids = [e["id"] for e in await entries.my_entries(user.id)]
        return [entry_read(await entries.entry_for_member(user.id, i)) for i in ids]

    @post("/entries", guards=[requires_startup], status_code=HTTP_201_CREATED, responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[EntryCreate]) -> EntryRead:
        """Save a draft for one of my organizations."""
        user = signed_in_user(request)
        entry_id = await entries.create_entry(
            user.id, data.organization_id, data.edition_id, _entry_form_of(data)
        )
        return entry_read(await entries.entry_for_member(user.id, entry_id))

    @get("/entries/{entry_id:int}", guards=[requires_startup], responses=ERRORS)
    async def read(self, request: Request, entry_id: RowId) -> EntryRead:
        user = signed_in_user(request)
        return entry_read(await entries.entry_for_member(user.id, entry_id))

    @put("/entries/{entry_id:int}", guards=[requires_startup], responses=ERRORS)
    async def update(
        self, request: Request, entry_id: RowId, data: JSONBody[EntryWrite]
    ) -> EntryRead:
        """Edit until the intake deadline."""
        user = signed_in_user(request)
        await entries.update_entry(user.id, entry_id, _entry_form_of(data))
        return entry_read(await entries.entry_for_member(user.id, entry_id))

    @post(
        "/entries/{entry_id:int}/submit",
        guards=[requires_startup],
        status_code=200,
        responses=ERRORS,
    )
    async def submit(self, request: Request, entry_id: RowId) -> EntryRead:
        user = signed_in_user(request)
        await entries.submit_entry(user.id, entry_id)
        return entry_read(await entries.entry_for_member(user.id, entry_id))

    @post(
        "/entries/{entry_id:int}/withdraw",
        guards=[requires_startup],
        status_code=200,
        responses=ERRORS,
    )
    async def withdraw(self, request: Request, entry_id: RowId) -> EntryRead:
        user = signed_in_user(request)
        await entries.withdraw_entry(user.id, entry_id)
        return entry_read(await entries.entry_for_member(user.id, entry_id))


ROUTE_HANDLERS = [ChallengePages, StartupPages, EntryApi]
