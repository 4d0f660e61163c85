"""Results of one pot with the engine (voting.compute.tally), explained per project (pure, no I/O).

Rules as a cycle names them, and what runs in the engine:

* ``greedy``: ``greedy`` (most votes first, skip what does not fit).
* ``greedy-threshold``: ``greedy-threshold`` with the cycle's vote threshold.
* ``equal-shares``: Equal Shares with completion, ``equal-shares-add1-greedy``. The per-voter
  budget is raised in steps of 1% of the first per-voter share (not 1 KRW: pots are billions of
  won, and 1-won steps would mean millions of passes), then what is left is filled greedily.

Approval and knapsack ballots are counted as approval sets with cost satisfaction (the engine's
``cost``: greedy ranks by votes); cumulative ballots with ``points-cost`` (greedy ranks by points).
"""

from __future__ import annotations

import contextlib
import gc
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import msgspec

from voting.channels import CHANNEL_LABELS
from voting.compute.tally import (
    Outcome,
    Project,
    compute_outcome,
    explain,
    explanation_steps,
    fill_step,
)

ENGINE_RULES = {
    "greedy": "greedy",
    "greedy-threshold": "greedy-threshold",
    "equal-shares": "equal-shares-add1-greedy",
}


@dataclass(frozen=True)
class PotInput:
    """Everything one pot's count needs, as plain data."""

    budget: int
    costs: Mapping[int, int]  # project id -> cost on the ballot
    ballots: Sequence[dict]  # canonical contents
    ballot_kind: str
    tie_break: str
    tie_seed: int
    vote_threshold: int | None = None

    @cached_property
    def distinct(self) -> list[tuple[dict, int]]:
        """The distinct ballots with their counts, worked out once per pot."""
        return distinct_ballots(self.ballots)

    # Worked out once per pot for every rule counted on it (a close counts two, the results pages more).
    @cached_property
    def votes(self) -> dict[int, int]:
        return _scores(self)

    @cached_property
    def tally_input(self) -> tuple[list, list[int], str]:
        return _tally_ballots(self)

    @cached_property
    def choices(self) -> Counter[frozenset[int]]:
        """How many ballots chose each set of projects (points count as a choice)."""
        chosen: Counter[frozenset[int]] = Counter()
        for b, times in self.distinct:
            chosen[frozenset(int(p) for p in (b.get("points") or b.get("project_ids") or []))] += times
        return chosen


def comparison_rule(rule: str) -> str:
    """The rule shown next to the official one: Equal Shares beside greedy, and the reverse."""
    return "greedy" if rule == "equal-shares" else "equal-shares"


def decode_ballots(contents: Sequence[str]) -> list[dict]:
    """Stored ballot contents (canonical JSON) as data; identical contents share one object.

    msgspec decodes a small ballot about five times faster than ``json.loads``, and a pot's ballots
    repeat (a third of them at 100,000 ballots), so each distinct content is decoded once.
    """
    decoded: dict[str, dict] = {}
    out = []
    for content in contents:
        ballot = decoded.get(content)
        if ballot is None:
            ballot = decoded[content] = msgspec.json.decode(content)
        out.append(ballot)
    return out


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a synchronous count, back on after.

    A large pot makes hundreds of thousands of small dicts, lists and sets at once (decoded
    ballots, approval sets), and the collector walks all of them again at every collection: at a
    million ballots it doubled the time of decoding and counting. Nothing made here holds a
    reference cycle, and no other task runs during a synchronous call, so nothing is missed.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def decode_counted(counted: Sequence[tuple[str, int]]) -> list[dict]:
    """Ballots given as (content, how many) as data: each content decoded once, its copies shared."""
    out: list[dict] = []
    with collector_paused():
        for content, n in counted:
            out += [msgspec.json.decode(content)] * n
    return out


def distinct_ballots(ballots: Sequence[dict]) -> list[tuple[dict, int]]:
    """Each distinct ballot object once, with how many times it occurs (see ``decode_ballots``)."""
    counts = Counter(map(id, ballots))
    first = {id(b): b for b in ballots}
    return [(first[key], n) for key, n in counts.items()]


def _tally_ballots(data: PotInput) -> tuple[list, list[int], str]:
    """The engine's ballots with their weights: each distinct ballot once (the engine groups
    identical ballots itself, so the outcome is the same as with one entry per ballot)."""
    distinct = data.distinct
    weights = [n for _, n in distinct]
    if data.ballot_kind == "cumulative":
        return [dict(b.get("points", {})) for b, _ in distinct], weights, "cumulative"
    return [frozenset(str(pid) for pid in b.get("project_ids", [])) for b, _ in distinct], weights, "approval"


def scores(data: PotInput) -> dict[int, int]:
    """Votes per project (approval, knapsack) or points per project (cumulative)."""
    return dict(data.votes)


def _scores(data: PotInput) -> dict[int, int]:
    counts: Counter[int] = Counter({pid: 0 for pid in data.costs})
    for b, times in data.distinct:
        if "points" in b:
            for pid, n in b["points"].items():
                counts[int(pid)] += int(n) * times
        else:
            for pid in b.get("project_ids", []):
                counts[int(pid)] += times
    return dict(counts)


def parameters(rule: str, data: PotInput) -> dict:
    """The engine call for ``rule``, recorded with the run so anyone can repeat it."""
    sat = "points-cost" if data.ballot_kind == "cumulative" else "cost"
    params: dict = {
        "engine_rule": ENGINE_RULES[rule],
        "sat": sat,
        "ballot_type": "cumulative" if data.ballot_kind == "cumulative" else "approval",
        "tie_break": data.tie_break,
        "seed": data.tie_seed,
        "budget": data.budget,
    }
    if rule == "greedy-threshold":
        params["threshold"] = data.vote_threshold or 0
    if rule == "equal-shares":
        voters = max(len(data.ballots), 1)
        params["voter_budget_increment"] = max(1, math.ceil(data.budget / voters / 100))
    return params


def run_rule(rule: str, data: PotInput) -> tuple[dict, dict]:
    """Count one pot under ``rule``; return (parameters, outcome as JSON-ready data)."""
    with collector_paused():
        return _run_rule(rule, data)


def _run_rule(rule: str, data: PotInput) -> tuple[dict, dict]:
    params = parameters(rule, data)
    votes = scores(data)
    if not data.ballots:
        return params, _outcome_json(rule, params, data, votes, None)
    ballots, weights, ballot_type = data.tally_input
    ballots, weights = list(ballots), list(weights)  # the engine's own copies
    kwargs = {}
    if "threshold" in params:
        kwargs["threshold"] = params["threshold"]
    if "voter_budget_increment" in params:
        kwargs["voter_budget_increment"] = params["voter_budget_increment"]
    outcome = compute_outcome(
        [Project(str(pid), cost) for pid, cost in sorted(data.costs.items())],
        data.budget,
        ballots,
        rule=params["engine_rule"],
        sat=params["sat"],
        ballot_type=ballot_type,  # type: ignore[arg-type]
        tie_break=data.tie_break,
        seed=data.tie_seed,
        weights=weights,
        **kwargs,
    )
    return params, _outcome_json(rule, params, data, votes, outcome)


def _co_supporters(
    data: PotInput, losers: set[int], winners: set[int]
) -> dict[int, list[list[int]]]:
    """For each loser, which winners its supporters also backed, most shared first (where their money went).

    One pass over the pot's distinct ballots for all losers (a pass per loser cost ~25 s of the
    close at 1,000,000 ballots).
    """
    shared: dict[int, Counter[int]] = {loser: Counter() for loser in losers}
    if losers:
        for chosen, n in data.choices.items():
            backed = chosen & winners
            if backed:
                for loser in chosen & losers:
                    for pid in backed:
                        shared[loser][pid] += n
    # Ties by project id, not by the order the database returns ballots in (which a restore
    # or a reshuffle changes): the same ballots always give the same explanation.
    return {
        loser: [[pid, n] for pid, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]]
        for loser, counts in shared.items()
    }


def _outcome_json(
    rule: str, params: dict, data: PotInput, votes: dict[int, int], outcome: Outcome | None
) -> dict:
    selected = [int(p) for p in outcome.selected] if outcome else []
    winners = set(selected)
    why: dict[int, dict] = {}
    if outcome is not None:
        for step in outcome.steps:
            pid = int(step.project_id)
            if step.selected or pid in winners:
                continue
            if step.reason in ("does-not-fit", "stopped"):
                left = int(step.remaining_budget or 0)
                why[pid] = {"kind": "does-not-fit", "left": left, "short_by": int(step.cost) - left}
            elif step.reason == "below-threshold":
                why[pid] = {
                    "kind": "below-threshold",
                    "votes": votes.get(pid, 0),
                    "threshold": params.get("threshold", 0),
                }
        went_to = _co_supporters(
            data, {int(short.project_id) for short in outcome.shortfalls} - winners, winners
        )
        for short in outcome.shortfalls:
            pid = int(short.project_id)
            if pid in winners:
                continue
            why[pid] = {
                "kind": "equal-shares",
                "supporters": short.supporters,
                "money_left": int(round(short.money_left)),
                "short_by": int(short.cost) - int(round(short.money_left)),
                "went_to": went_to[pid],
                "then": why.get(pid),
            }
    for pid in data.costs:
        if pid not in winners and pid not in why:
            why[pid] = {"kind": "no-votes" if votes.get(pid, 0) == 0 else "not-reached"}
    projects = []
    rank_of = {pid: i + 1 for i, pid in enumerate(selected)}
    for pid, cost in data.costs.items():
        projects.append(
            {
                "id": pid,
                "cost": cost,
                "votes": votes.get(pid, 0),
                "selected": pid in winners,
                "rank": rank_of.get(pid),
                "why_not": None if pid in winners else why.get(pid),
            }
        )
    projects.sort(key=lambda p: (not p["selected"], p["rank"] or 0, -p["votes"], p["id"]))
    return {
        "rule": rule,
        "budget": data.budget,
        "voters": len(data.ballots),
        "selected": selected,
        "total_cost": int(outcome.total_cost) if outcome else 0,
        "projects": projects,
        "explanation": explain(outcome) if outcome else [NO_BALLOTS],
        # The same, for pages to translate and to name projects by title (see explanation_lines).
        "explanation_steps": [
            {"message": message, "params": params} for message, params in explanation_steps(outcome)
        ]
        if outcome
        else [{"message": NO_BALLOTS, "params": {}}],
    }


NO_BALLOTS = "No ballots were cast in this pot: nothing is funded."


def explanation_lines(
    outcome: Mapping, titles: Mapping[int, str], translate: Callable[[str], str]
) -> list[str]:
    """The engine's explanation with each message through ``translate`` and projects named by title.

    Runs computed before the steps were stored keep their stored English lines.
    """
    steps = outcome.get("explanation_steps")
    if steps is None:
        return list(outcome.get("explanation", []))

    def title(pid: str) -> str:
        return titles.get(int(pid), pid) if pid.isdigit() else pid

    def params(step: Mapping) -> Mapping:
        # Weighted channels name a channel by its id; a reader gets its label, in their language.
        channel = step["params"].get("channel")
        if channel in CHANNEL_LABELS:
            return {**step["params"], "channel": translate(CHANNEL_LABELS[channel])}
        return step["params"]

    return [fill_step(translate(step["message"]), params(step), title) for step in steps]
def _shorten(title: str, limit: int = 52) -> str:
    """``title`` cut to about ``limit`` half-width columns (a Hangul syllable takes two)."""
    used = 0
    for i, ch in enumerate(title):
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used > limit:
            return title[:i] + "…"
    return title


def bar_chart_svg(
    projects: Sequence[dict], titles: Mapping[int, str], label_votes: str, max_bars: int = 30
) -> dict:
    """Geometry for a server-rendered horizontal bar chart (the template draws it, escaping titles).

    Each project's title sits on its own line above its bar, so the chart is narrow enough for a
    phone: the template gives it a ``viewBox`` and lets it scale to the screen's width.
    """
    shown = sorted(projects, key=lambda p: -p["votes"])[:max_bars]
    top = max((p["votes"] for p in shown), default=0) or 1
    label_h, bar_h, gap, chart_w, width = 16, 14, 10, 290, 360
    row = label_h + bar_h + gap
    bars = []
    for i, p in enumerate(shown):
        title = titles.get(p["id"], str(p["id"]))
        bars.append(
            {
                "y": i * row,
                "bar_y": i * row + label_h,
                "width": max(round(chart_w * p["votes"] / top), 1),
                "label": _shorten(title),
                "title": title,
                "votes": p["votes"],
                "selected": p["selected"],
            }
        )
    return {
        "bars": bars,
        "height": max(len(bars) * row, row),
        "bar_h": bar_h,
        "chart_w": chart_w,
        "width": width,
        "label_votes": label_votes,
    }
