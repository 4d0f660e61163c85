"""PB pages for officials: cycle set-up, ballot rules, pot amounts, early close, approvals and exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal import clock
from portal.auth import requires_official
from portal.errors import DomainError
from portal.web.forms import (
    form_errors,
    krw_from_form,
    parse_seoul_datetime,
    parse_whole_number,
    seoul_datetime_input,
)
from portal.web.pages import back_to, page, signed_in_user
from voting import exports
from voting.categories import CATEGORIES
from voting.compute.rules import BallotRules
from voting.pages.channels import channel_weights_from_form
from voting.services import approvals, cycles, lifecycle

# The create form's dates, in the order the schedule runs, and their defaults (days after today 09:00).
DATE_FIELDS = {
    "proposals_open_at": 0,
    "proposals_close_at": 30,
    "voting_open_at": 60,
    "voting_close_at": 75,
    "publish_at": 80,
}


def _number(form: Any, name: str, default: str | None = None) -> int | None:
    """A whole-number rule field; empty means ``default``, or no value when there is none."""
    return parse_whole_number(form.get(name) or default, name, optional=default is None)


def rules_from_form(form: Any) -> BallotRules:
    """The ballot and results rules as the officials' forms send them."""
    return BallotRules(
        ballot_kind=form.get("ballot_kind", "approval"),
        min_projects=_number(form, "min_projects", "1") or 0,
        max_projects=_number(form, "max_projects"),
        min_share_percent=_number(form, "min_share_percent", "0") or 0,
        total_points=_number(form, "total_points"),
        max_points_per_project=_number(form, "max_points_per_project"),
        results_rule=form.get("results_rule", "equal-shares"),
        vote_threshold=_number(form, "vote_threshold"),
        tie_break=form.get("tie_break", "city"),
        tie_seed=_number(form, "tie_seed", "0") or 0,
        channel_weights=channel_weights_from_form(form),
        stations_with_online=bool(form.get("stations_with_online")),
    )


def _cycle_from_form(form: Any) -> cycles.CycleInput:
    categories = tuple(c for c in form.getall("categories", []) if c)
    return cycles.CycleInput(
        name=form.get("name", ""),
        fiscal_year=parse_whole_number(form.get("fiscal_year"), "fiscal_year") or 0,
        city_amount=krw_from_form(form.get("city_amount"), "city_amount") or 0,
        district_total=krw_from_form(form.get("district_total"), "district_total"),
        district_floor=krw_from_form(form.get("district_floor") or "0", "district_floor") or 0,
        **{name: parse_seoul_datetime(form.get(name), name) for name in DATE_FIELDS},
        rules=rules_from_form(form),
        categories=categories or CATEGORIES,
    )


def _default_form() -> dict[str, str]:
    """A new cycle's form: next fiscal year, this morning's date and a usual schedule."""
    today = clock.now().astimezone(clock.SEOUL).replace(hour=9, minute=0, second=0, microsecond=0)
    return {
        "name": "",
        "fiscal_year": str(today.year + 1),
        "city_amount": "100000000000",
        "district_total": "400000000000",
        "district_floor": "8000000000",
        **{
            name: seoul_datetime_input(today + dt.timedelta(days=days))
            for name, days in DATE_FIELDS.items()
        },
        "ballot_kind": "knapsack",
        "min_projects": "1",
        "results_rule": "equal-shares",
        "tie_break": "city",
        "stations_with_online": "on",
    }


class OfficialPbPages(Controller):
    """Cycle set-up, early close, results approval and exports for officials."""

    path = "/officials/pb"
    guards = [requires_official]

    @get("/")
    async def index(self, request: Request) -> Template:
        return page(
            request,
            "voting/officials.html",
            cycles=await cycles.list_cycles(),
            form=_default_form(),
            flash=request.session.pop("flash", None),
        )

    @post("/cycles")
    async def create(self, request: Request) -> Template | Redirect:
        """Create a cycle; district pots are entered or split by population with a floor."""
        user = signed_in_user(request)
        form = await request.form()
        try:
            cycle_id = await cycles.create_cycle(user.id, _cycle_from_form(form))
        except DomainError as exc:
            return page(
                request,
                "voting/officials.html",
                status_code=exc.status_code,
                cycles=await cycles.list_cycles(),
                form={k: form.get(k) for k in form},
                errors=form_errors(exc),
            )
        request.session["flash"] = "The cycle was created."
        return back_to(f"/officials/pb/cycles/{cycle_id}")

    async def _manage(
        self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        cycle = await cycles.get_cycle(cycle_id)
        phase = cycles.phase_of(cycle)
        return page(
            request,
            "voting/manage.html",
            status_code=status_code,
            cycle=cycle,
            phase=phase,
            rules=cycles.rules_of(cycle),
            pots=await cycles.pots_of(cycle_id),
            pot_name=cycles.pot_name,
            approvals=await approvals.approvals_of(cycle_id) if cycles.is_closed(cycle) else [],
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/cycles/{cycle_id:int}")
    async def manage(self, request: Request, cycle_id: FromPath[int]) -> Template:
        return await self._manage(request, cycle_id)

    @post("/cycles/{cycle_id:int}/rules")
    async def rules(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Change the ballot rules (refused once voting opened)."""
        user = signed_in_user(request)
        form = await request.form()
        try:
            await cycles.update_rules(user.id, cycle_id, rules_from_form(form))
        except DomainError as exc:
            return await self._manage(request, cycle_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The ballot rules were saved."
        return back_to(f"/officials/pb/cycles/{cycle_id}")

    @post("/cycles/{cycle_id:int}/pots")
    async def pot_amounts(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Change pot amounts before voting opens (each typed like any KRW amount: "120억")."""
        user = signed_in_user(request)
        form = await request.form()
        try:
            pot_ids = {p["id"] for p in await cycles.pots_of(cycle_id)}
            amounts = {
                pot_id: krw_from_form(form.get(f"amount-{pot_id}"), f"amount-{pot_id}") or 0
                for pot_id in sorted(pot_ids)
                if f"amount-{pot_id}" in form
            }
            await cycles.update_pot_amounts(user.id, cycle_id, amounts)
        except DomainError as exc:
            return await self._manage(
                request, cycle_id, exc.status_code, errors=form_errors(exc), form={k: form.get(k) for k in form}
            )
        request.session["flash"] = "The pot amounts were saved."
        return back_to(f"/officials/pb/cycles/{cycle_id}#pots-title")

    @post("/cycles/{cycle_id:int}/close")
    async def close(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Close voting now, with a reason."""
        user = signed_in_user(request)
        form = await request.form()
        try:
            await lifecycle.close_early(user.id, cycle_id, form.get("reason", ""))
        except DomainError as exc:
            return await self._manage(request, cycle_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "Voting was closed."
        return back_to(f"/officials/pb/cycles/{cycle_id}")

    @post("/cycles/{cycle_id:int}/approve")
    async def approve(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        """Approve the winners; the second official's approval sends them to the city."""
        user = signed_in_user(request)
        try:
            count = await approvals.approve_results(cycle_id, user.id)
        except DomainError as exc:
            return await self._manage(request, cycle_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = (
            "Approved. The allocations are queued for the city budget system."
            if count >= 2
            else "Approved. A second official must approve too."
        )
        return back_to(f"/officials/pb/cycles/{cycle_id}")

    @get("/cycles/{cycle_id:int}/exports/{name:str}")
    async def export(
        self, request: Request, cycle_id: FromPath[int], name: FromPath[str]
    ) -> Response:
        """Download an export (only after close): results.csv/.xlsx/.json, turnout.csv, pot-<id>.pb."""
        filename, media_type, body = await exports.build_export(cycle_id, name)
        return Response(
            content=body,
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-Type-Options": "nosniff",
            },
        )
