"""Officials' pages for weighted channels: the cycle's committee members and the district assembly's counts."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal.auth import requires_official
from portal.canonical import canonical_json
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors, parse_row_id, parse_whole_number
from portal.web.pages import back_to, page, signed_in_user
from voting.compute.channels import WEIGHTED_CHANNELS
from voting.projects import pot_projects
from voting.services import channels, cycles


def channel_weights_from_form(form: Any) -> str:
    """The rules form's weight per channel as stored (canonical JSON); "" when no channel is declared."""
    weights = {}
    for channel in WEIGHTED_CHANNELS:
        weight = parse_whole_number(
            form.get(f"weight_{channel}"), f"weight_{channel}", optional=True
        )
        if weight is not None:
            weights[channel] = weight
    return canonical_json(weights) if weights else ""


def assembly_counts_from_form(form: Any) -> dict[int, int]:
    """``count-<project id>`` fields; an empty field is no count, garbage is refused beside its field."""
    counts = {}
    for name in form:
        if not name.startswith("count-"):
            continue
        pid = parse_row_id(name.removeprefix("count-"))
        if not pid:
            raise InvalidInput("This project is not on this pot's ballot.", field=name)
        value = parse_whole_number(form.get(name), name, optional=True)
        if value is not None:
            counts[pid] = value
    return counts


class OfficialChannelPages(Controller):
    """A cycle's participation committee and the district assembly's counts, for officials."""

    path = "/officials/pb/cycles/{cycle_id:int}/channels"
    guards = [requires_official]

    async def _show(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await cycles.get_cycle(cycle_id)
        return page(
            request,
            "voting/channels.html",
            status_code=status_code,
            cycle=cycle,
            weights=channels.weights_of(cycle),
            members=await channels.committee_of(cycle_id),
            pots=await cycles.pots_of(cycle_id),
            pot_name=cycles.pot_name,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/")
    async def index(self, request: Request, cycle_id: FromPath[int]) -> Template:
        return await self._show(request, cycle_id)

    @post("/committee")
    async def add_member(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Add a committee member by their account's email address (before voting opens)."""
        form = await request.form()
        try:
            await channels.add_member(signed_in_user(request).id, cycle_id, form.get("email", ""))
        except DomainError as exc:
            return await self._show(
                request,
                cycle_id,
                exc.status_code,
                errors=form_errors(exc),
                form={"email": form.get("email", "")},
            )
        request.session["flash"] = "The committee member was added."
        return back_to(f"/officials/pb/cycles/{cycle_id}/channels")

    @post("/committee/{member_id:int}/remove")
    async def remove_member(
        self, request: Request, cycle_id: FromPath[int], member_id: FromPath[int]
    ) -> Template | Redirect:
        try:
            await channels.remove_member(signed_in_user(request).id, cycle_id, member_id)
        except DomainError as exc:
            return await self._show(request, cycle_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The committee member was removed."
        return back_to(f"/officials/pb/cycles/{cycle_id}/channels")

    async def _assembly(
        self, request: Request, cycle_id: int, pot_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await cycles.get_cycle(cycle_id)
        pot = await cycles.get_pot(cycle_id, pot_id)
        counts = await channels.assembly_counts(pot_id)
        extra.setdefault("form", {f"count-{pid}": str(n) for pid, n in counts.items()})
        return page(
            request,
            "voting/assembly.html",
            status_code=status_code,
            cycle=cycle,
            pot=pot,
            pot_title=cycles.pot_name(pot),
            projects=await pot_projects(pot_id),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/assembly/{pot_id:int}")
    async def assembly(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template:
        return await self._assembly(request, cycle_id, pot_id)

    @post("/assembly/{pot_id:int}")
    async def save_assembly(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template | Redirect:
        """Enter the district assembly's approvals per project (audited; editable until approval)."""
        form = await request.form()
        try:
            counts = assembly_counts_from_form(form)
            await channels.save_assembly_counts(
                signed_in_user(request).id, cycle_id, pot_id, counts
            )
        except DomainError as exc:
            typed = {k: form.get(k) for k in form if k.startswith("count-")}
            return await self._assembly(
                request, cycle_id, pot_id, exc.status_code, errors=form_errors(exc), form=typed
            )
        request.session["flash"] = "The assembly's counts were saved."
        return back_to(f"/officials/pb/cycles/{cycle_id}/channels/assembly/{pot_id}")
