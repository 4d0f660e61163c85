"""Residents in the challenge: the citizen panel (the drawn panelist's entries and scoring form) and a
stage's public vote."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from judging.schemas import RowId
from judging.services import panel, public_vote
from portal.auth import public, requires_login
from portal.errors import DomainError
from portal.web.forms import form_errors, parse_small_number
from portal.web.pages import back_to, current_user, page, signed_in_user
from portal.web.signals import client_of

FormData = URLEncodedBody[dict[str, str]]


class CitizenPanelPages(Controller):
    """A drawn panelist's stages and the short-rubric scoring form (only their assigned entries)."""

    path = "/challenge/panel"
    guards = [requires_login]

    @get("/")
    async def my_panels(self, request: Request) -> Template:
        """The stages I sit on the citizen panel of, with the entries I score."""
        return page(
            request,
            "challenge/panel.html",
            seats=await panel.my_panels(signed_in_user(request).id),
            flash=request.session.pop("flash", None),
        )

    async def _entry_page(
        self, request: Request, round_id: int, entry_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        view = await panel.panel_entry(signed_in_user(request).id, round_id, entry_id)
        return page(request, "challenge/panel_entry.html", status_code=status_code, view=view, **extra)

    @get("/rounds/{round_id:int}/entries/{entry_id:int}")
    async def entry(self, request: Request, round_id: RowId, entry_id: RowId) -> Template:
        """An entry on my panel (no organization or team shown) and the scoring form."""
        return await self._entry_page(request, round_id, entry_id)

    @post("/rounds/{round_id:int}/entries/{entry_id:int}")
    async def score(
        self, request: Request, round_id: RowId, entry_id: RowId, data: FormData
    ) -> Template | Redirect:
        me = signed_in_user(request).id
        try:
            view = await panel.panel_entry(me, round_id, entry_id)
            scores = {
                c["key"]: parse_small_number(data.get(f"score_{c['key']}"), f"score_{c['key']}")
                for c in view.rubric
            }
            await panel.save_panel_score(me, round_id, entry_id, scores)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._entry_page(
                request, round_id, entry_id, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = "Your score was saved. You can change it until the deadline."
        return back_to("/challenge/panel")


class PublicVotePages(Controller):
    """A stage's public vote: the entries for everyone, one vote per verified resident."""

    path = "/challenge/vote"

    async def _vote_page(self, request: Request, round_id: int, status_code: int = 200, **extra: Any) -> Template:
        return page(
            request,
            "challenge/vote.html",
            status_code=status_code,
            view=await public_vote.vote_page(current_user(request), round_id),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/", guards=[public])
    async def stages(self, request: Request) -> Template:
        """Stages taking public votes now."""
        return page(request, "challenge/votes.html", stages=await public_vote.open_public_votes())

    @get("/rounds/{round_id:int}", guards=[public])
    async def vote(self, request: Request, round_id: RowId) -> Template:
        """The stage's entries and, for a verified resident, the vote form."""
        return await self._vote_page(request, round_id)

    @post("/rounds/{round_id:int}", guards=[requires_login])
    async def cast(self, request: Request, round_id: RowId, data: FormData) -> Template | Redirect:
        try:
            await public_vote.cast_public_vote(
                signed_in_user(request),
                round_id,
                parse_small_number(data.get("entry"), "entry"),
                *client_of(request),
            )
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._vote_page(request, round_id, exc.status_code, errors=form_errors(exc), form=data)
        request.session["flash"] = "Your vote was counted. Thank you."
        return back_to(f"/challenge/vote/rounds/{round_id}")
