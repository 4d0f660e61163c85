"""Participatory budgeting results: greedy and the Method of Equal Shares (pure, no I/O).

Outcomes are identical to pabutools 1.2.3 (checked by tests/unit/test_tally_*.py) and computed
far faster: see docs/rules.md for the rules, the satisfactions and the benchmark.

Calling it::

    from voting.compute.tally import Project, compute_outcome, explain

    outcome = compute_outcome(
        [Project("1", 500_000_000), Project("2", 1_200_000_000)],   # id (str), cost (whole KRW)
        budget=1_500_000_000,
        ballots=[{"1"}, {"1", "2"}, {"2"}],    # approval: sets of project ids
        rule="equal-shares-add1-greedy",       # see RULES
        sat="cost",                            # see SATISFACTIONS
        tie_break="city", seed=2026,           # or "pabutools" (project id as a string)
    )
    outcome.selected      # ("2", ...) project ids in the order they were funded
    outcome.total_cost    # exact int (or Fraction for decimal costs)
    outcome.steps         # Step records: why each project was funded or skipped
    outcome.shortfalls    # Equal Shares losers: what their supporters had left
    explain(outcome)      # the same in plain English sentences

Inputs:

* ``projects``: ``Project(id, cost)``; ``cost`` is an ``int`` (or an exact ``Fraction``).
* ``ballots``: ``ballot_type="approval"``: collections of ids; ``"cumulative"`` (also for
  pabulib ``scoring``): mappings id -> points; ``"ordinal"``: sequences of ids, best first.
  ``weights`` (optional) gives how many voters cast each ballot. Empty ballots count as voters.
* ``rule``: ``greedy`` (skip what does not fit), ``greedy-threshold`` (projects scoring below
  ``threshold`` are out: votes for approval, points for cumulative, positional points L..1 for
  ordinal ballots), ``greedy-no-skip`` (stop at the first project that does not fit),
  ``equal-shares``, ``equal-shares-greedy``, ``equal-shares-add1`` (per-voter budget raised by
  ``voter_budget_increment`` until the outcome is exhaustive or the next would overspend),
  ``equal-shares-add1-greedy``, and the pabutools variants ``equal-shares-increase[-greedy]``
  (whole budget raised by ``budget_step``, default 1%). Completions use greedy with
  ``completion_sat`` (default ``cost``). For add1 in won, pass a larger
  ``voter_budget_increment`` (e.g. 1000): one won per step means thousands of passes.
* ``sat``: ``cost`` (a supporter values a project at its cost; greedy ranks by votes),
  ``cardinality`` (1 per project; greedy ranks by votes per unit of cost), ``points``
  (cumulative: the points given), ``points-cost`` (points x cost; greedy ranks by total points),
  ``rank-points-cost`` (ordinal: (L - position) x cost; greedy ranks by 3/2/1-style points),
  ``borda`` (ordinal: L - position - 1).
* ``tie_break``: ``city`` (default: lower cost, then more votes, then a lot drawn with
  ``random.Random(seed)``, seed 0 unless given; publish it) or ``pabutools`` (lowest project id
  as a string wins, "10" < "9"; the reference mode).
* ``excluded``: ids left out while ballots stay whole (pabutools' ``restrict``).
* Errors in the inputs raise ``TallyError`` with a message naming the problem.

Decisions are exact. Equal Shares runs in a compiled float64 kernel (voting/compute/tally_kernel.py)
and every decision is checked against a bound on the rounding error; exact ties between prices
known exactly are settled exactly, and any other decision too close to call makes the pass run
again with exact fractions. Explanation figures for Equal Shares (prices, money left) are
display values (floats); greedy figures are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

from voting.compute.election import (
    Ballot,
    BallotType,
    Election,
    Number,
    Outcome,
    Project,
    Shortfall,
    Step,
    TallyError,
    exact_amount,
)
from voting.compute.equal_shares import equal_shares
from voting.compute.explain import explain, explanation_steps, fill_step
from voting.compute.greedy import Run

# The engine's front: callers import all of these from here.
__all__ = [
    "EXTRA_RULES",
    "RULES",
    "SATISFACTIONS",
    "TIE_BREAKS",
    "Ballot",
    "BallotType",
    "Number",
    "Outcome",
    "Project",
    "Shortfall",
    "Step",
    "TallyError",
    "compare_by_popularity",
    "compute_outcome",
    "explain",
    "explanation_steps",
    "fill_step",
    "warm_up",
]

RULES = (
    "greedy",
    "greedy-threshold",
    "greedy-no-skip",
    "equal-shares",
    "equal-shares-greedy",
    "equal-shares-add1",
    "equal-shares-add1-greedy",
)
EXTRA_RULES = ("equal-shares-increase", "equal-shares-increase-greedy")
SATISFACTIONS = ("cost", "cardinality", "points", "points-cost", "rank-points-cost", "borda")
TIE_BREAKS = ("pabutools", "city")
_SAT_BALLOTS = {
    "cost": ("approval", "cumulative", "ordinal"),
    "cardinality": ("approval", "cumulative", "ordinal"),
    "points": ("cumulative",),
    "points-cost": ("cumulative",),
    "rank-points-cost": ("ordinal",),
    "borda": ("ordinal",),
}


def _check_options(
    rule: str,
    sat: str,
    tie_break: str,
    ballot_type: BallotType,
    completion_sat: str,
    threshold: Number | None,
) -> None:
    """Refuse a rule, satisfaction or tie-break we do not know, or options that do not go together."""
    if rule not in RULES + EXTRA_RULES:
        raise TallyError(f"unknown rule {rule!r}; choose one of {', '.join(RULES + EXTRA_RULES)}")
    if sat not in SATISFACTIONS:
        raise TallyError(f"unknown satisfaction {sat!r}; choose one of {', '.join(SATISFACTIONS)}")
    if tie_break not in TIE_BREAKS:
        raise TallyError(f"unknown tie-break {tie_break!r}; choose pabutools or city")
    for name in (sat, completion_sat):
        if name not in SATISFACTIONS:
            raise TallyError(
                f"unknown satisfaction {name!r}; choose one of {', '.join(SATISFACTIONS)}"
            )
        if ballot_type not in _SAT_BALLOTS[name]:
            raise TallyError(f"satisfaction {name!r} does not apply to {ballot_type} ballots")
    if threshold is not None and rule != "greedy-threshold":
        raise TallyError("a threshold only applies to the greedy-threshold rule")
    if rule == "greedy-threshold" and threshold is None:
        raise TallyError("greedy-threshold needs a threshold (the minimum score to win)")


def compute_outcome(
    projects: Sequence[Project],
    budget: Number,
    ballots: Sequence[Ballot],
    *,
    rule: str = "greedy",
    sat: str = "cost",
    ballot_type: BallotType = "approval",
    tie_break: str = "city",
    seed: int | None = None,
    threshold: Number | None = None,
    excluded: Iterable[str] = (),
    weights: Sequence[int] | None = None,
    voter_budget_increment: Number = 1,
    budget_step: Number | None = None,
    completion_sat: str = "cost",
    exact: bool = False,
) -> Outcome:
    """Compute the outcome of one rule; see the module docstring for every parameter.

    ``excluded`` leaves projects out while keeping ballots whole (as pabutools' ``restrict``);
    ``completion_sat`` is the satisfaction of the greedy completion (``*-greedy`` rules);
    ``exact=True`` skips the float fast path (same result, slower; used by tests).
    """
    _check_options(rule, sat, tie_break, ballot_type, completion_sat, threshold)
    budget = exact_amount(budget, "budget")
    excluded = tuple(excluded)
    election = Election(projects, ballots, ballot_type, weights)
    if tie_break == "city" and seed is None:
        seed = 0
    rank = election.tie_ranks(tie_break, seed)
    out = set(election.index_of(pid) for pid in excluded)
    if rule == "greedy-threshold":
        out |= {p for p in range(election.m) if election.score[p] < threshold}
    run = Run(election, budget, rank, out)
    for p in sorted(out):
        reason = "excluded" if election.ids[p] in excluded else "below-threshold"
        run.steps.append(
            Step(
                election.ids[p], election.costs[p], False, "before", reason, score=election.score[p]
            )
        )
    if rule.startswith("greedy"):
        run.greedy(election.sat_totals(sat), no_skip=rule == "greedy-no-skip")
    else:
        increment = voter_budget_increment if rule.startswith("equal-shares-add1") else None
        if rule.startswith("equal-shares-increase"):
            step = Fraction(budget, 100) if budget_step is None else budget_step
        else:
            step = None
        equal_shares(
            run,
            sat,
            increment=None
            if increment is None
            else exact_amount(increment, "voter_budget_increment"),
            budget_step=None if step is None else exact_amount(step, "budget_step"),
            exact=exact,
        )
        if rule.endswith("-greedy") and not run.exhaustive(run.available):
            run.greedy(election.sat_totals(completion_sat))
    funded = run.ids_selected()
    return Outcome(
        rule=rule,
        sat=sat,
        tie_break=tie_break,
        seed=seed if tie_break == "city" else None,
        budget=budget,
        selected=tuple(election.ids[p] for p in run.selected),
        total_cost=run.spent,
        steps=tuple(run.steps),
        shortfalls=tuple(
            Shortfall(s.project_id, s.cost, s.supporters, s.money_left, s.project_id in funded)
            for s in run.shortfalls
        ),
        excluded=tuple(election.ids[p] for p in sorted(out)),
        voter_budget=run.voter_budget,
        passes=run.passes,
        exact_passes=run.exact_passes,
    )


def warm_up() -> None:
    """Load the compiled Equal Shares kernel now (about a second, once per process)."""
    compute_outcome([Project("warm-up", 1)], 1, [{"warm-up"}], rule="equal-shares")


def compare_by_popularity(
    outcomes: Sequence[Outcome],
    ballots: Sequence[Ballot],
    *,
    sat: str = "cardinality",
    ballot_type: BallotType = "approval",
    costs: Mapping[str, Number] | None = None,
    weights: Sequence[int] | None = None,
) -> int:
    """Index of the outcome that most voters like best (pabutools' popularity_comparison).

    Each voter supports every outcome that gives them the highest satisfaction; the first
    outcome with the most support wins. ``costs`` is needed for ``sat="cost"``.
    """
    if sat not in ("cardinality", "cost"):
        raise TallyError("popularity comparison supports cardinality and cost satisfaction")
    support = [0] * len(outcomes)
    chosen = [set(o.selected) for o in outcomes]
    weights = weights or [1] * len(ballots)
    for ballot, weight in zip(ballots, weights, strict=True):
        listed = set(ballot)
        sats = [
            sum((1 if sat == "cardinality" else costs[pid]) for pid in listed & sel)  # type: ignore[index]
            for sel in chosen
        ]
        best = max(sats)
        for i, value in enumerate(sats):
            if value == best:
                support[i] += weight
    return support.index(max(support))
