"""Officials' fraud screening report of a cycle: flagged groups, quarantine, acknowledgement."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal.auth import requires_official
from portal.errors import DomainError
from portal.web.forms import form_errors
from portal.web.pages import back_to, page, signed_in_user
from voting.services import screening
from voting.services.cycles import is_closed


class OfficialScreeningPages(Controller):
    """The screening report at /officials/pb/cycles/{c}/screening."""

    path = "/officials/pb/cycles/{cycle_id:int}/screening"
    guards = [requires_official]

    async def _show(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        report = await screening.report_of(cycle_id)
        extra.setdefault("form", {})
        return page(
            request,
            "voting/screening.html",
            status_code=status_code,
            report=report,
            cycle=report.cycle,
            closed=is_closed(report.cycle),
            short_key=screening.short_key,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/")
    async def index(self, request: Request, cycle_id: FromPath[int]) -> Template:
        return await self._show(request, cycle_id)

    @post("/quarantine")
    async def quarantine(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Set a flagged group's casts aside from the count pending review, with a reason (audited)."""
        form = await request.form()
        typed = {"group": form.get("group", ""), "reason": form.get("reason", "")}
        try:
            await screening.quarantine_group(
                signed_in_user(request).id, cycle_id, str(typed["group"])[:64], str(typed["reason"])
            )
        except DomainError as exc:
            errors = form_errors(exc)
            if "form" in errors and exc.status_code == 404:
                errors = {"group": errors.pop("form")}
            return await self._show(request, cycle_id, exc.status_code, errors=errors, form=typed)
        request.session["flash"] = "The group's ballots are quarantined: they are left out of the count pending review."
        return back_to(f"/officials/pb/cycles/{cycle_id}/screening")

    @post("/release")
    async def release(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Count a quarantined group's ballots again after review, with a reason (audited)."""
        form = await request.form()
        typed = {
            "released_group": form.get("released_group", ""),
            "release_reason": form.get("release_reason", ""),
        }
        try:
            await screening.release_group(
                signed_in_user(request).id,
                cycle_id,
                str(typed["released_group"])[:64],
                str(typed["release_reason"]),
            )
        except DomainError as exc:
            errors = form_errors(exc)
            if "form" in errors and exc.status_code == 404:
                errors = {"released_group": errors.pop("form")}
            return await self._show(request, cycle_id, exc.status_code, errors=errors, form=typed)
        request.session["flash"] = "The group's ballots count again."
        return back_to(f"/officials/pb/cycles/{cycle_id}/screening")

    @post("/acknowledge")
    async def acknowledge(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Acknowledge the report (audited); the results cannot be approved before."""
        try:
            await screening.acknowledge(signed_in_user(request).id, cycle_id)
        except DomainError as exc:
            return await self._show(request, cycle_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "You acknowledged the screening report."
        return back_to(f"/officials/pb/cycles/{cycle_id}/screening")
