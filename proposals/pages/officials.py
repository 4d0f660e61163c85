"""Officials' review pages: mark proposals feasible or not, revise costs and merge duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal.auth import requires_official
from portal.errors import DomainError, InvalidInput
from portal.paging import page_number
from portal.web.forms import form_errors, krw_from_form, parse_whole_number
from portal.web.pages import back_to, page, signed_in_user
from portal.web.pagination import Pager
from proposals.services import browsing, support
from proposals.services import review as reviews
from voting.pages.cycle_header import cycle_context
from voting.services import cycles as voting
from voting.services.lifecycle import has_support_phase

QUEUE_PARAMS = ("q", "pot", "status", "sort", "page")


def _queue_params(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """The queue's filters, sort and page as URL pairs (only the known ones, empty ones dropped)."""
    return [(k, str(params.get(k, ""))[:100]) for k in QUEUE_PARAMS if params.get(k)]


def _queue_query(pairs: list[tuple[str, str]]) -> tuple[browsing.ProposalQuery, int]:
    params = dict(pairs)
    pot = params.get("pot", "")
    return (
        browsing.ProposalQuery(
            q=params.get("q"),
            pot_id=int(pot) if pot.isascii() and pot.isdigit() and len(pot) < 10 else None,
            status=params.get("status"),
            sort=params.get("sort") or "oldest",
        ),
        page_number(params.get("page")),
    )


class ProposalReviewPages(Controller):
    """Officials mark proposals feasible or not, revise costs and merge duplicates."""

    path = "/officials/pb"
    guards = [requires_official]

    async def _list(
        self,
        request: Request,
        cycle_id: int,
        params: list[tuple[str, str]],
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        """The review queue a page at a time, oldest first unless another sort is chosen."""
        cycle = await voting.get_cycle(cycle_id)
        query, page_no = _queue_query(params)
        found = await browsing.search(cycle_id, query, page_no)
        pots = await voting.pots_of(cycle_id)
        path = f"/officials/pb/cycles/{cycle_id}/proposals"
        kept = tuple((k, v) for k, v in params if k != "page")
        return page(
            request,
            "proposals/review.html",
            status_code=status_code,
            **cycle_context(cycle),
            proposals=found.items,
            pager=Pager(found, path, kept),
            back=urlencode([*kept, *([("page", str(found.number))] if found.number > 1 else [])]),
            pots=pots,
            pot_names={p["id"]: voting.pot_name(p) for p in pots},
            # A cycle with a support phase reviews only its shortlist (proposals/services/support.py).
            has_support=has_support_phase(cycle),
            shortlist=await support.shortlisted_ids(cycle_id),
            statuses=browsing.PUBLIC_STATUSES,
            query={**dict(kept), "sort": query.sort},
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/cycles/{cycle_id:int}/proposals")
    async def review_list(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """The review queue: filters, sort and page in the URL."""
        return await self._list(request, cycle_id, _queue_params(request.query_params))

    @staticmethod
    def _back(form: Any) -> list[tuple[str, str]]:
        """The queue page a card's form came from (its hidden ``back`` field), filters and page kept."""
        return _queue_params(dict(parse_qsl(str(form.get("back") or "")[:500])))

    @staticmethod
    def _queue_url(cycle_id: int, back: list[tuple[str, str]], anchor: str = "") -> str:
        query = urlencode(back)
        return f"/officials/pb/cycles/{cycle_id}/proposals{'?' + query if query else ''}{anchor}"

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
                request,
                found.cycle,
                self._back(form),
                exc.status_code,
                errors=form_errors(exc),
                failed=proposal_id,
            )
        request.session["flash"] = "The review was saved and the author was notified."
        return back_to(self._queue_url(found.cycle, self._back(form), f"#p-{proposal_id}"))

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
                request, found.cycle, self._back(form), exc.status_code, errors=errors, failed=proposal_id
            )
        request.session["flash"] = "The proposals were merged and the author was notified."
        return back_to(self._queue_url(found.cycle, self._back(form)))
