"""Weighted channels: online, stations, committee and assembly approvals combined by published weights (pure).

Each channel's approvals become **shares**: a project's approvals in the channel divided by all
approvals cast in that channel (the channel's vote share, 득표율, as Seoul publishes per channel).
The **combined score** is the weighted sum of the shares, weights in whole percent summing to 100.
Projects are ranked by combined score and the pot is filled greedily, skipping what does not fit,
with the engine's greedy order and tie-breaking (``voting.compute.greedy`` / ``Election.tie_ranks``).

A channel with no approvals at all (no ballots, or only empty ones) has no shares: its weight is
shared among the channels that have approvals, in proportion to their weights (recorded in the
explanation). When no channel has approvals, nothing is funded. See docs/rules.md.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from voting.compute.election import TallyError

# Channels a cycle may weigh; station tablets and paper ballots together are "stations".
WEIGHTED_CHANNELS = ("online", "stations", "committee", "assembly")
# Ballot.channel values counted in each weighted channel (when stations count separately).
BALLOT_CHANNELS = {
    "online": ("online",),
    "stations": ("station", "paper"),
    "committee": ("committee",),
}
RULE = "weighted-channels"


def weights_problem(weights: Mapping[str, int], stations_with_online: bool = False) -> str | None:
    """Why ``weights`` cannot be used (a message for the officials' form), or None."""
    if not weights:
        return "Give at least one channel a weight."
    if any(channel not in WEIGHTED_CHANNELS for channel in weights):
        return "Choose channels from the list."
    if any(
        isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100 for w in weights.values()
    ):
        return "Each weight is a whole percentage from 0 to 100."
    if sum(weights.values()) != 100:
        return "The channels' weights must add up to 100."
    if stations_with_online and "stations" in weights:
        return "Stations are counted with online: leave the stations' weight empty."
    return None


def check_weights(weights: Mapping[str, int], stations_with_online: bool = False) -> None:
    """Refuse weights that are not whole percentages of known channels summing to 100."""
    problem = weights_problem(weights, stations_with_online)
    if problem:
        raise TallyError(problem)


def weights_of(text: str) -> dict[str, int]:
    """A cycle's stored weights (canonical JSON), in the channels' order; {} when none or unreadable."""
    try:
        stored = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(stored, dict):
        return {}
    known = {c: stored[c] for c in WEIGHTED_CHANNELS if c in stored}
    return known | {c: w for c, w in stored.items() if c not in known}


@dataclass(frozen=True)
class WeightedInput:
    """One pot's count under weighted channels, as plain data."""

    budget: int
    costs: Mapping[int, int]  # project id -> cost
    weights: Mapping[str, int]  # channel -> whole percent (the declared channels)
    approvals: Mapping[str, Mapping[int, int]]  # channel -> project id -> approvals
    ballots: Mapping[str, int]  # channel -> ballots cast (shown; the assembly enters counts only)
    tie_break: str = "city"
    tie_seed: int = 0


@dataclass(frozen=True)
class ChannelShare:
    channel: str
    approvals: int
    share: Fraction  # of the channel's approvals, 0..1


@dataclass(frozen=True)
class WeightedProject:
    """A project as the count considered it (in ranking order)."""

    id: int
    cost: int
    shares: tuple[ChannelShare, ...]
    score: Fraction  # combined score: sum of effective weight x share, 0..1
    approvals: int  # approvals in the counted channels (the tie-break's "more votes")
    selected: bool
    remaining_budget: int  # after its turn


@dataclass(frozen=True)
class WeightedOutcome:
    budget: int
    weights: dict[str, int]  # as declared
    effective: dict[str, Fraction]  # after an empty channel's weight is shared out, 0..1
    empty_channels: tuple[str, ...]
    projects: tuple[WeightedProject, ...]  # in ranking order
    selected: tuple[int, ...]  # in funding order
    total_cost: int
    tie_break: str
    seed: int | None


def effective_weights(weights: Mapping[str, int], totals: Mapping[str, int]) -> dict[str, Fraction]:
    """Weights as fractions of 1, an empty channel's weight shared among the others by their weights."""
    live = {c: w for c, w in weights.items() if totals.get(c, 0) > 0}
    base = sum(live.values())
    return {c: (Fraction(live[c], base) if c in live and base else Fraction(0)) for c in weights}


def _tie_ranks(inp: WeightedInput, approvals: Mapping[int, int]) -> dict[int, int]:
    """The engine's tie order: pabutools (id as a string) or city (cost, more votes, seeded lot)."""
    ids = {pid: str(pid) for pid in inp.costs}
    if inp.tie_break == "pabutools":
        keys: dict[int, tuple] = {pid: (ids[pid],) for pid in inp.costs}
    elif inp.tie_break == "city":
        lot = sorted(ids.values())
        random.Random(inp.tie_seed).shuffle(lot)
        drawn = {sid: i for i, sid in enumerate(lot)}
        keys = {pid: (inp.costs[pid], -approvals[pid], drawn[ids[pid]]) for pid in inp.costs}
    else:
        raise TallyError(f"unknown tie-break {inp.tie_break!r}; choose pabutools or city")
    return {pid: r for r, pid in enumerate(sorted(inp.costs, key=lambda p: keys[p]))}


def compute_weighted(inp: WeightedInput) -> WeightedOutcome:
    """Rank projects by combined score and fill the pot greedily (skip what does not fit)."""
    check_weights(inp.weights)
    if any(cost < 0 for cost in inp.costs.values()) or inp.budget < 0:
        raise TallyError("costs and the budget cannot be negative")
    for channel, counts in inp.approvals.items():
        if any(n < 0 for n in counts.values()):
            raise TallyError(f"approvals in {channel} cannot be negative")
    totals = {c: sum(inp.approvals.get(c, {}).get(p, 0) for p in inp.costs) for c in inp.weights}
    weight = effective_weights(inp.weights, totals)
    counted = [c for c in inp.weights if weight[c] > 0]
    shares: dict[int, tuple[ChannelShare, ...]] = {}
    score: dict[int, Fraction] = {}
    approvals: dict[int, int] = {}
    for pid in inp.costs:
        row = tuple(
            ChannelShare(
                c,
                inp.approvals.get(c, {}).get(pid, 0),
                Fraction(inp.approvals.get(c, {}).get(pid, 0), totals[c])
                if totals[c]
                else Fraction(0),
            )
            for c in inp.weights
        )
        shares[pid] = row
        score[pid] = sum((weight[s.channel] * s.share for s in row), Fraction(0))
        approvals[pid] = sum(s.approvals for s in row if s.channel in counted)
    rank = _tie_ranks(inp, approvals)

    def order(pid: int) -> tuple:
        # The engine's greedy order: free projects with support first, then by score.
        if score[pid] > 0 and inp.costs[pid] == 0:
            return (0, 0, rank[pid])
        return (1, -score[pid], rank[pid])

    remaining, selected, considered = inp.budget, [], []
    for pid in sorted(inp.costs, key=order) if counted else []:
        fits = inp.costs[pid] <= remaining
        if fits:
            remaining -= inp.costs[pid]
            selected.append(pid)
        considered.append(
            WeightedProject(
                pid, inp.costs[pid], shares[pid], score[pid], approvals[pid], fits, remaining
            )
        )
    return WeightedOutcome(
        budget=inp.budget,
        weights=dict(inp.weights),
        effective=weight,
        empty_channels=tuple(c for c in inp.weights if totals[c] == 0),
        projects=tuple(considered),
        selected=tuple(selected),
        total_cost=inp.budget - remaining,
        tie_break=inp.tie_break,
        seed=inp.tie_seed if inp.tie_break == "city" else None,
    )


def percent(value: Fraction) -> str:
    """A share or score as a percentage with two decimals ("37.50")."""
    return f"{float(value * 100):.2f}"


NO_VOTES = "No channel has any votes in this pot: nothing is funded."


def explanation_steps(
    outcome: WeightedOutcome, totals: Mapping[str, int]
) -> list[tuple[str, dict]]:
    """The count step by step as (English message, values), like ``voting.compute.explain``."""
    steps: list[tuple[str, dict]] = [
        (
            "Rule weighted channels, ties broken by %(tie_break)s (seed %(seed)s); budget %(budget)s."
            if outcome.seed is not None
            else "Rule weighted channels, ties broken by %(tie_break)s; budget %(budget)s.",
            {"tie_break": outcome.tie_break, "seed": outcome.seed, "budget": f"{outcome.budget:,}"},
        )
    ]
    for channel, declared in outcome.weights.items():
        steps.append(
            (
                "Channel %(channel)s: weight %(weight)s%%, %(approvals)s approvals.",
                {"channel": channel, "weight": declared, "approvals": totals.get(channel, 0)},
            )
        )
    for channel in outcome.empty_channels:
        if outcome.weights[channel]:
            steps.append(
                (
                    "Channel %(channel)s has no votes: its weight of %(weight)s%% is shared among the"
                    " other channels in proportion to their weights.",
                    {"channel": channel, "weight": outcome.weights[channel]},
                )
            )
    if not outcome.projects:
        steps.append((NO_VOTES, {}))
        return steps
    for p in outcome.projects:
        values = {
            "project": str(p.id),
            "score": percent(p.score),
            "cost": f"{p.cost:,}",
            "left": f"{p.remaining_budget:,}",
        }
        steps.append(
            (
                "%(project)s (score %(score)s) costs %(cost)s and fits: funded, %(left)s left."
                if p.selected
                else "%(project)s (score %(score)s) costs %(cost)s, more than the %(left)s left: skipped.",
                values,
            )
        )
    steps.append(
        (
            "Funded %(count)s projects for %(total)s of %(budget)s.",
            {
                "count": len(outcome.selected),
                "total": f"{outcome.total_cost:,}",
                "budget": f"{outcome.budget:,}",
            },
        )
    )
    return steps


def outcome_json(inp: WeightedInput, outcome: WeightedOutcome) -> dict:
    """The outcome as a stored result run, in the shape of ``voting.compute.results`` plus the shares."""
    rank_of = {pid: i + 1 for i, pid in enumerate(outcome.selected)}
    projects = []
    for p in outcome.projects:
        why = None
        if not p.selected:
            short = p.cost - p.remaining_budget
            why = {"kind": "does-not-fit", "left": p.remaining_budget, "short_by": short}
        projects.append(
            {
                "id": p.id,
                "cost": p.cost,
                "votes": p.approvals,
                "selected": p.selected,
                "rank": rank_of.get(p.id),
                "why_not": why,
                "score": percent(p.score),
                "shares": {s.channel: percent(s.share) for s in p.shares},
                "approvals": {s.channel: s.approvals for s in p.shares},
            }
        )
    if not outcome.projects:
        projects = [
            {
                "id": pid,
                "cost": cost,
                "votes": 0,
                "selected": False,
                "rank": None,
                "why_not": {"kind": "no-votes"},
                "score": percent(Fraction(0)),
                "shares": {},
                "approvals": {},
            }
            for pid, cost in sorted(inp.costs.items())
        ]
    totals = {c: sum(inp.approvals.get(c, {}).get(p, 0) for p in inp.costs) for c in outcome.weights}
    steps = explanation_steps(outcome, totals)
    return {
        "rule": RULE,
        "budget": outcome.budget,
        "voters": sum(inp.ballots.get(c, 0) for c in outcome.weights),
        "selected": list(outcome.selected),
        "total_cost": outcome.total_cost,
        "projects": projects,
        "channels": [
            {
                "channel": c,
                "weight": w,
                "effective": percent(outcome.effective[c]),
                "ballots": inp.ballots.get(c, 0),
                "empty": c in outcome.empty_channels,
            }
            for c, w in outcome.weights.items()
        ],
        "explanation": [message % values for message, values in steps],
        "explanation_steps": [{"message": m, "params": v} for m, v in steps],
    }
