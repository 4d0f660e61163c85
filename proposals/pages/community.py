"""Citizens around proposals: supports (공감), discussion, and a citizen's own proposals and supports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Controller, Request, post
from litestar import get as get_page
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.auth import requires_login
from portal.errors import DomainError
from portal.web.forms import form_errors, parse_row_id
from portal.web.pages import back_to, page, signed_in_user
from proposals.pages.citizens import proposal_page
from proposals.services import comments, mine, support

# How each kind of discussion target shows its page again after a refused comment (kind -> page).
PAGES_AGAIN: dict[str, Callable[..., Awaitable[Template]]] = {"proposal": proposal_page}


async def shown_again(
    request: Request, kind: str, target_id: int, exc: DomainError, **extra: object
) -> Template:
    """The target's page again, the message beside the field and what was typed kept."""
    again = PAGES_AGAIN.get(kind, proposal_page)
    return await again(request, target_id, exc.status_code, errors=form_errors(exc), **extra)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class CommunityPages(Controller):
    """Supports, comments and reports by signed-in residents; their own lists."""

    path = "/pb"
    guards = [requires_login]

    async def _support_step(
        self, request: Request, proposal_id: int, step: Callable[..., Awaitable[int]], flash: str
    ) -> Template | Redirect:
        try:
            await step(signed_in_user(request), proposal_id)
        except DomainError as exc:
            return await proposal_page(request, proposal_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = flash
        return back_to(f"/pb/proposals/{proposal_id}#support")

    @post("/proposals/{proposal_id:int}/support")
    async def support(self, request: Request, proposal_id: FromPath[int]) -> Template | Redirect:
        """Support (공감) a proposal during its cycle's support phase."""
        return await self._support_step(
            request, proposal_id, support.support, "Thank you: your support was counted."
        )

    @post("/proposals/{proposal_id:int}/support/withdraw")
    async def withdraw_support(
        self, request: Request, proposal_id: FromPath[int]
    ) -> Template | Redirect:
        """Take a support back while the support phase lasts."""
        return await self._support_step(
            request, proposal_id, support.withdraw_support, "Your support was withdrawn."
        )

    @post("/discussions/{kind:str}/{target_id:int}/comments")
    async def comment(
        self, request: Request, kind: FromPath[str], target_id: FromPath[int]
    ) -> Template | Redirect:
        """Post a comment, or a reply (``parent``), in plain text."""
        form = await request.form()
        body, parent = _text(form.get("body")), _text(form.get("parent"))
        parent_id = parse_row_id(parent) if parent else None
        try:
            await comments.target_of(kind, target_id)  # an unknown target is a 404, not a form
            comment_id = await comments.post_comment(
                signed_in_user(request), kind, target_id, body, parent_id
            )
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await shown_again(
                request, kind, target_id, exc, form={"body": body}, failed_reply=parent_id
            )
        request.session["flash"] = "Your comment was posted."
        target = await comments.target_of(kind, target_id)
        return back_to(f"{target.link}#comment-{comment_id}")

    @post("/comments/{comment_id:int}/report")
    async def report(self, request: Request, comment_id: FromPath[int]) -> Template | Redirect:
        """Report a comment to the moderators."""
        kind, target_id = await comments.comment_target(comment_id)
        form = await request.form()
        reason = _text(form.get("reason"))
        try:
            await comments.report_comment(signed_in_user(request), comment_id, reason)
        except DomainError as exc:
            return await shown_again(
                request, kind, target_id, exc, form={"reason": reason}, failed_report=comment_id
            )
        request.session["flash"] = "Thank you. The moderators will look at this comment."
        target = await comments.target_of(kind, target_id)
        return back_to(f"{target.link}#comment-{comment_id}")

    @get_page("/my/proposals")
    async def my_proposals(self, request: Request, page_no: FromQuery[str | None] = None) -> Template:
        """The proposals I wrote."""
        found = await mine.my_proposals(signed_in_user(request), parse_row_id(page_no) or 1)
        return page(request, "proposals/mine.html", mine=found, which="proposals")

    @get_page("/my/supports")
    async def my_supports(self, request: Request, page_no: FromQuery[str | None] = None) -> Template:
        """The proposals I support (only I see this list)."""
        found = await mine.my_supports(signed_in_user(request), parse_row_id(page_no) or 1)
        return page(request, "proposals/mine.html", mine=found, which="supports")
