"""The AI 50 Challenge intake as JSON: editions, and entries for startup accounts (/api/v1/challenge)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from judging.schemas import EditionRead, EntryCreate, EntryRead, EntryWrite, RowId
from judging.services import entries, intake
from judging.services.entries import EntryForm
from portal.auth import public, requires_startup
from portal.web.openapi import ERRORS
from portal.web.pages import signed_in_user


def _entry_form(data: EntryWrite) -> EntryForm:
    """The fields a startup fills in (an EntryCreate's ids are not among them)."""
    values = {name: getattr(data, name) for name in EntryWrite.__struct_fields__}
    return EntryForm(**values | {"districts": list(data.districts)})


# Submit and withdraw answer 200 with the entry as it now is.
ENTRY_ACTION: dict[str, Any] = {
    "guards": [requires_startup],
    "status_code": 200,
    "responses": ERRORS,
}


async def _entry_action(
    request: Request, entry_id: int, action: Callable[[int, int], Awaitable[None]]
) -> EntryRead:
    user = signed_in_user(request)
    await action(user.id, entry_id)
    return await entries.entry_for_member(user.id, entry_id)


class EntryApi(Controller):
    """Entries for startup accounts, as JSON."""

    path = "/api/v1/challenge"
    tags = ["challenge"]

    @get("/editions", guards=[public], responses=ERRORS)
    async def editions(self) -> list[EditionRead]:
        """Editions with their intake window and state."""
        return await intake.editions()

    @get("/entries", guards=[requires_startup], responses=ERRORS)
    async def list_entries(self, request: Request) -> list[EntryRead]:
        """My organizations' entries (never anyone else's)."""
        user = signed_in_user(request)
        return await entries.my_entry_details(user.id)

    @post("/entries", guards=[requires_startup], status_code=HTTP_201_CREATED, responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[EntryCreate]) -> EntryRead:
        """Save a draft for one of my organizations."""
        user = signed_in_user(request)
        entry_id = await entries.create_entry(
            user.id, data.organization_id, data.edition_id, _entry_form(data)
        )
        return await entries.entry_for_member(user.id, entry_id)

    @get("/entries/{entry_id:int}", guards=[requires_startup], responses=ERRORS)
    async def read(self, request: Request, entry_id: RowId) -> EntryRead:
        user = signed_in_user(request)
        return await entries.entry_for_member(user.id, entry_id)

    @put("/entries/{entry_id:int}", guards=[requires_startup], responses=ERRORS)
    async def update(
        self, request: Request, entry_id: RowId, data: JSONBody[EntryWrite]
    ) -> EntryRead:
        """Edit until the intake deadline."""
        user = signed_in_user(request)
        await entries.update_entry(user.id, entry_id, _entry_form(data))
        return await entries.entry_for_member(user.id, entry_id)

    @post("/entries/{entry_id:int}/submit", **ENTRY_ACTION)
    async def submit(self, request: Request, entry_id: RowId) -> EntryRead:
        return await _entry_action(request, entry_id, entries.submit_entry)

    @post("/entries/{entry_id:int}/withdraw", **ENTRY_ACTION)
    async def withdraw(self, request: Request, entry_id: RowId) -> EntryRead:
        return await _entry_action(request, entry_id, entries.withdraw_entry)
