"""PB pages and the ``/api/v1/pb`` API, both over voting.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from portal import clock, i18n
from portal.auth import public, requires_login, requires_official
from portal.errors import DomainError, InvalidInput, NotFoundError
from portal.schemas import ErrorResponse
from portal.sessions import SESSION_UNTOUCHED
from portal.web.forms import form_errors, krw_from_form, parse_whole_number
from portal.web.pages import back_to, current_user, page, signed_in_user
from voting import exports
from voting.categories import CATEGORIES
from voting.compute.results import bar_chart_svg, explanation_lines
from voting.compute.rules import BallotChoice, BallotRules
from voting.projects import pot_projects, project_titles
from voting.schemas import (
    BallotCast,
    BallotRead,
    BallotReceipt,
    BallotRulesRead,
    CycleRead,
    CycleResults,
    PotRead,
    PotResult,
    ProjectRead,
    ProjectResult,
    RuleResult,
)
from voting.services import approvals, ballots, cycles, results

# Ballot requests read the session but never write it: no "seen", flash or expiry that dates a vote.
BALLOT_REQUEST = {SESSION_UNTOUCHED: True}
ERRORS = {
    400: ResponseSpec(data_container=ErrorResponse, description="Malformed body"),
    401: ResponseSpec(data_container=ErrorResponse, description="Not signed in"),
    403: ResponseSpec(
        data_container=ErrorResponse, description="Not a verified resident of this pot's area"
    ),
    404: ResponseSpec(
        data_container=ErrorResponse, description="No such cycle or pot, or results before close"
    ),
    409: ResponseSpec(data_container=ErrorResponse, description="Outside the voting phase"),
    422: ResponseSpec(
        data_container=ErrorResponse, description="The ballot breaks the cycle's rules; see errors"
    ),
}


def _pot_read(pot: dict[str, Any]) -> PotRead:
    return PotRead(
        id=pot["id"],
        name=cycles.pot_name(pot),
        district_code=pot["district_code"],
        amount=pot["amount"],
    )


def _cycle_read(cycle: dict[str, Any]) -> CycleRead:
    rules = cycles.rules_of(cycle)
    return CycleRead(
        id=cycle["id"],
        name=cycle["name"],
        fiscal_year=cycle["fiscal_year"],
        phase=cycles.phase_of(cycle),
        total_budget=cycle["total_budget"],
        proposals_open_at=cycle["proposals_open_at"],
        proposals_close_at=cycle["proposals_close_at"],
        voting_open_at=cycle["voting_open_at"],
        voting_close_at=cycle["voting_close_at"],
        publish_at=cycle["publish_at"],
        closed_early_at=cycle["closed_early_at"],
        close_reason=cycle["close_reason"],
        rules_frozen=cycle["rules_frozen_at"] is not None,
        ballot_rules=BallotRulesRead(
            ballot_kind=rules.ballot_kind,
            min_projects=rules.min_projects,
            max_projects=rules.max_projects,
            min_share_percent=rules.min_share_percent,
            total_points=rules.total_points,
            max_points_per_project=rules.max_points_per_project,
            results_rule=rules.results_rule,
            vote_threshold=rules.vote_threshold,
            tie_break=rules.tie_break,
        ),
        categories=[c for c in cycle["categories"].split(",") if c],
        pots=[_pot_read(p) for p in cycle["pots"]],
    )


def _choice_from_body(data: BallotCast) -> BallotChoice:
    points = None
    if data.points is not None:
        try:
            points = tuple((int(k), int(v)) for k, v in data.points.items())
            if any(not 0 < k < 2**31 for k, _ in points):
                raise ValueError
        except ValueError:
            raise InvalidInput("Points must be given per project id.", field="points") from None
    return BallotChoice(
        project_ids=tuple(data.project_ids) if data.project_ids is not None else None, points=points
    )


async def _cycle_results(cycle_id: int) -> CycleResults:
    cycle, pots, runs = await results.results_of(cycle_id)
    titles = await project_titles(cycle_id)
    out = []
    for pot in pots:
        rule_results = []
        for run in sorted(
            (r for r in runs if r["pot"] == pot["id"]), key=lambda r: not r["official"]
        ):
            outcome = run["outcome"]
            rule_results.append(
                RuleResult(
                    rule=run["rule"],
                    official=run["official"],
                    selected=outcome["selected"],
                    total_cost=outcome["total_cost"],
                    voters=outcome["voters"],
                    ballots_sha256=run["ballots_sha256"],
                    computed_at=run["computed_at"],
                    projects=[
                        ProjectResult(
                            id=p["id"],
                            title=titles.get(p["id"], ""),
                            cost=p["cost"],
                            votes=p["votes"],
                            selected=p["selected"],
                            rank=p["rank"],
                            why_not=p["why_not"],
                        )
                        for p in outcome["projects"]
                    ],
                )
            )
        out.append(PotResult(pot=_pot_read(pot), results=rule_results))
    return CycleResults(
        cycle_id=cycle_id,
        phase=cycles.phase_of(cycle),
        results_rule=cycle["results_rule"],
        pots=out,
    )


class PbApi(Controller):
    """Cycles, projects, the caller's ballot and results as JSON."""

    path = "/api/v1/pb"
    tags = ["participatory budgeting"]

    @get("/cycles", guards=[public], responses=ERRORS)
    async def cycles(self) -> list[CycleRead]:
        """Every cycle with its phase, dates, ballot rules and pots (the city-wide pot has ``district_code: null``)."""
        return [_cycle_read(c) for c in await cycles.list_cycles()]

    @get("/cycles/{cycle_id:int}/pots/{pot_id:int}/projects", guards=[public], responses=ERRORS)
    async def projects(self, cycle_id: FromPath[int], pot_id: FromPath[int]) -> list[ProjectRead]:
        """The projects on a pot's ballot (its feasible proposals)."""
        await cycles.get_pot(cycle_id, pot_id)
        return [
            ProjectRead(
                id=p.id,
                title=p.title,
                cost=p.cost,
                category=p.category,
                summary=p.summary,
                location=p.location,
            )
            for p in await pot_projects(pot_id)
        ]

    @put(
        "/cycles/{cycle_id:int}/pots/{pot_id:int}/ballot",
        guards=[requires_login],
        status_code=200,
        responses=ERRORS,
        opt=BALLOT_REQUEST,
    )
    async def cast(
        self,
        request: Request,
        cycle_id: FromPath[int],
        pot_id: FromPath[int],
        data: JSONBody[BallotCast],
    ) -> BallotReceipt:
        """Cast or replace the caller's ballot; the last one counts. Returns the receipt (tracker code)."""
        receipt = await ballots.cast_ballot(
            current_user(request), cycle_id, pot_id, _choice_from_body(data)
        )
        return BallotReceipt(receipt=receipt.receipt, version=receipt.version)

    @get(
        "/cycles/{cycle_id:int}/pots/{pot_id:int}/ballot",
        guards=[requires_login],
        responses=ERRORS,
        opt=BALLOT_REQUEST,
    )
    async def my_ballot(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> BallotRead:
        """The caller's own current ballot in this pot (404 when they have not voted)."""
        user = signed_in_user(request)
        ballot = await ballots.my_ballot(user, cycle_id, pot_id)
        if ballot is None:
            raise NotFoundError("You have not voted in this pot yet.")
        return BallotRead(
            receipt=ballot.receipt,
            version=ballot.version,
            cast_at=ballot.cast_at,
            project_ids=ballot.content.get("project_ids"),
            points=ballot.content.get("points"),
        )

    @get("/cycles/{cycle_id:int}/results", guards=[public], responses=ERRORS)
    async def results(self, cycle_id: FromPath[int]) -> CycleResults:
        """Results per pot under the cycle's rule and the comparison rule; 404 until voting closes."""
        return await _cycle_results(cycle_id)


# ---------------------------------------------------------------- HTML


def _ballot_choice_from_form(form: Any, kind: str) -> BallotChoice:
    if kind == "cumulative":
        points = []
        for key in form:
            if key.startswith("points-"):
                text = (form.get(key) or "").strip()
                if not text:
                    continue
                project = key.removeprefix("points-")
                if not project.isdigit() or not 0 < int(project) < 2**31:
                    raise InvalidInput("Choose projects from the list.", field="points")
                try:
                    points.append((int(project), int(text)))
                except ValueError:
                    raise InvalidInput("Points must be whole numbers.", field="points") from None
        return BallotChoice(points=tuple(points))
    values = form.getall("project_ids", [])
    try:
        return BallotChoice(project_ids=tuple(int(v) for v in values))
    except ValueError:
        raise InvalidInput("Choose projects from the list.", field="project_ids") from None


class PbPages(Controller):
    """Cycles, ballots, receipts and results for citizens."""

    path = "/pb"

    @get("/", guards=[public])
    async def index(self, request: Request) -> Template:
        """Every cycle and its phase."""
        return page(
            request,
            "voting/index.html",
            cycles=await cycles.list_cycles(),
            flash=request.session.pop("flash", None) if request.session else None,
        )

    @get("/cycles/{cycle_id:int}", guards=[public])
    async def cycle(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """A cycle: dates, rules, pots, and where the signed-in person may vote."""
        cycle = await cycles.get_cycle(cycle_id)
        pots = await cycles.pots_of(cycle_id)
        user = current_user(request)
        voted = await ballots.pots_voted(user, cycle_id) if user else set()
        # A pot without money funds nothing: offer no ballot for it (the demo's district pots are 0 KRW).
        eligible = [p for p in pots if p["amount"] > 0 and ballots.may_vote_in(user, p)]
        return page(
            request,
            "voting/cycle.html",
            cycle=cycle,
            phase=cycles.phase_of(cycle),
            rules=cycles.rules_of(cycle),
            pots=pots,
            eligible=eligible,
            voted=voted,
            pot_name=cycles.pot_name,
            flash=request.session.pop("flash", None) if request.session else None,
        )

    async def _ballot_page(
        self, request: Request, cycle_id: int, pot_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        user = signed_in_user(request)
        cycle = await cycles.get_cycle(cycle_id)
        pot = await cycles.get_pot(cycle_id, pot_id)
        projects = await pot_projects(pot_id)
        mine = await ballots.my_ballot(user, cycle_id, pot_id)
        selected: set[int] = set()
        points: dict[int, int] = {}
        if "form_choice" in extra:
            choice: BallotChoice = extra.pop("form_choice")
            selected = set(choice.project_ids or ())
            points = dict(choice.points or ())
        elif mine:
            selected = set(mine.content.get("project_ids", []))
            points = {int(k): v for k, v in mine.content.get("points", {}).items()}
        return page(
            request,
            "voting/ballot.html",
            status_code=status_code,
            cycle=cycle,
            pot=pot,
            pot_title=cycles.pot_name(pot),
            phase=cycles.phase_of(cycle),
            eligible=ballots.may_vote_in(user, pot),
            rules=cycles.rules_of(cycle),
            projects=projects,
            mine=mine,
            selected=selected,
            points=points,
            **extra,
        )

    @get(
        "/cycles/{cycle_id:int}/pots/{pot_id:int}/ballot",
        guards=[requires_login],
        opt=BALLOT_REQUEST,
    )
    async def ballot_form(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template:
        """The ballot of one pot, filled with the voter's current choice."""
        return await self._ballot_page(request, cycle_id, pot_id)

    @post(
        "/cycles/{cycle_id:int}/pots/{pot_id:int}/ballot",
        guards=[requires_login],
        opt=BALLOT_REQUEST,
    )
    async def cast(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template | Redirect:
        """Cast or replace the ballot; the rules are checked here, on the server."""
        cycle = await cycles.get_cycle(cycle_id)
        form = await request.form()
        choice = BallotChoice()
        try:
            choice = _ballot_choice_from_form(form, cycle["ballot_kind"])
            await ballots.cast_ballot(current_user(request), cycle_id, pot_id, choice)
        except DomainError as exc:
            return await self._ballot_page(
                request,
                cycle_id,
                pot_id,
                exc.status_code,
                errors=form_errors(exc),
                form_choice=choice,
            )
        # No flash in the session: the session row must not change when someone votes.
        return back_to(f"/pb/cycles/{cycle_id}/pots/{pot_id}/receipt?stored=1")

    @get(
        "/cycles/{cycle_id:int}/pots/{pot_id:int}/receipt",
        guards=[requires_login],
        opt=BALLOT_REQUEST,
    )
    async def receipt(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template:
        """The voter's receipt for their current ballot in a pot."""
        user = signed_in_user(request)
        cycle = await cycles.get_cycle(cycle_id)
        pot = await cycles.get_pot(cycle_id, pot_id)
        mine = await ballots.my_ballot(user, cycle_id, pot_id)
        if mine is None:
            raise NotFoundError("You have not voted in this pot yet.")
        titles = await project_titles(cycle_id)
        return page(
            request,
            "voting/receipt.html",
            cycle=cycle,
            pot=pot,
            pot_title=cycles.pot_name(pot),
            phase=cycles.phase_of(cycle),
            mine=mine,
            titles=titles,
            flash="Your ballot was stored. Keep your receipt."
            if request.query_params.get("stored") == "1"
            else None,
        )

    @get("/cycles/{cycle_id:int}/results", guards=[public])
    async def results(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """Winners per pot (404 until voting closes, for everyone)."""
        cycle, pots, runs = await results.results_of(cycle_id)
        official = {r["pot"]: r["outcome"] for r in runs if r["official"]}
        return page(
            request,
            "voting/results.html",
            cycle=cycle,
            phase=cycles.phase_of(cycle),
            pots=pots,
            official=official,
            pot_name=cycles.pot_name,
            turnout=await results.turnout(cycle_id),
            approvals=await approvals.approvals_of(cycle_id),
        )

    @get("/cycles/{cycle_id:int}/results/pots/{pot_id:int}", guards=[public])
    async def pot_results(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template:
        """One pot: winners, the bar chart, why each loser lost, and the comparison rule beside it."""
        cycle, _, runs = await results.results_of(cycle_id)
        pot = await cycles.get_pot(cycle_id, pot_id)
        pot_runs = sorted((r for r in runs if r["pot"] == pot_id), key=lambda r: not r["official"])
        titles = await project_titles(cycle_id)
        main = pot_runs[0]["outcome"]
        for run in pot_runs:
            run["explanation"] = explanation_lines(run["outcome"], titles, i18n.gettext)
        # Cumulative ballots give points, not votes: every label says which.
        points = cycles.rules_of(cycle).ballot_kind == "cumulative"
        chart = bar_chart_svg(main["projects"], titles, i18n.gettext("points" if points else "votes"))
        return page(
            request,
            "voting/pot_results.html",
            cycle=cycle,
            pot=pot,
            pot_title=cycles.pot_name(pot),
            runs=pot_runs,
            main=main,
            titles=titles,
            chart=chart,
            points=points,
            receipts_count=main["voters"],
        )

    @get("/cycles/{cycle_id:int}/results/pots/{pot_id:int}/receipts", guards=[public])
    async def receipts(
        self,
        request: Request,
        cycle_id: FromPath[int],
        pot_id: FromPath[int],
        q: FromQuery[str | None] = None,
        page_no: FromQuery[int] = 1,
    ) -> Template:
        """Every counted receipt of a pot, so each voter can check theirs (V6)."""
        return await self._receipts_page(request, cycle_id, pot_id, q, page_no)

    @post("/cycles/{cycle_id:int}/results/pots/{pot_id:int}/receipts", guards=[public])
    async def check_receipt(
        self, request: Request, cycle_id: FromPath[int], pot_id: FromPath[int]
    ) -> Template:
        """The same check with the receipt in the form body: a URL with it would reach access logs."""
        form = await request.form()
        return await self._receipts_page(request, cycle_id, pot_id, form.get("q"), 1)

    async def _receipts_page(
        self, request: Request, cycle_id: int, pot_id: int, q: str | None, page_no: int
    ) -> Template:
        await results.results_of(cycle_id)
        pot = await cycles.get_pot(cycle_id, pot_id)
        cycle = await cycles.get_cycle(cycle_id)
        receipts = await ballots.receipts_of(pot_id)
        query = (q or "").strip().upper()[:20]
        found = None if not query else query in set(receipts)
        per_page = 600
        pages = max(1, -(-len(receipts) // per_page))
        page_no = min(max(page_no, 1), pages)
        return page(
            request,
            "voting/receipts.html",
            cycle=cycle,
            pot=pot,
            pot_title=cycles.pot_name(pot),
            receipts=receipts[(page_no - 1) * per_page : page_no * per_page],
            total=len(receipts),
            q=query,
            found=found,
            page_no=page_no,
            pages=pages,
        )


# ---------------------------------------------------------------- officials


def _parse_dt(value: str, field: str) -> dt.datetime:
    """A ``datetime-local`` value entered in Seoul time, stored in UTC."""
    from portal.clock import SEOUL

    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("Enter a date and time.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SEOUL)
    return moment.astimezone(dt.UTC)


def _parse_int(value: str | None, field: str, *, optional: bool = False) -> int | None:
    return parse_whole_number(value, field, optional=optional)


def rules_from_form(form: Any) -> BallotRules:
    return BallotRules(
        ballot_kind=form.get("ballot_kind", "approval"),
        min_projects=_parse_int(form.get("min_projects") or "1", "min_projects") or 0,
        max_projects=_parse_int(form.get("max_projects"), "max_projects", optional=True),
        min_share_percent=_parse_int(form.get("min_share_percent") or "0", "min_share_percent")
        or 0,
        total_points=_parse_int(form.get("total_points"), "total_points", optional=True),
        max_points_per_project=_parse_int(
            form.get("max_points_per_project"), "max_points_per_project", optional=True
        ),
        results_rule=form.get("results_rule", "equal-shares"),
        vote_threshold=_parse_int(form.get("vote_threshold"), "vote_threshold", optional=True),
        tie_break=form.get("tie_break", "city"),
        tie_seed=_parse_int(form.get("tie_seed") or "0", "tie_seed") or 0,
    )


def _default_form() -> dict[str, str]:
    from portal.clock import SEOUL

    today = (
        clock.now()
        .astimezone(SEOUL)
        .replace(hour=9, minute=0, second=0, microsecond=0, tzinfo=None)
    )
    fmt = "%Y-%m-%dT%H:%M"
    return {
        "name": "",
        "fiscal_year": str(today.year + 1),
        "city_amount": "100000000000",
        "district_total": "400000000000",
        "district_floor": "8000000000",
        "proposals_open_at": today.strftime(fmt),
        "proposals_close_at": (today + dt.timedelta(days=30)).strftime(fmt),
        "voting_open_at": (today + dt.timedelta(days=60)).strftime(fmt),
        "voting_close_at": (today + dt.timedelta(days=75)).strftime(fmt),
        "publish_at": (today + dt.timedelta(days=80)).strftime(fmt),
        "ballot_kind": "knapsack",
        "min_projects": "1",
        "results_rule": "equal-shares",
        "tie_break": "city",
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
            categories=CATEGORIES,
            flash=request.session.pop("flash", None),
        )

    @post("/cycles")
    async def create(self, request: Request) -> Template | Redirect:
        """Create a cycle; district pots are entered or split by population with a floor."""
        user = signed_in_user(request)
        form = await request.form()
        try:
            categories = tuple(c for c in form.getall("categories", []) if c)
            data = cycles.CycleInput(
                name=form.get("name", ""),
                fiscal_year=_parse_int(form.get("fiscal_year"), "fiscal_year") or 0,
                city_amount=krw_from_form(form.get("city_amount"), "city_amount") or 0,
                district_total=krw_from_form(form.get("district_total"), "district_total"),
                district_floor=krw_from_form(form.get("district_floor") or "0", "district_floor") or 0,
                proposals_open_at=_parse_dt(form.get("proposals_open_at", ""), "proposals_open_at"),
                proposals_close_at=_parse_dt(
                    form.get("proposals_close_at", ""), "proposals_close_at"
                ),
                voting_open_at=_parse_dt(form.get("voting_open_at", ""), "voting_open_at"),
                voting_close_at=_parse_dt(form.get("voting_close_at", ""), "voting_close_at"),
                publish_at=_parse_dt(form.get("publish_at", ""), "publish_at"),
                rules=rules_from_form(form),
                categories=categories or CATEGORIES,
            )
            cycle_id = await cycles.create_cycle(user.id, data)
        except DomainError as exc:
            return page(
                request,
                "voting/officials.html",
                status_code=exc.status_code,
                cycles=await cycles.list_cycles(),
                form={k: form.get(k) for k in form},
                categories=CATEGORIES,
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
            await cycles.close_early(user.id, cycle_id, form.get("reason", ""))
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


ROUTE_HANDLERS = [PbApi, PbPages, OfficialPbPages]

# The officials' hub lists these (title, path, description), translated.
