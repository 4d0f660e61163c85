"""PB pages for citizens: cycles, ballots, receipts and results."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from portal import i18n, money
from portal.auth import public, requires_login
from portal.districts import POPULATION
from portal.errors import DomainError, InvalidInput, NotFoundError
from portal.notifications import followed_among
from portal.paging import page_number, paginate
from portal.sessions import SESSION_UNTOUCHED
from portal.web.forms import form_errors
from portal.web.pages import back_to, current_user, page, signed_in_user
from portal.web.pagination import Pager
from portal.web.signals import client_of
from voting.compute.district_map import DistrictFigures, district_figures
from voting.compute.results import bar_chart_svg, explanation_lines
from voting.compute.rules import BallotChoice
from voting.pages.cycle_header import cycle_context
from voting.projects import pot_projects, project_titles
from voting.services import approvals, ballots, cycles, results, signals

RECEIPTS_PER_PAGE = 600  # short codes: a page of them is still quick to scan for one's own
# Ballot requests read the session but never write it: no "seen", flash or expiry that dates a vote.
BALLOT_REQUEST = {SESSION_UNTOUCHED: True}


def ballot_choice_from_form(form: Any, kind: str) -> BallotChoice:
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


def _map_note(figures: DistrictFigures) -> str:
    """What a district says on the results map: funded total, ballots, turnout."""
    return i18n.gettext(
        "funded %(funded)s · %(ballots)s ballots (%(permille)s per 1,000 residents)",
        funded=money.krw_text(figures.funded),
        ballots=money.format_count(figures.ballots),
        permille=f"{figures.turnout_permille:.1f}",
    )


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
            **cycle_context(cycle),
            rules=cycles.rules_of(cycle),
            pots=pots,
            eligible=eligible,
            voted=voted,
            pot_name=cycles.pot_name,
            flash=request.session.pop("flash", None) if request.session else None,
            following=await followed_among(user and user.id, [("cycle", cycle_id), *(("pot", p["id"]) for p in pots)]),
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
            **cycle_context(cycle, pot),
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
            choice = ballot_choice_from_form(form, cycle["ballot_kind"])
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
        signals.note_cast(cycle_id, pot_id, signed_in_user(request).id, *client_of(request))
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
            **cycle_context(cycle, pot),
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
        turnout = await results.turnout(cycle_id)
        figures = district_figures(
            {p["district_code"]: p["id"] for p in pots if p["district_code"]},
            {pot: o["total_cost"] for pot, o in official.items()},
            {t.district_code: t.district_ballots for t in turnout if t.district_code},
            POPULATION,
        )
        return page(
            request,
            "voting/results.html",
            **cycle_context(cycle),
            pots=pots,
            official=official,
            pot_name=cycles.pot_name,
            turnout=turnout,
            set_aside=await signals.set_aside_count(cycle_id),
            approvals=await approvals.approvals_of(cycle_id),
            map_links={
                code: f"/pb/cycles/{cycle_id}/results/pots/{f.pot_id}" if f.pot_id else "#turnout"
                for code, f in figures.items()
            },
            map_notes={code: _map_note(f) for code, f in figures.items()},
            map_levels={code: f.level for code, f in figures.items()},
            funded_by_district={code: f.funded for code, f in figures.items()},
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
            **cycle_context(cycle, pot),
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
        page_no: FromQuery[str | None] = None,
    ) -> Template:
        """Every counted receipt of a pot, so each voter can check theirs (V6); garbage pages read as 1."""
        return await self._receipts_page(request, cycle_id, pot_id, q, page_number(page_no))

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
        pot_receipts = await ballots.receipts_of(cycle_id, pot_id)
        receipts = pot_receipts.counted
        query = (q or "").strip().upper()[:20]
        found = None if not query else query in set(receipts)
        set_aside = bool(query) and query in pot_receipts.set_aside
        shown = paginate(receipts, page_no, RECEIPTS_PER_PAGE)
        return page(
            request,
            "voting/receipts.html",
            **cycle_context(cycle, pot),
            receipts=shown.items,
            total=len(receipts),
            q=query,
            found=found,
            set_aside=set_aside,
            pager=Pager(shown, request.url.path, (), "page_no"),
        )


