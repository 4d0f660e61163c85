"""The AI 50 Challenge intake as JSON: editions, and entries for startup accounts (/api/v1/challenge)."""

from __future__ import annotations

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from judging.schemas import EditionRead, EntryCreate, EntryRead, EntryWrite, RowId
from judging.services import entries, intake
from judging.services.entries import EntryDetail, EntryForm
from portal.auth import public, requires_startup
from portal.web.openapi import ERRORS
from portal.web.pages import signed_in_user


def entry_read(entry: EntryDetail) -> EntryRead:
    return EntryRead(
        id=entry.id,
        edition_id=entry.edition,
        organization_id=entry.organization,
        title=entry.title,
        summary=entry.summary,
        problem=entry.problem,
        ai_approach=entry.ai_approach,
        data_protection=entry.data_protection,
        target_users=entry.target_users,
        category=entry.category,
        sector=entry.sector,
        districts=list(entry.districts),
        team=entry.team,
        demo_url=entry.demo_url,
        status=entry.status,
        submitted_at=entry.submitted_at,
        updated_at=entry.updated_at,
    )


def _entry_form(data: EntryWrite) -> EntryForm:
    return EntryForm(
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
                id=e.id,
                name=e.name,
                intake_opens_at=e.intake_opens_at,
                intake_closes_at=e.intake_closes_at,
                intake=e.intake,
                winners=e.winners,
                categories=list(e.categories),
                seed=e.seed,
            )
            for e in await intake.editions()
        ]

    @get("/entries", guards=[requires_startup], responses=ERRORS)
    async def list_entries(self, request: Request) -> list[EntryRead]:
        """My organizations' entries (never anyone else's)."""
        user = signed_in_user(request)
        return [entry_read(e) for e in await entries.my_entry_details(user.id)]

    @post("/entries", guards=[requires_startup], status_code=HTTP_201_CREATED, responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[EntryCreate]) -> EntryRead:
        """Save a draft for one of my organizations."""
        user = signed_in_user(request)
        entry_id = await entries.create_entry(
            user.id, data.organization_id, data.edition_id, _entry_form(data)
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
        await entries.update_entry(user.id, entry_id, _entry_form(data))
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
