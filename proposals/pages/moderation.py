"""Officials' pages around proposals: the support phase (settings, shortlist preview, opening and
closing it) and the discussion moderation queue."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.auth import requires_official
from portal.errors import DomainError
from portal.web.forms import (
    form_errors,
    parse_row_id,
    parse_seoul_datetime,
    parse_small_number,
    seoul_datetime_input,
)
from portal.web.pages import back_to, page, signed_in_user
from proposals.services import comments, support
from voting.pages.cycle_header import cycle_context
from voting.services import cycles as voting
from voting.services import lifecycle

SUPPORT_FIELDS = ("support_close_at", "support_rule", "support_cutoff")


class SupportPhasePages(Controller):
    """Officials give a cycle a support phase, preview its shortlist, open and close it."""

    path = "/officials/pb/cycles/{cycle_id:int}/support"
    guards = [requires_official]
    # (the handlers' own paths are "": a form's action then has no trailing slash)

    async def _page(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await voting.get_cycle(cycle_id)
        form = {
            "support_close_at": seoul_datetime_input(cycle["support_close_at"])
            if cycle["support_close_at"]
            else "",
            "support_rule": cycle["support_rule"] or "threshold",
            "support_cutoff": str(cycle["support_cutoff"] or ""),
        }
        return page(
            request,
            "proposals/support_manage.html",
            status_code=status_code,
            **cycle_context(cycle),
            preview=await support.shortlist_preview(cycle_id),
            has_support=lifecycle.has_support_phase(cycle),
            form={**form, **extra.pop("form", {})},
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("")
    async def show(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """The support phase's dates and rule, and the shortlist if it ended now."""
        return await self._page(request, cycle_id)

    @post("")
    async def save(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Set (or, with no date, remove) the support phase and its shortlist rule."""
        form = await request.form()
        values = {k: v if isinstance(v := form.get(k), str) else "" for k in SUPPORT_FIELDS}
        try:
            close_at = (
                parse_seoul_datetime(values["support_close_at"], "support_close_at")
                if values["support_close_at"].strip()
                else None
            )
            cutoff = (
                parse_small_number(values["support_cutoff"], "support_cutoff") if close_at else None
            )
            await lifecycle.set_support_phase(
                signed_in_user(request).id, cycle_id, close_at, values["support_rule"], cutoff
            )
        except DomainError as exc:
            return await self._page(
                request, cycle_id, exc.status_code, errors=form_errors(exc), form=values
            )
        request.session["flash"] = "The support phase was saved."
        return back_to(f"/officials/pb/cycles/{cycle_id}/support")

    async def _step(self, request: Request, cycle_id: int, step: Any, flash: str) -> Template | Redirect:
        try:
            await step(signed_in_user(request).id, cycle_id)
        except DomainError as exc:
            return await self._page(request, cycle_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = flash
        return back_to(f"/officials/pb/cycles/{cycle_id}/support")

    @post("/open")
    async def open_now(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """End intake now and open the support phase."""
        return await self._step(
            request, cycle_id, lifecycle.open_support_now, "The support phase is open."
        )

    @post("/close")
    async def close_now(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """End the support phase now: the shortlist goes to review."""
        return await self._step(
            request,
            cycle_id,
            lifecycle.close_support_now,
            "The support phase was closed and the shortlist went to review.",
        )


class ModerationPages(Controller):
    """Officials moderate discussions: reported comments first; hide with a reason, restore, keep."""

    path = "/officials/pb/comments"
    guards = [requires_official]

    async def _queue(
        self, request: Request, page_no: int = 1, status_code: int = 200, **extra: Any
    ) -> Template:
        return page(
            request,
            "proposals/moderation.html",
            status_code=status_code,
            queue=await comments.moderation_queue(page_no),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/")
    async def queue(self, request: Request, page_no: FromQuery[str | None] = None) -> Template:
        """The moderation queue."""
        return await self._queue(request, parse_row_id(page_no) or 1)

    async def _act(self, request: Request, comment_id: int, action: Any, flash: str, **form: str) -> Template | Redirect:
        try:
            await action(signed_in_user(request).id, comment_id, *form.values())
        except DomainError as exc:
            return await self._queue(
                request, 1, exc.status_code, errors=form_errors(exc), failed=comment_id, form=form
            )
        request.session["flash"] = flash
        return back_to(f"/officials/pb/comments#c-{comment_id}")

    @post("/{comment_id:int}/hide")
    async def hide(self, request: Request, comment_id: FromPath[int]) -> Template | Redirect:
        """Hide a comment with a reason shown in its place."""
        reason = (await request.form()).get("reason")
        return await self._act(
            request,
            comment_id,
            comments.hide_comment,
            "The comment was hidden.",
            reason=reason if isinstance(reason, str) else "",
        )

    @post("/{comment_id:int}/restore")
    async def restore(self, request: Request, comment_id: FromPath[int]) -> Template | Redirect:
        """Show a hidden comment again."""
        return await self._act(request, comment_id, comments.restore_comment, "The comment was restored.")

    @post("/{comment_id:int}/keep")
    async def keep(self, request: Request, comment_id: FromPath[int]) -> Template | Redirect:
        """Close the reports and keep the comment as it is."""
        return await self._act(
            request, comment_id, comments.keep_comment, "The reports were closed; the comment stays."
        )
