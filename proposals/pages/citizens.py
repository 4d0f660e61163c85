"""Citizens' proposal pages: browse and search, submit, edit and withdraw during intake."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from portal.auth import public, requires_login
from portal.districts import DISTRICTS, DONGS, DONGS_BY_KEY
from portal.errors import DomainError
from portal.notifications import followed_among
from portal.storage import StoredContent
from portal.web.forms import form_errors, krw_from_form, parse_whole_number
from portal.web.pages import back_to, current_user, page, signed_in_user
from portal.web.pagination import filter_links, pager, requested_page
from proposals.services import browsing, comments, intake, support
from voting.categories import CATEGORIES
from voting.pages.cycle_header import cycle_context
from voting.services import cycles as voting

# The body may hold a photo well over the image limit, so an oversized image is refused beside its field with
# the form kept; only bodies over this get the bare 413 (shown again by portal.web.keep_typed with the limit stated).
UPLOAD_LIMIT = 12 * 1024 * 1024
UPLOAD_OPT = {"upload_limit_mb": intake.MAX_IMAGE_BYTES // (1024 * 1024)}
FORM_FIELDS = (
    "pot_id",
    "title",
    "summary",
    "description",
    "category",
    "estimated_cost",
    "location",
    "dong",
    "image_alt",
)


async def _typed_values(request: Request) -> dict[str, str]:
    """What the person typed into the proposal form, kept for showing it again."""
    form = await request.form()
    values = {k: form.get(k) for k in FORM_FIELDS}
    return {k: v if isinstance(v, str) else "" for k, v in values.items()}


async def _form_input(
    request: Request, values: dict[str, str]
) -> tuple[intake.ProposalInput, bytes | None]:
    form = await request.form()
    upload = form.get("image")
    image = None
    if upload is not None and hasattr(upload, "read"):
        image = await upload.read() or None
    data = intake.ProposalInput(
        pot_id=parse_whole_number(values["pot_id"], "pot_id") or 0,
        title=values["title"],
        summary=values["summary"],
        description=values["description"],
        category=values["category"],
        estimated_cost=krw_from_form(values["estimated_cost"], "estimated_cost") or 0,
        location=values["location"],
        dong=values["dong"],
        image_alt=values["image_alt"],
    )
    return data, image


async def proposal_page(
    request: Request, proposal_id: int, status_code: int = 200, **extra: Any
) -> Template:
    """A proposal's page, with its supports and discussion; shown again with ``extra`` after a refusal."""
    user = current_user(request)
    found = await browsing.get(proposal_id, user)
    cycle = await voting.get_cycle(found.cycle)
    pot = await voting.get_pot(found.cycle, found.pot)
    merged_into = await browsing.get(found.merged_into) if found.merged_into else None
    return page(
        request,
        "proposals/detail.html",
        status_code=status_code,
        p=found,
        **cycle_context(cycle, pot),
        merged_into=merged_into,
        is_author=bool(user and user.id == found.author),
        support=await support.support_box(found, user),
        thread=await comments.thread("proposal", found.id, user),
        following=await followed_among(user and user.id, [("proposal", proposal_id)]),
        flash=request.session.pop("flash", None) if request.session else None,
        **extra,
    )


def _image_response(stored: StoredContent, stem: str, disposition: str) -> Response:
    """A stored picture with its detected type; the name comes from the type, never the uploader."""
    return Response(
        content=stored.content,
        media_type=stored.file_type.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{stored.download_name(stem)}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


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
        district: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
    ) -> Template:
        """Search and filter a cycle's proposals, a page at a time; a district is chosen on the map."""
        cycle = await voting.get_cycle(cycle_id)
        query = browsing.ProposalQuery(
            q=q, pot_id=pot, category=category, status=status, district=district, sort=sort
        )
        found = await browsing.search(cycle_id, query, requested_page(request))
        pots = await voting.pots_of(cycle_id)
        district_links, all_districts = filter_links(
            request, "district", [d.code for d in DISTRICTS]
        )
        return page(
            request,
            "proposals/list.html",
            **cycle_context(cycle),
            proposals=found.items,
            pager=pager(request, found),
            district_links=district_links,
            all_districts_link=all_districts,
            pots=pots,
            pot_names={p["id"]: voting.pot_name(p) for p in pots},
            categories=CATEGORIES,
            statuses=browsing.PUBLIC_STATUSES,
            sorts=list(browsing.SORTS),
            query={
                "q": q or "",
                "pot": pot,
                "category": category or "",
                "status": status or "",
                "district": district or "",
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
            **cycle_context(cycle),
            pots=pots,
            pot_name=voting.pot_name,
            categories=[c for c in cycle["categories"].split(",") if c],
            dongs=DONGS,
            dong_keys=DONGS_BY_KEY,
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
            proposal_id = await intake.submit(user, cycle_id, data, image)
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
        return await proposal_page(request, proposal_id)

    @get("/proposals/{proposal_id:int}/image", guards=[public])
    async def image(self, request: Request, proposal_id: FromPath[int]) -> Response:
        """The proposal's picture, as a download."""
        found = await browsing.get(proposal_id, current_user(request))
        return _image_response(
            await intake.read_image(found.image_name), f"proposal-{proposal_id}", "attachment"
        )

    @get("/proposals/{proposal_id:int}/thumbnail", guards=[public])
    async def thumbnail(self, request: Request, proposal_id: FromPath[int]) -> Response:
        """The thumbnail, shown inline: re-encoded by the server at upload, no byte from the uploader."""
        found = await browsing.get(proposal_id, current_user(request))
        return _image_response(
            await intake.thumbnail_of(found), f"proposal-{proposal_id}-thumbnail", "inline"
        )

    @get("/proposals/{proposal_id:int}/edit", guards=[requires_login])
    async def edit_form(self, request: Request, proposal_id: FromPath[int]) -> Template:
        found = await browsing.get(proposal_id, current_user(request))
        form = {k: str(getattr(found, k)) for k in FORM_FIELDS if k != "pot_id"}
        form["pot_id"] = str(found.pot)
        return await self._form(request, found.cycle, form=form, proposal=found)

    @post(
        "/proposals/{proposal_id:int}/edit",
        guards=[requires_login],
        request_max_body_size=UPLOAD_LIMIT,
        opt=UPLOAD_OPT,
    )
    async def edit(self, request: Request, proposal_id: FromPath[int]) -> Template | Redirect:
        """The author changes their proposal during intake."""
        user = signed_in_user(request)
        found = await browsing.get(proposal_id, user)
        values = await _typed_values(request)
        try:
            data, image = await _form_input(request, values)
            await intake.edit(user, proposal_id, data, image)
        except DomainError as exc:
            return await self._form(
                request,
                found.cycle,
                exc.status_code,
                errors=form_errors(exc),
                form=values,
                proposal=found,
            )
        request.session["flash"] = "Your proposal was saved."
        return back_to(f"/pb/proposals/{proposal_id}")

    @post("/proposals/{proposal_id:int}/withdraw", guards=[requires_login])
    async def withdraw(self, request: Request, proposal_id: FromPath[int]) -> Redirect:
        user = signed_in_user(request)
        await intake.withdraw(user, proposal_id)
        request.session["flash"] = "Your proposal was withdrawn."
        return back_to(f"/pb/proposals/{proposal_id}")
