"""Feedback to applicants: the officials' moderation page of a stage (every entry's reviews and comments,
judges by name), its exports, and the startup's feedback page of an entry (judges as letters)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from judging import feedback_exports
from judging.compute.feedback import LABELS
from judging.pages.officials_stages import _download
from judging.schemas import RowId
from judging.services import feedback, feedback_moderation
from portal import i18n
from portal.auth import public, requires_official
from portal.errors import DomainError, NotFoundError
from portal.web.forms import form_errors
from portal.web.pages import back_to, current_user, page, signed_in_user


def _labels() -> dict[str, str]:
    """The bands, outcomes, moderation states and sorts in the reader's language."""
    return {key: i18n.translate(text) for key, text in LABELS.items()}


def _base(round_id: int) -> str:
    return f"/officials/challenge/rounds/{round_id}/feedback"


class OfficialFeedbackPages(Controller):
    """Moderate a stage's comments for the applicants, release the feedback, export it."""

    path = "/officials/challenge/rounds"
    guards = [requires_official]

    async def _page(
        self, request: Request, round_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        query = request.query_params
        status = str(query.get("status") or "")
        search = str(query.get("q") or "")[:100]
        sort = str(query.get("sort") or "rank")
        return page(
            request,
            "challenge/feedback_moderation.html",
            status_code=status_code,
            view=await feedback_moderation.moderation_page(round_id, status, search, sort),
            filters={"status": status, "q": search, "sort": sort},
            statuses=feedback.STATUSES,
            labels=_labels(),
            sorts=feedback_moderation.SORTS,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/{round_id:int}/feedback")
    async def moderation(self, request: Request, round_id: RowId) -> Template:
        """Every entry's reviews and comments in the stage, with each comment's moderation."""
        return await self._page(request, round_id)

    @post("/{round_id:int}/feedback/{review_id:int}/{criterion:str}")
    async def moderate(
        self, request: Request, round_id: RowId, review_id: RowId, criterion: FromPath[str]
    ) -> Template | Redirect:
        form = await request.form()
        try:
            await feedback_moderation.moderate_comment(
                signed_in_user(request).id,
                review_id,
                criterion[:40],
                str(form.get("status") or ""),
                str(form.get("reason") or ""),
            )
        except DomainError as exc:
            return await self._page(
                request,
                round_id,
                exc.status_code,
                errors=form_errors(exc),
                failed=(review_id, criterion),
                form=dict(form),
            )
        request.session["flash"] = i18n.gettext("The comment's moderation was saved.")
        return back_to(f"{_base(round_id)}#c-{review_id}-{criterion[:40]}")

    @post("/{round_id:int}/feedback/approve-remaining")
    async def approve_remaining(self, request: Request, round_id: RowId) -> Template | Redirect:
        form = await request.form()
        if form.get("confirm") != "yes":
            return await self._page(
                request,
                round_id,
                422,
                errors={"confirm": i18n.gettext("Tick the box to confirm.")},
            )
        try:
            count = await feedback_moderation.approve_remaining(
                signed_in_user(request).id, round_id
            )
        except DomainError as exc:
            return await self._page(request, round_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = i18n.gettext("%(count)s comments were approved.", count=count)
        return back_to(_base(round_id))

    @post("/{round_id:int}/feedback/release")
    async def release(self, request: Request, round_id: RowId) -> Template | Redirect:
        try:
            count = await feedback_moderation.release_feedback(signed_in_user(request).id, round_id)
        except DomainError as exc:
            return await self._page(request, round_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = i18n.gettext(
            "The feedback was released to %(count)s entries.", count=count
        )
        return back_to(_base(round_id))

    @get("/{round_id:int}/feedback/export/{name:str}")
    async def export(self, request: Request, round_id: RowId, name: FromPath[str]) -> Response:
        """feedback.csv or feedback.xlsx: every entry's feedback as the startup sees it, with moderation."""
        if name not in feedback_exports.FILE_NAMES:
            raise NotFoundError("We could not find that page.")
        return _download(name, await feedback_exports.feedback_file(round_id, name))


class StartupFeedbackPages(Controller):
    """An entry's feedback, for the members of its organization only (404 for anyone else)."""

    path = "/challenge"
    guards = [public]

    @get("/entries/{entry_id:int}/feedback")
    async def entry_feedback(self, request: Request, entry_id: RowId) -> Template:
        """Per released stage: scores per criterion, rank band, distance to the cut, approved comments."""
        user = current_user(request)
        return page(
            request,
            "challenge/feedback.html",
            labels=_labels(),
            view=await feedback.entry_feedback(user.id if user else None, entry_id),
        )
