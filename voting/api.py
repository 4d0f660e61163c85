"""The ``/api/v1/pb`` API: cycles, a pot's projects, the caller's ballot and results, as JSON."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from portal.auth import public, requires_login
from portal.errors import InvalidInput, NotFoundError
from portal.schemas import ErrorResponse
from portal.web.openapi import ERRORS
from portal.web.pages import current_user, signed_in_user
from portal.web.signals import client_of
from voting.compute.channels import RULE as WEIGHTED_RULE
from voting.compute.rules import BallotChoice
from voting.pages.citizens import BALLOT_REQUEST
from voting.projects import pot_projects, project_titles
from voting.schemas import (
    BallotCast,
    BallotRead,
    BallotReceipt,
    BallotRulesRead,
    ChannelsRead,
    CycleRead,
    CycleResults,
    PotRead,
    PotResult,
    ProjectRead,
    ProjectResult,
    RuleResult,
)
from voting.services import ballots, cycles, results, signals
from voting.services import channels as channel_weights

PB_ERRORS = ERRORS | {
    404: ResponseSpec(
        data_container=ErrorResponse, description="No such cycle or pot, or results before close"
    ),
    409: ResponseSpec(data_container=ErrorResponse, description="Outside the voting phase"),
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
        state=cycle["state"],
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
        channels=ChannelsRead(channel_weights.weights_of(cycle), cycle["stations_with_online"])
        if cycle["results_rule"] == WEIGHTED_RULE
        else None,
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
    """Cycles, projects, the caller's ballot and results as JSON.

    The handlers' names are the operations' summaries in the OpenAPI document; they are kept as published.
    """

    path = "/api/v1/pb"
    tags = ["participatory budgeting"]

    @get("/cycles", guards=[public], responses=PB_ERRORS)
    async def cycles(self) -> list[CycleRead]:
        """Every cycle with its phase, dates, ballot rules and pots (the city-wide pot has ``district_code: null``)."""
        return [_cycle_read(c) for c in await cycles.list_cycles()]

    @get("/cycles/{cycle_id:int}/pots/{pot_id:int}/projects", guards=[public], responses=PB_ERRORS)
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
        responses=PB_ERRORS,
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
        signals.note_cast(cycle_id, pot_id, signed_in_user(request).id, *client_of(request))
        return BallotReceipt(receipt=receipt.receipt, version=receipt.version)

    @get(
        "/cycles/{cycle_id:int}/pots/{pot_id:int}/ballot",
        guards=[requires_login],
        responses=PB_ERRORS,
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

    @get("/cycles/{cycle_id:int}/results", guards=[public], responses=PB_ERRORS)
    async def results(self, cycle_id: FromPath[int]) -> CycleResults:
        """Results per pot under the cycle's rule and the comparison rule; 404 until voting closes."""
        return await _cycle_results(cycle_id)
