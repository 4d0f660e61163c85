"""Officials' review pages: mark proposals feasible or not, revise costs and merge duplicates."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal.auth import requires_official
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors, krw_from_form, parse_whole_number
from portal.web.pages import back_to, page, signed_in_user
from proposals.services import browsing, support
from proposals.services import review as reviews
from voting.pages.cycle_header import cycle_context
from voting.services import cycles as voting
from voting.services.lifecycle import has_support_phase


class ProposalReviewPages(Controller):
    """Officials mark proposals feasible or not, revise costs and merge duplicates."""

    path = "/officials/pb"
    guards = [requires_official]

    async def _list(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await voting.get_cycle(cycle_id)
        proposals = await browsing.browse(cycle_id, sort="oldest", limit=2000)
        pots = await voting.pots_of(cycle_id)
        return page(
            request,
            "proposals/review.html",
            status_code=status_code,
            **cycle_context(cycle),
            proposals=proposals,
            pot_names={p["id"]: voting.pot_name(p) for p in pots},
            # A cycle with a support phase reviews only its shortlist (proposals/services/support.py).
            has_support=has_support_phase(cycle),
            shortlist=await support.shortlisted_ids(cycle_id),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/cycles/{cycle_id:int}/proposals")
    async def review_list(self, request: Request, cycle_id: FromPath[int]) -> Template:
        return await self._list(request, cycle_id)

    @post("/proposals/{proposal_id:int}/review")
    async def review(self, request: Request, proposal_id: FromPath[int]) -> Template | Redirect:
        """Feasible or not, with a reason and an optional revised cost."""
        user = signed_in_user(request)
        found = await browsing.get(proposal_id, user)
        form = await request.form()
        try:
            decision = form.get("decision")
            if decision not in ("feasible", "infeasible"):
                raise InvalidInput("Choose feasible or not feasible.", field="decision")
            await reviews.review(
                user.id,
                proposal_id,
                decision == "feasible",
                form.get("reason", ""),
                krw_from_form(form.get("revised_cost"), "revised_cost", optional=True),
            )
        except DomainError as exc:
            return await self._list(
                request, found.cycle, exc.status_code, errors=form_errors(exc), failed=proposal_id
            )
        request.session["flash"] = "The review was saved and the author was notified."
        return back_to(f"/officials/pb/cycles/{found.cycle}/proposals#p-{proposal_id}")

    @post("/proposals/{proposal_id:int}/merge")
    async def merge(self, request: Request, proposal_id: FromPath[int]) -> Template | Redirect:
        """Merge a duplicate into another proposal of the same pot."""
        user = signed_in_user(request)
        found = await browsing.get(proposal_id, user)
        form = await request.form()
        try:
            await reviews.merge(
                user.id,
                proposal_id,
                parse_whole_number(form.get("merged_into"), "merged_into") or 0,
                form.get("reason", ""),
            )
        except DomainError as exc:
            errors = form_errors(exc)
            if "reason" in errors:  # the merge form's reason, not the review form's
                errors["merge_reason"] = errors.pop("reason")
            return await self._list(
                request, found.cycle, exc.status_code, errors=errors, failed=proposal_id
            )
        request.session["flash"] = "The proposals were merged and the author was notified."
        return back_to(f"/officials/pb/cycles/{found.cycle}/proposals")
