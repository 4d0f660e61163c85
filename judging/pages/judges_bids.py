"""Judges' bids on a round's entries, the discussion after one's own review, and judge invitations."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from judging.categories import CATEGORIES
from judging.pages import listing
from judging.pages.judges import review_page
from judging.schemas import RowId
from judging.services import bids, discussion, judge_invitations
from judging.services.onboarding import user_row
from judging.tables import BID_LEVELS
from portal.auth import continue_after_role_change, public, requires_judge, requires_login
from portal.errors import DomainError
from portal.web.forms import form_errors, parse_row_id
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]
BID_RANK = {level: i for i, level in enumerate(BID_LEVELS)}


class JudgeBidPages(Controller):
    """Bidding on a round's entries before the assignment; posting to an entry's discussion."""

    path = "/judging"
    guards = [requires_judge]

    @get("/bids")
    async def rounds(self, request: Request) -> Template:
        """The rounds open for bids."""
        return page(request, "judging/judges/bid_rounds.html", rounds=await bids.bidding_rounds())

    async def _bid_page(self, request: Request, round_id: int, status_code: int = 200, **extra: Any) -> Template:
        data = await bids.bid_page(signed_in_user(request).id, round_id)
        rows, state = listing.apply(
            request,
            data.rows,
            sorts={
                "entry": lambda r: r.entry,
                "title": lambda r: r.title.casefold(),
                "category": lambda r: (r.category, r.entry),
                "bid": lambda r: (BID_RANK.get(r.bid, len(BID_RANK)), r.entry),
            },
            default_sort="entry",
            filters={"category": "category", "bid": "bid"},
            search=("title", "summary"),
        )
        return page(
            request,
            "judging/judges/bids.html",
            status_code=status_code,
            data=data,
            rows=rows,
            state=state,
            levels=BID_LEVELS,
            categories=CATEGORIES,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/rounds/{round_id:int}/bids")
    async def bid_page(self, request: Request, round_id: RowId) -> Template:
        """Entry summaries of a round, sortable and filterable, with my bid on each."""
        return await self._bid_page(request, round_id)

    @post("/rounds/{round_id:int}/bids")
    async def save(self, request: Request, round_id: RowId, data: FormData) -> Template | Redirect:
        wanted = {
            parse_row_id(name[4:]): value
            for name, value in data.items()
            if name.startswith("bid_") and parse_row_id(name[4:])
        }
        try:
            changed = await bids.save_bids(signed_in_user(request).id, round_id, wanted)
        except DomainError as exc:
            return await self._bid_page(request, round_id, exc.status_code, errors=form_errors(exc), form=data)
        request.session["flash"] = "Your bids were saved." if changed else "No bid changed."
        back = data.get("back", "")
        return back_to(f"/judging/rounds/{round_id}/bids" + (back if back.startswith("?") else ""))

    @post("/rounds/{round_id:int}/entries/{entry_id:int}/discussion")
    async def discuss(
        self, request: Request, round_id: RowId, entry_id: RowId, data: FormData
    ) -> Template | Redirect:
        """A message to the other judges of the entry (after my own review)."""
        me = signed_in_user(request).id
        try:
            await discussion.post_message(me, round_id, entry_id, data.get("body", ""))
        except DomainError as exc:
            return await review_page(
                request, round_id, entry_id, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = "Your message was posted."
        return back_to(f"/judging/rounds/{round_id}/entries/{entry_id}#discussion")


class JudgeInvitationPages(Controller):
    """An invitation to judge: what it is, and accepting it once signed in with the invited address."""

    path = "/judging/invitations"

    @get("/", guards=[requires_login])
    async def mine(self, request: Request) -> Template:
        """Invitations to my address (the notice links here); accepting needs the mailed link."""
        user = signed_in_user(request)
        return page(
            request,
            "judging/judges/invitations.html",
            invitations=await judge_invitations.pending_for(user.email),
        )

    async def _invitation_page(
        self, request: Request, token: str, status_code: int = 200, **extra: Any
    ) -> Template:
        return page(
            request,
            "judging/judges/invitation.html",
            status_code=status_code,
            invitation=await judge_invitations.invitation_by_token(token),
            token=token,
            **extra,
        )

    @get("/{token:str}", guards=[public])
    async def invitation(self, request: Request, token: FromPath[str]) -> Template:
        """The invitation explained: sign in or register with the invited address, then accept."""
        return await self._invitation_page(request, token)

    @post("/{token:str}/accept", guards=[requires_login])
    async def accept(self, request: Request, token: FromPath[str]) -> Template | Redirect:
        user = signed_in_user(request)
        try:
            await judge_invitations.accept_judge_invitation(user.id, user.email, token)
        except DomainError as exc:
            return await self._invitation_page(request, token, exc.status_code, errors=form_errors(exc))
        stage = continue_after_role_change(request.session, await user_row(user.id))
        if stage != "full":  # a judge signs in with a TOTP code: enrol the phone first
            request.session["next"] = "/judging/profile"
            return back_to("/account/totp/setup")
        request.session["flash"] = "You are now a judge. Check your expertise and declare your conflicts."
        return back_to("/judging/profile")
