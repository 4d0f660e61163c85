"""The judges' pages: their dashboard, profile and declared conflicts, and the blind scoring form."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from judging.categories import CATEGORIES
from judging.pages.attachments import attachment_response
from judging.schemas import RowId
from judging.services import attachments, conflicts, discussion, editions, intake, reviews
from judging.tables import CONFLICT_TYPES
from portal import clock
from portal.auth import requires_judge
from portal.errors import DomainError
from portal.web.forms import form_errors, parse_small_number, saved_or_shown_again
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]


class JudgePages(Controller):
    """A judge's dashboard, profile and conflicts, and the blind scoring form."""

    path = "/judging"
    guards = [requires_judge]

    @get("/")
    async def dashboard(self, request: Request) -> Template:
        """My assignments, progress, deadlines and the next entry to review."""
        rows = await reviews.judge_assignments(signed_in_user(request).id)
        # Open rounds first: locked past rounds are history, not work.
        rows.sort(key=lambda r: not r.open)
        pending = [r for r in rows if not r.reviewed and r.open]
        # Progress is about the work still open; locked rounds count only when nothing is open.
        current = [r for r in rows if r.open] or rows
        return page(
            request,
            "judging/judges/dashboard.html",
            assignments=rows,
            next_up=pending[0] if pending else None,
            done=sum(1 for r in current if r.reviewed),
            total=len(current),
            flash=request.session.pop("flash", None),
        )

    async def _profile_page(
        self, request: Request, status_code: int = 200, **extra: Any
    ) -> Template:
        me = signed_in_user(request).id
        return page(
            request,
            "judging/judges/profile.html",
            status_code=status_code,
            profile=await conflicts.judge_profile(me),
            conflicts=await conflicts.my_conflicts(me),
            organizations=await conflicts.organizations_for_declaration(),
            categories=CATEGORIES,
            conflict_types=CONFLICT_TYPES,
            format_brn=intake.format_registration_number,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/profile")
    async def profile(self, request: Request) -> Template:
        """Affiliations, expertise and holdings; declared conflicts."""
        return await self._profile_page(request)

    @post("/profile")
    async def save_profile(self, request: Request) -> Template | Redirect:
        form = await request.form()
        saving = conflicts.save_judge_profile(
            signed_in_user(request).id,
            str(form.get("affiliations") or ""),
            [str(c) for c in (form.getall("expertise", []))],
            str(form.get("holdings") or ""),
        )
        return await saved_or_shown_again(
            request,
            saving,
            self._profile_page,
            flash="Your profile was saved.",
            then="/judging/profile",
        )

    @post("/conflicts")
    async def declare(self, request: Request, data: FormData) -> Template | Redirect:
        async def declaring() -> None:  # a bad organization number is refused beside its field too
            await conflicts.declare_conflict(
                signed_in_user(request).id,
                parse_small_number(data.get("organization"), "organization"),
                data.get("kind", ""),
                data.get("note", ""),
            )

        return await saved_or_shown_again(
            request,
            declaring(),
            self._profile_page,
            flash="Your conflict was declared. You will not see this organization's entries.",
            then="/judging/profile",
        )

    async def _review_page(
        self, request: Request, round_id: int, entry_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        return await review_page(request, round_id, entry_id, status_code, **extra)

    @get("/rounds/{round_id:int}/entries/{entry_id:int}")
    async def review(self, request: Request, round_id: RowId, entry_id: RowId) -> Template:
        """The blind entry and the scoring form with the rubric's level descriptors."""
        return await self._review_page(request, round_id, entry_id)

    @post("/rounds/{round_id:int}/entries/{entry_id:int}")
    async def score(
        self, request: Request, round_id: RowId, entry_id: RowId, data: FormData
    ) -> Template | Redirect:
        rnd = await editions.get_round(round_id)
        keys = [c["key"] for c in rnd["rubric"]]
        try:
            scores = {k: parse_small_number(data.get(f"score_{k}"), f"score_{k}") for k in keys}
            comments = {k: data.get(f"comment_{k}", "") for k in keys}
            await reviews.save_review(
                signed_in_user(request).id,
                round_id,
                entry_id,
                scores,
                comments,
                parse_small_number(data.get("confidence"), "confidence"),
                private_comments=[k for k in keys if data.get(f"private_{k}")],
            )
        except DomainError as exc:
            return await self._review_page(
                request, round_id, entry_id, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = (
            "Your review was saved. You can change it until the round deadline."
        )
        return back_to("/judging")

    @get("/attachments/{attachment_id:int}")
    async def attachment(self, request: Request, attachment_id: RowId) -> Response:
        """An assigned entry's file; nothing of a conflicted entry (S14)."""
        row, blind_name = await reviews.attachment_for_judge(
            signed_in_user(request).id, attachment_id
        )
        return await attachment_response(row, blind_name=blind_name)


async def review_page(
    request: Request, round_id: int, entry_id: int, status_code: int = 200, **extra: Any
) -> Template:
    """The blind entry, my review form and, once I reviewed it, the other judges' reviews and discussion."""
    me = signed_in_user(request).id
    entry = await reviews.entry_for_judge(me, round_id, entry_id)
    rnd = await editions.get_round(round_id)
    review = await reviews.my_review(me, round_id, entry_id)
    return page(
        request,
        "judging/judges/review.html",
        status_code=status_code,
        entry=entry,
        round=rnd,
        review=review,
        attachments=await attachments.attachments_of(entry_id),
        locked=clock.now() >= rnd["deadline"],
        discussion=await discussion.discussion_for(me, round_id, entry_id),
        flash=request.session.pop("flash", None),
        **extra,
    )
