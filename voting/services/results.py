"""PB results: counting a closed cycle's pots into immutable runs, and reading them and the turnout."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from portal import audit, clock
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.districts import DISTRICTS, POPULATION
from portal.errors import NotFoundError
from voting.compute import results as results_mod
from voting.compute.rules import counted_ballots_sha256
from voting.mixer import mix_pending
from voting.projects import pot_projects
from voting.services import channels, signals
from voting.services.cycles import get_cycle, is_closed, pots_of
from voting.tables import ResultRun


def require_closed(cycle: dict[str, Any]) -> None:
    """Results do not exist for anyone, officials included, until voting closes (V4)."""
    if not is_closed(cycle):
        raise NotFoundError("We could not find that page.")


async def pot_input(
    cycle: dict, pot: dict, grouped: list[tuple[str, str, int]] | None = None
) -> tuple[results_mod.PotInput, list[tuple[str, int]]]:
    """The pot's ballots as the engine counts them (under weighted channels: the online channel's).

    Returns the input and each distinct content with how many ballots hold it, sorted by content.
    ``grouped``: the pot's ``signals.grouped_ballots`` of every channel, when already read.
    """
    costs = {p.id: p.cost for p in await pot_projects(pot["id"])}
    # Fraud screening may have set some aside pending review (docs/pb.md): they are not counted.
    online = channels.online_ballot_channels(cycle)
    if grouped is None:
        grouped = await signals.grouped_ballots(cycle["id"], pot["id"], online)
    elif online is not None:
        grouped = [row for row in grouped if row[0] in online]
    merged: Counter[str] = Counter()
    for _, content, n in grouped:
        merged[content] += n
    counted = sorted(merged.items())
    data = results_mod.PotInput(
        budget=pot["amount"],
        costs=costs,
        ballots=results_mod.decode_counted(counted),
        ballot_kind=cycle["ballot_kind"],
        tie_break=cycle["tie_break"],
        tie_seed=cycle["tie_seed"],
        vote_threshold=cycle["vote_threshold"],
    )
    return data, counted


async def compute_results(cycle_id: int, actor_id: int | None = None) -> list[dict[str, Any]]:
    """Count every pot with the cycle's rule and the comparison rule; store immutable runs.

    A run whose inputs (rule, parameters, ballots hash) match a stored run is not stored again,
    so recomputing yields the same runs. Returns the current runs.
    """
    cycle = await get_cycle(cycle_id)
    require_closed(cycle)
    # Voting is over: mix the last ballots now rather than at the mixer's next round.
    await mix_pending([p["id"] for p in await pots_of(cycle_id)])
    async with write_transaction(lock_key=f"pb-results-{cycle_id}"):
        for pot in await pots_of(cycle_id):
            grouped = await signals.grouped_ballots(cycle_id, pot["id"])  # read once for both rules
            data, counted = await pot_input(cycle, pot, grouped)
            digest = counted_ballots_sha256(counted)
            for rule, official in (
                (cycle["results_rule"], True),
                (results_mod.comparison_rule(cycle["results_rule"]), False),
            ):
                params, rule_digest, count = await _rule_inputs(cycle, pot, rule, data, digest, grouped)
                current = (
                    await ResultRun.select(
                        ResultRun.id, ResultRun.parameters, ResultRun.ballots_sha256
                    )
                    .where(
                        (ResultRun.pot == pot["id"])
                        & (ResultRun.rule == rule)
                        & ResultRun.superseded.eq(False)
                    )
                    .first()
                )
                if (
                    current
                    and current["ballots_sha256"] == rule_digest
                    and current["parameters"] == canonical_json(params)
                ):
                    continue
                outcome = count()
                if current:
                    await ResultRun.update({ResultRun.superseded: True}).where(
                        ResultRun.id == current["id"]
                    )
                await ResultRun.insert(
                    ResultRun(
                        cycle=cycle_id,
                        pot=pot["id"],
                        rule=rule,
                        official=official,
                        parameters=canonical_json(params),
                        ballots_sha256=rule_digest,
                        outcome=canonical_json(outcome),
                        computed_at=clock.now(),
                    )
                )
                await audit.record(
                    "pb.results.computed",
                    actor_id=actor_id,
                    subject=f"pb-pot:{pot['id']}",
                    rule=rule,
                    ballots_sha256=rule_digest,
                    selected=outcome["selected"],
                )
    return await current_runs(cycle_id)


async def _rule_inputs(
    cycle: dict,
    pot: dict,
    rule: str,
    data: results_mod.PotInput,
    digest: str,
    grouped: list[tuple[str, str, int]],
) -> tuple[dict, str, Callable[[], dict]]:
    """(parameters, inputs hash, the count) of one rule; the count runs only if no stored run matches."""
    if rule == channels.weighted.RULE:
        return await channels.weighted_run(cycle, pot, data.costs, grouped)
    params = results_mod.parameters(rule, data)
    params["projects"] = {str(pid): cost for pid, cost in sorted(data.costs.items())}
    return params, digest, lambda: results_mod.run_rule(rule, data)[1]


async def current_runs(cycle_id: int) -> list[dict[str, Any]]:
    rows = (
        await ResultRun.select()
        .where((ResultRun.cycle == cycle_id) & ResultRun.superseded.eq(False))
        .order_by(ResultRun.id)
    )
    for row in rows:
        row["outcome"] = json.loads(row["outcome"])
        row["parameters"] = json.loads(row["parameters"])
    return rows


class ClosedCycle(NamedTuple):
    """A closed cycle, its pots and its current result runs (two per pot: the official rule and the comparison)."""

    cycle: dict[str, Any]
    pots: list[dict[str, Any]]
    runs: list[dict[str, Any]]


async def results_of(cycle_id: int) -> ClosedCycle:
    """The cycle's results after close (404 before).

    The close counts the votes; only a cycle closed by its dates before the scheduled step ran
    gets its runs computed here.
    """
    cycle = await get_cycle(cycle_id)
    require_closed(cycle)
    runs = await current_runs(cycle_id)
    pots = await pots_of(cycle_id)
    if len(runs) < 2 * len(pots):
        runs = await compute_results(cycle_id)
    return ClosedCycle(cycle, pots, runs)


@dataclass(frozen=True)
class Turnout:
    """One district's turnout (``district_code`` None: all of Seoul)."""

    district_code: str | None
    population: int
    district_ballots: int  # ballots in the district's pot
    city_wide_voters: int  # its residents' ballots in the city-wide pot (all of Seoul: that pot's)


async def turnout(cycle_id: int) -> list[Turnout]:
    """Per district: ballots in its pot, its residents' city-wide votes, and its population."""
    pots = await pots_of(cycle_id)
    by_district = {p["district_code"]: p for p in pots}
    ballots = await raw(
        "SELECT pot, COUNT(*) AS n FROM pb_ballot WHERE pot IN (SELECT id FROM pb_pot WHERE cycle = {}) GROUP BY pot",
        cycle_id,
    )
    per_pot = {r["pot"]: r["n"] for r in ballots}
    city = by_district.get(None)
    city_votes = await raw(
        "SELECT district_code, SUM(voters) AS n FROM pb_voter_record WHERE pot = {} GROUP BY district_code",
        city["id"] if city else 0,
    )
    city_by_district = {r["district_code"]: r["n"] for r in city_votes}
    rows: list[Turnout] = []
    for district in DISTRICTS:
        pot = by_district.get(district.code)
        rows.append(
            Turnout(
                district.code,
                POPULATION[district.code],
                per_pot.get(pot["id"], 0) if pot else 0,
                city_by_district.get(district.code, 0),
            )
        )
    rows.append(
        Turnout(
            None,
            sum(POPULATION.values()),
            sum(r.district_ballots for r in rows),
            per_pot.get(city["id"], 0) if city else 0,
        )
    )
    return rows


