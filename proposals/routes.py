"""PB proposal pages: browse and search, submit, edit, withdraw, and officials' review."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.auth import public, requires_login, requires_official
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors, krw_from_form, parse_whole_number
from portal.web.pages import back_to, current_user, page, signed_in_user
from proposals import services
from proposals.tables import CATEGORIES
from voting.services import cycles as voting

# The body may hold a photo well over the image limit, so an oversized image is refused beside its field with
# the form kept; only bodies over this get the bare 413 (shown again by portal.refill with the limit stated).
UPLOAD_LIMIT = 12 * 1024 * 1024
UPLOAD_OPT = {"upload_limit_mb": services.MAX_IMAGE_BYTES // (1024 * 1024)}


def _int(value: Any, field: str, *, optional: bool = False) -> int | None:
    return parse_whole_number(value, field, optional=optional)


async def _typed_values(request: Request) -> dict[str, str]:
    """What the person typed into the proposal form, kept for showing it again."""
    form = await request.form()
    values = {
        k: form.get(k)
        for k in (
            "pot_id",
            "title",
            "summary",
            "description",
            "category",
            "estimated_cost",
            "location",
        )
    }
    return {k: v if isinstance(v, str) else "" for k, v in values.items()}


async def _form_input(request: Request, values: dict[str, str]) -> tuple[services.ProposalInput, bytes | None]:
    form = await request.form()
    upload = form.get("image")
    image = None
    if upload is not None and hasattr(upload, "read"):
        image = await upload.read() or None
    data = services.ProposalInput(
        pot_id=_int(values["pot_id"], "pot_id") or 0,
        title=values["title"],
        summary=values["summary"],
        description=values["description"],
        category=values["category"],
        estimated_cost=krw_from_form(values["estimated_cost"], "estimated_cost") or 0,
        location=values["location"],
    )
    return data, image


class ProposalPages(Controller):
    """Everyone browses; verified residents propose during intake."""

    path = "/pb"

    @get("/cycles/{cycle_id:int}/proposals", guards=[public])
    async def browse(
        self,
        request: Request,
        cycle_id: FromPath[int],
        q: FromQuery[str | None] = None,
        pot: FromQuery[int | None] = None,
        category: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
    ) -> Template:
        """Search and filter a cycle's proposals."""
        cycle = await voting.get_cycle(cycle_id)
        proposals = await services.browse(
            cycle_id, q=q, pot_id=pot, category=category, status=status, sort=sort
        )
        pots = await voting.pots_of(cycle_id)
        return page(
            request,
            "proposals/list.html",
            cycle=cycle,
            phase=voting.phase_of(cycle),
            proposals=proposals,
            pots=pots,
            pot_names={p["id"]: voting.pot_name(p) for p in pots},
            categories=CATEGORIES,
            statuses=services.PUBLIC_STATUSES,
            sorts=list(services.SORTS),
            query={
                "q": q or "",
                "pot": pot,
                "category": category or "",
                "status": status or "",
                "sort": sort or "newest",
            },
            flash=request.session.pop("flash", None) if request.session else None,
        )

    async def _form(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await voting.get_cycle(cycle_id)
        user = current_user(request)
        pots = [
            p
            for p in await voting.pots_of(cycle_id)
            if p["district_code"] in (None, user.district_code if user else None)
        ]
        return page(
            request,
            "proposals/form.html",
            status_code=status_code,
            cycle=cycle,
            phase=voting.phase_of(cycle),
            pots=pots,
            pot_name=voting.pot_name,
            categories=[c for c in cycle["categories"].split(",") if c],
            **extra,
        )

    @get("/cycles/{cycle_id:int}/proposals/new", guards=[requires_login])
    async def new(self, request: Request, cycle_id: FromPath[int]) -> Template:
        return await self._form(request, cycle_id)

    @post(
        "/cycles/{cycle_id:int}/proposals",
        guards=[requires_login],
        request_max_body_size=UPLOAD_LIMIT,
        opt=UPLOAD_OPT,
    )
    async def submit(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Submit a proposal (with an optional PNG or JPEG image)."""
        user = signed_in_user(request)
        values = await _typed_values(request)
        try:
            data, image = await _form_input(request, values)
            proposal_id = await services.submit(user, cycle_id, data, image)
        except DomainError as exc:
            return await self._form(
                request, cycle_id, exc.status_code, errors=form_errors(exc), form=values
            )
        request.session["flash"] = (
            "Thank you. Your proposal was submitted; officials will review it."
        )
        return back_to(f"/pb/proposals/{proposal_id}")

    @get("/proposals/{proposal_id:int}", guards=[public])
    async def detail(self, request: Request, proposal_id: FromPath[int]) -> Template:
        user = current_user(request)
        row = await services.get(proposal_id, user)
        cycle = await voting.get_cycle(row["cycle"])
        pot = await voting.get_pot(row["cycle"], row["pot"])
        merged_into = await services.get(row["merged_into"]) if row["merged_into"] else None
        return page(
            request,
            "proposals/detail.html",
            p=row,
            cycle=cycle,
            phase=voting.phase_of(cycle),
            pot_title=voting.pot_name(pot),
            merged_into=merged_into,
            is_author=bool(user and user.id == row["author"]),
            flash=request.session.pop("flash", None) if request.session else None,
        )

    @get("/proposals/{proposal_id:int}/image", guards=[public])
    async def image(self, request: Request, proposal_id: FromPath[int]) -> Response:
        """The proposal's image, as a download (never rendered inline from our origin)."""
        row = await services.get(proposal_id, current_user(request))
        stored = await services.read_image(row["image_name"])
        name = stored.download_name(f"proposal-{proposal_id}")
        return Response(
            content=stored.content,
            media_type=stored.file_type.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get("/proposals/{proposal_id:int}/edit", guards=[requires_login])
    async def edit_form(self, request: Request, proposal_id: FromPath[int]) -> Template:
        row = await services.get(proposal_id, current_user(request))
        form = {
            k: str(row[k])
            for k in ("title", "summary", "description", "category", "estimated_cost", "location")
        }
        form["pot_id"] = str(row["pot"])
        return await self._form(request, row["cycle"], form=form, proposal=row)

    @post(
        "/proposals/{proposal_id:int}/edit",
        guards=[requires_login],
        request_max_body_size=UPLOAD_LIMIT,
        opt=UPLOAD_OPT,
    )
    async def edit(self, request: Request, proposal_id: FromPath[int]) -> Template | Redirect:
        """The author changes their proposal during intake."""
        user = signed_in_user(request)
        row = await services.get(proposal_id, user)
        values = await _typed_values(request)
        try:
            data, image = await _form_input(request, values)
            await services.edit(user, proposal_id, data, image)
        except DomainError as exc:
            return await self._form(
                request,
                row["cycle"],
                exc.status_code,
                errors=form_errors(exc),
                form=values,
                proposal=row,
            )
        request.session["flash"] = "Your proposal was saved."
        return back_to(f"/pb/proposals/{proposal_id}")

    @post("/proposals/{proposal_id:int}/withdraw", guards=[requires_login])
    async def withdraw(self, request: Request, proposal_id: FromPath[int]) -> Redirect:
        user = signed_in_user(request)
        await services.withdraw(user, proposal_id)
        request.session["flash"] = "Your proposal was withdrawn."
        return back_to(f"/pb/proposals/{proposal_id}")


class ProposalReviewPages(Controller):
    """Officials mark proposals feasible or not, revise costs and merge duplicates."""

    path = "/officials/pb"
    guards = [requires_official]

    async def _list(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await voting.get_cycle(cycle_id)
        proposals = await services.browse(cycle_id, sort="oldest", limit=2000)
        pots = await voting.pots_of(cycle_id)
        return page(
            request,
            "proposals/review.html",
            status_code=status_code,
            cycle=cycle,
            phase=voting.phase_of(cycle),
            proposals=proposals,
            pot_names={p["id"]: voting.pot_name(p) for p in pots},
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
        row = await services.get(proposal_id, user)
        form = await request.form()
        try:
            decision = form.get("decision")
            if decision not in ("feasible", "infeasible"):
                raise InvalidInput("Choose feasible or not feasible.", field="decision")
            await services.review(
                user.id,
                proposal_id,
                decision == "feasible",
                form.get("reason", ""),
                krw_from_form(form.get("revised_cost"), "revised_cost", optional=True),
            )
        except DomainError as exc:
            return await self._list(
                request, row["cycle"], exc.status_code, errors=form_errors(exc), failed=proposal_id
            )
        request.session["flash"] = "The review was saved and the author was notified."
        return back_to(f"/officials/pb/cycles/{row['cycle']}/proposals#p-{proposal_id}")

    @post("/proposals/{proposal_id:int}/merge")
    async def merge(self, request: Request, proposal_id: FromPath[int]) -> Template | Redirect:
        """Merge a duplicate into another proposal of the same pot."""
        user = signed_in_user(request)
        row = await services.get(proposal_id, user)
        form = await request.form()
        try:
            await services.merge(
                user.id,
                proposal_id,
                _int(form.get("merged_into"), "merged_into") or 0,
                form.get("reason", ""),
            )
        except DomainError as exc:
            errors = form_errors(exc)
            if "reason" in errors:  # the merge form's reason, not the review form's
                errors["merge_reason"] = errors.pop("reason")
            return await self._list(
                request, row["cycle"], exc.status_code, errors=errors, failed=proposal_id
            )
        request.session["flash"] = "The proposals were merged and the author was notified."
        return back_to(f"/officials/pb/cycles/{row['cycle']}/proposals")


ROUTE_HANDLERS = [ProposalPages, ProposalReviewPages]
