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

import numbers
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from typing import Literal

import numpy as np
from scipy import sparse

from voting.compute.tally_kernel import CERTIFIED, UNCERTAIN, mes_rounds

Number = int | Fraction
BallotType = Literal["approval", "cumulative", "ordinal"]
Ballot = Collection[str] | Mapping[str, Number] | Sequence[str]

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
# Relative size of float rounding error we allow for: far above what 100 rounds of float64
# arithmetic can accumulate, far below any gap that matters between two real outcomes.
_ERR = 1e-11


@dataclass(frozen=True, slots=True)
class Project:
    """A project on the ballot: its id (a string) and its cost (whole currency units)."""

    id: str
    cost: Number


@dataclass(frozen=True, slots=True)
class Step:
    """One project considered by the rule, in the order the rule considered it.

    ``phase`` is ``zero-cost``, ``equal-shares`` or ``greedy``. ``reason`` is ``bought``
    (Equal Shares), ``free`` (costs nothing), ``fits`` / ``does-not-fit`` (greedy),
    ``below-threshold`` or ``stopped`` (greedy-no-skip after the first misfit).
    """

    project_id: str
    cost: Number
    selected: bool
    phase: str
    reason: str
    round: int | None = None
    remaining_budget: Number | None = None
    score: Number | None = None
    price_per_supporter: float | None = None
    supporters: int | None = None
    supporters_paid_all: int | None = None


@dataclass(frozen=True, slots=True)
class Shortfall:
    """An Equal Shares loser: its supporters had ``money_left`` in all, less than ``cost``."""

    project_id: str
    cost: Number
    supporters: int
    money_left: float
    funded_later: bool = False


@dataclass(frozen=True)
class Outcome:
    """The funded projects in selection order, their total cost and the explanation."""

    rule: str
    sat: str
    tie_break: str
    seed: int | None
    budget: Number
    selected: tuple[str, ...]
    total_cost: Number
    steps: tuple[Step, ...] = ()
    shortfalls: tuple[Shortfall, ...] = ()
    excluded: tuple[str, ...] = ()
    voter_budget: Number | None = None
    passes: int = 0
    exact_passes: int = 0


class TallyError(ValueError):
    """Inputs the tally cannot work with (unknown rule, bad ballot, negative cost...)."""


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
    budget = _exact(budget, "budget")
    excluded = tuple(excluded)
    election = _Election(projects, ballots, ballot_type, weights)
    if tie_break == "city" and seed is None:
        seed = 0
    rank = election.tie_ranks(tie_break, seed)
    out = set(election.index_of(pid) for pid in excluded)
    if rule == "greedy-threshold":
        out |= {p for p in range(election.m) if election.score[p] < threshold}
    run = _Run(election, budget, rank, out)
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
        increase = rule.startswith("equal-shares-increase")
        add1 = rule.startswith("equal-shares-add1")
        run.equal_shares(
            sat,
            increment=_exact(voter_budget_increment, "voter_budget_increment") if add1 else None,
            budget_step=(
                Fraction(budget, 100) if budget_step is None else _exact(budget_step, "budget_step")
            )
            if increase
            else None,
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


def explain(outcome: Outcome, names: Mapping[str, str] | None = None) -> list[str]:
    """The outcome in plain English sentences, one per step (for the CLI): projects as "id (name)"."""
    names = names or {}

    def label(pid: str) -> str:
        return f"{pid} ({names[pid]})" if pid in names else pid

    return [fill_step(message, params, label) for message, params in explanation_steps(outcome)]


def fill_step(
    message: str, params: Mapping[str, object], label: Callable[[str], str]
) -> str:
    """One step's sentence with its projects named by ``label`` (``message`` may be a translation)."""
    values = dict(params)
    if "project" in values:
        values["project"] = label(str(values["project"]))
    if "projects" in values:
        values["projects"] = ", ".join(label(str(p)) for p in values["projects"])  # type: ignore[attr-defined]
    return message % values


def explanation_steps(outcome: Outcome) -> list[tuple[str, dict[str, object]]]:
    """The outcome step by step as (English message, values): the messages are catalog ids, so a page
    translates them; projects are ids under ``project`` / ``projects``, named by whoever shows them."""
    steps: list[tuple[str, dict[str, object]]] = []
    rules = {"rule": outcome.rule, "sat": outcome.sat, "tie_break": outcome.tie_break, "budget": _show(outcome.budget)}
    if outcome.seed is not None:
        steps.append(
            (
                "Rule %(rule)s, satisfaction %(sat)s, ties broken by %(tie_break)s (seed %(seed)s); budget %(budget)s.",
                {**rules, "seed": outcome.seed},
            )
        )
    else:
        steps.append(("Rule %(rule)s, satisfaction %(sat)s, ties broken by %(tie_break)s; budget %(budget)s.", rules))
    if outcome.excluded:
        steps.append(("Left out before counting: %(projects)s.", {"projects": list(outcome.excluded)}))
    if outcome.voter_budget is not None:
        steps.append(
            (
                "Equal Shares gave each voter %(share)s to spend (%(passes)s pass)."
                if outcome.passes == 1
                else "Equal Shares gave each voter %(share)s to spend (%(passes)s passes).",
                {"share": _show(outcome.voter_budget), "passes": outcome.passes},
            )
        )
    for s in outcome.steps:
        values: dict[str, object] = {
            "project": s.project_id,
            "cost": _show(s.cost),
            "score": _show(s.score),
            "left": _show(s.remaining_budget),
        }
        if s.reason == "free":
            steps.append(("%(project)s costs nothing and has supporters: funded first.", values))
        elif s.reason == "bought":
            values.update(
                round=s.round,
                supporters=s.supporters,
                price=_show(s.price_per_supporter),
                paid_all=s.supporters_paid_all,
            )
            steps.append(
                (
                    "Round %(round)s: %(project)s funded for %(cost)s; each of its %(supporters)s supporters"
                    " paid at most %(price)s (%(paid_all)s gave all they had left)."
                    if s.supporters_paid_all
                    else "Round %(round)s: %(project)s funded for %(cost)s; each of its %(supporters)s supporters"
                    " paid at most %(price)s.",
                    values,
                )
            )
        elif s.reason == "fits":
            steps.append(("%(project)s (score %(score)s) costs %(cost)s and fits: funded, %(left)s left.", values))
        elif s.reason == "does-not-fit":
            steps.append(
                ("%(project)s (score %(score)s) costs %(cost)s, more than the %(left)s left: skipped.", values)
            )
        elif s.reason == "stopped":
            steps.append(
                (
                    "%(project)s (score %(score)s) does not fit in the %(left)s left:"
                    " counting stops here (no skipping).",
                    values,
                )
            )
    for f in outcome.shortfalls:
        values = {
            "project": f.project_id,
            "supporters": f.supporters,
            "left": _show(f.money_left),
            "cost": _show(f.cost),
        }
        steps.append(
            (
                "%(project)s not funded by Equal Shares: its %(supporters)s supporters had %(left)s left,"
                " it costs %(cost)s (funded afterwards by the greedy completion)."
                if f.funded_later
                else "%(project)s not funded by Equal Shares: its %(supporters)s supporters had %(left)s left,"
                " it costs %(cost)s.",
                values,
            )
        )
    steps.append(
        (
            "Funded %(count)s projects for %(total)s of %(budget)s.",
            {"count": len(outcome.selected), "total": _show(outcome.total_cost), "budget": _show(outcome.budget)},
        )
    )
    return steps


def _show(value: Number | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (isinstance(value, Fraction) and value.denominator == 1):
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def _exact(value: object, what: str) -> Number:
    """An exact amount: ints (numpy ints too) and Fractions; floats and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Rational):
        raise TallyError(f"{what} must be an int or a Fraction, not {type(value).__name__}")
    if value < 0:
        raise TallyError(f"{what} must not be negative")
    if isinstance(value, numbers.Integral):
        return int(value)
    return value if isinstance(value, Fraction) else Fraction(value)


class _Election:
    """Projects and ballots indexed for counting; identical ballots are grouped."""

    def __init__(
        self,
        projects: Sequence[Project],
        ballots: Sequence[Ballot],
        ballot_type: BallotType,
        weights: Sequence[int] | None,
    ) -> None:
        self.ids = [p.id for p in projects]
        self.costs = [_exact(p.cost, f"cost of project {p.id}") for p in projects]
        self.m = len(projects)
        self.pos = {pid: i for i, pid in enumerate(self.ids)}
        if len(self.pos) != self.m:
            raise TallyError("two projects share an id")
        self.ballot_type = ballot_type
        if weights is not None and len(weights) != len(ballots):
            raise TallyError("weights and ballots differ in length")
        if weights is not None:
            for i, weight in enumerate(weights):
                if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                    raise TallyError(f"ballot {i}: weight must be a whole number >= 0")
        groups: dict[tuple, int] = {}
        if ballot_type == "approval":
            # Fast path: group the raw ballots first, then translate each distinct one.
            raw: dict[frozenset, int] = {}
            get = raw.get
            for i, ballot in enumerate(ballots):
                if type(ballot) is not frozenset:
                    if isinstance(ballot, str | Mapping) or not isinstance(ballot, Collection):
                        raise TallyError(f"ballot {i}: an approval ballot is a collection of ids")
                    ballot = frozenset(ballot)
                raw[ballot] = get(ballot, 0) + (1 if weights is None else weights[i])
            known = self.pos.keys()
            for ballot in raw:
                if not known >= ballot:
                    unknown = ballot - known
                    first = next(i for i, b in enumerate(ballots) if frozenset(b) & unknown)
                    raise TallyError(f"ballot {first}: unknown project {min(unknown)!r}")
            # A frozenset of ids is already a canonical key: no need to sort.
            groups = raw
        else:
            for i, ballot in enumerate(ballots):
                key = self._key(ballot, i)
                groups[key] = groups.get(key, 0) + (1 if weights is None else weights[i])
        self.groups = list(groups)
        self.weight = np.array([groups[k] for k in self.groups], dtype=np.int64)
        self.n = int(self.weight.sum())
        # Incidences: for each project, the groups listing it and what they gave it.
        sizes = np.fromiter(map(len, self.groups), dtype=np.int64, count=len(self.groups))
        owner = np.repeat(np.arange(len(self.groups), dtype=np.int64), sizes)
        if ballot_type == "approval":
            flat = np.fromiter(
                map(self.pos.__getitem__, chain.from_iterable(self.groups)),
                dtype=np.int64,
                count=int(sizes.sum()),
            )
            extra_flat: list = []
        elif ballot_type == "cumulative":
            pairs = list(chain.from_iterable(self.groups))
            flat = np.array([p for p, _ in pairs], dtype=np.int64)
            extra_flat = [pts for _, pts in pairs]
        else:
            flat = np.fromiter(
                chain.from_iterable(self.groups), dtype=np.int64, count=int(sizes.sum())
            )
            extra_flat = [
                len(key) - position for key in self.groups for position in range(len(key))
            ]
        order = np.argsort(flat, kind="stable")
        bounds = np.zeros(self.m + 1, dtype=np.int64)
        bounds[1:] = np.cumsum(np.bincount(flat, minlength=self.m))
        grouped = owner[order]
        self.members = [grouped[bounds[p] : bounds[p + 1]] for p in range(self.m)]
        if extra_flat:
            ordered = [extra_flat[i] for i in order.tolist()]
            extra = [ordered[bounds[p] : bounds[p + 1]] for p in range(self.m)]
        else:
            extra = [[] for _ in range(self.m)]
        self.extra = extra
        self.votes = [int(self.weight[mm].sum()) for mm in self.members]
        if ballot_type == "approval":
            self.score: list[Number] = list(self.votes)
        else:
            self.score = [
                sum(int(w) * x for w, x in zip(self.weight[mm], ex, strict=True))
                for mm, ex in zip(self.members, extra, strict=True)
            ]
        self._sat_cache: dict[str, list[tuple[np.ndarray, list[Number]]]] = {}

    def _key(self, ballot: Ballot, i: int) -> tuple:
        try:
            if self.ballot_type == "cumulative":
                if not isinstance(ballot, Mapping):
                    raise TallyError(f"ballot {i}: a cumulative ballot maps ids to points")
                items = []
                for pid, pts in ballot.items():
                    items.append((self.pos[pid], _exact(pts, f"ballot {i}: points")))
                return tuple(sorted(items))
            if isinstance(ballot, str | Mapping | set | frozenset):
                raise TallyError(f"ballot {i}: an ordinal ballot is a sequence of ids, best first")
            order = [self.pos[pid] for pid in ballot]
            if len(set(order)) != len(order):
                raise TallyError(f"ballot {i}: a project is ranked twice")
            return tuple(order)
        except KeyError as exc:
            raise TallyError(f"ballot {i}: unknown project {exc.args[0]!r}") from None

    def index_of(self, pid: str) -> int:
        try:
            return self.pos[pid]
        except KeyError:
            raise TallyError(f"unknown project {pid!r}") from None

    def tie_ranks(self, tie_break: str, seed: int | None) -> list[int]:
        """Rank of each project in the tie-breaking order (lower wins a tie)."""
        if tie_break == "pabutools":
            keys: list = list(self.ids)
        else:
            lot = sorted(self.ids)
            random.Random(seed).shuffle(lot)
            drawn = {pid: i for i, pid in enumerate(lot)}
            keys = [(self.costs[p], -self.votes[p], drawn[self.ids[p]]) for p in range(self.m)]
        order = sorted(range(self.m), key=lambda p: keys[p])
        rank = [0] * self.m
        for r, p in enumerate(order):
            rank[p] = r
        return rank

    def utilities(self, sat: str) -> list[tuple[np.ndarray, list[Number]]]:
        """For each project: supporting groups (utility > 0) and their utilities."""
        if sat in self._sat_cache:
            return self._sat_cache[sat]
        result = []
        for p in range(self.m):
            members, extra, cost = self.members[p], self.extra[p], self.costs[p]
            if sat == "cost":
                utils: list[Number] = [cost] * len(members)
            elif sat == "cardinality":
                utils = [1] * len(members)
            elif sat == "points":
                utils = list(extra)
            elif sat in ("points-cost", "rank-points-cost"):
                utils = [x * cost for x in extra]
            else:  # borda: L - position - 1
                utils = [x - 1 for x in extra]
            keep = [i for i, u in enumerate(utils) if u > 0]
            if len(keep) != len(utils):
                members = members[keep]
                utils = [utils[i] for i in keep]
            result.append((members, utils))
        self._sat_cache[sat] = result
        return result

    def sat_totals(self, sat: str) -> list[Number]:
        """Total satisfaction of each project over all voters (what greedy ranks by)."""
        totals = []
        for members, utils in self.utilities(sat):
            if not utils:
                totals.append(0)
            elif utils.count(utils[0]) == len(utils):
                totals.append(int(self.weight[members].sum()) * utils[0])
            else:
                totals.append(
                    sum(int(w) * u for w, u in zip(self.weight[members], utils, strict=True))
                )
        return totals


class _Uncertain(Exception):
    """A float decision was too close to call: redo the pass exactly."""


class _Infeasible(Exception):
    """The pass spent more than the real budget (add1 / increase stop condition)."""


@dataclass
class _Pass:
    """One Equal Shares pass; float passes fill rounds and money_left on demand."""

    selected: list[int]
    # (project, rho, largest payment, supporters, voters who paid all they had) per round
    rounds_: list[tuple[int, float, float, int, int]] | None
    money_left_: dict[int, float] | None
    spent: Number
    trace: tuple[np.ndarray, np.ndarray] | None = None  # kernel record, for certificates
    budgets: tuple[_MesData, np.ndarray] | None = None

    @property
    def rounds(self) -> list[tuple[int, float, float, int, int]]:
        if self.rounds_ is None:
            data, (sel, rec) = self.budgets[0], self.trace
            self.rounds_ = [
                (data.candidates[i], float(r[0]), float(r[3]), data.supporters[i], int(round(r[4])))
                for i, r in zip(sel, rec, strict=True)
            ]
        return self.rounds_

    @property
    def money_left(self) -> dict[int, float]:
        if self.money_left_ is None:
            data, val = self.budgets
            k = len(data.candidates)
            money = np.bincount(data.owner, weights=data.w * val[data.grp], minlength=k)
            chosen = set(self.trace[0].tolist())
            self.money_left_ = {
                data.candidates[i]: float(money[i]) for i in range(k) if i not in chosen
            }
        return self.money_left_


class _MesData:
    """Per-satisfaction arrays for Equal Shares: one entry per candidate project."""

    def __init__(
        self, election: _Election, sat: str, candidates: list[int], rank: list[int]
    ) -> None:
        utilities = election.utilities(sat)
        self.election = election
        self.candidates = candidates
        weight_f = election.weight.astype(np.float64)
        self.groups, self.wf, self.uidx, self.uvals, self.uvalsf = [], [], [], [], []
        self.cost, self.costf, self.init_rho, self.total_sat = [], [], [], []
        self.supporters: list[int] = []
        for p in candidates:
            members, utils = utilities[p]
            if utils.count(utils[0]) == len(utils):
                distinct, uidx = [utils[0]], np.zeros(len(utils), dtype=np.int64)
                total = int(election.weight[members].sum()) * utils[0]
            else:
                distinct = sorted(set(utils))
                where = {u: i for i, u in enumerate(distinct)}
                uidx = np.array([where[u] for u in utils], dtype=np.int64)
                total = sum(
                    int(w) * u for w, u in zip(election.weight[members], utils, strict=True)
                )
            self.groups.append(members)
            self.wf.append(weight_f[members])
            self.uidx.append(uidx)
            self.uvals.append(distinct)
            self.uvalsf.append(np.array([float(u) for u in distinct]))
            cost = election.costs[p]
            self.cost.append(cost)
            self.costf.append(float(cost))
            self.init_rho.append(Fraction(cost) / total)
            self.total_sat.append(total)
            self.supporters.append(int(election.weight[members].sum()))
        # Flat (CSR) arrays for the compiled kernel.
        k = len(candidates)
        sizes = np.array([len(g) for g in self.groups], dtype=np.int64)
        self.ptr = np.zeros(k + 1, dtype=np.int64)
        self.ptr[1:] = np.cumsum(sizes)
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        self.grp = np.concatenate(self.groups) if k else empty_i
        self.w = np.concatenate(self.wf) if k else empty_f
        self.u = (
            np.concatenate([vals[idx] for vals, idx in zip(self.uvalsf, self.uidx, strict=True)])
            if k
            else empty_f
        )
        self.wu = self.w * self.u
        self.owner = np.repeat(np.arange(k), sizes)
        # Which candidates share a supporter: buying one can change the other's price.
        incidence = sparse.csr_matrix(
            (np.ones(len(self.grp)), (self.owner, self.grp)), shape=(k, len(election.groups))
        )
        self.overlap = (incidence @ incidence.T).toarray() > 0
        self.costs_f = np.array(self.costf, dtype=np.float64)
        self.total_u = np.bincount(self.owner, weights=self.wu, minlength=k) if k else empty_f
        self.rank = np.array([rank[p] for p in candidates], dtype=np.int64)
        self.uniform = np.array([len(v) == 1 for v in self.uvals], dtype=np.bool_)
        self.init_lower = np.array([float(r) for r in self.init_rho]) * (1 - _ERR)
        # Rank of each project's exact all-rich price (cost / total satisfaction), ties by
        # the tie-break: settles exact ties inside the kernel without fractions.
        by_price = sorted(range(k), key=lambda i: (self.init_rho[i], rank[candidates[i]]))
        self.exact_order = np.empty(k, dtype=np.int64)
        self.exact_order[by_price] = np.arange(k)


class _Run:
    """State of one rule run: selection so far, spending, explanation."""

    def __init__(self, election: _Election, budget: Number, rank: list[int], out: set[int]) -> None:
        self.e = election
        self.budget = budget
        self.rank = rank
        self.out = out
        self.available = [p for p in range(election.m) if p not in out]
        self.selected: list[int] = []
        self.chosen: set[int] = set()
        self.spent: Number = 0
        self.steps: list[Step] = []
        self.shortfalls: list[Shortfall] = []
        self.voter_budget: Number | None = None
        self.passes = 0
        self.exact_passes = 0
        self.certifications = 0

    def ids_selected(self) -> set[str]:
        return {self.e.ids[p] for p in self.selected}

    def exhaustive(self, pool: Iterable[int], selected: Iterable[int] | None = None) -> bool:
        """No project of ``pool`` outside the selection still fits in the budget."""
        chosen = self.chosen if selected is None else set(selected)
        spent = sum(self.e.costs[p] for p in chosen)
        return all(p in chosen or spent + self.e.costs[p] > self.budget for p in pool)

    def _take(self, p: int) -> None:
        self.selected.append(p)
        self.chosen.add(p)
        self.spent += self.e.costs[p]

    # ---- greedy -------------------------------------------------------------------------
    def greedy(self, totals: list[Number], no_skip: bool = False) -> None:
        """Fund projects by satisfaction per unit of cost, skipping (or stopping at) misfits."""
        costs, remaining = self.e.costs, self.budget - self.spent

        def order(p: int) -> tuple:
            if totals[p] > 0 and costs[p] == 0:
                return (0, 0, self.rank[p])
            density = Fraction(totals[p]) / costs[p] if totals[p] > 0 else Fraction(0)
            return (1, -density, self.rank[p])

        stopped = False
        for p in sorted((p for p in self.available if p not in self.chosen), key=order):
            score = totals[p] if costs[p] == 0 else Fraction(totals[p]) / costs[p]
            score = int(score) if isinstance(score, Fraction) and score.denominator == 1 else score
            if stopped:
                self.steps.append(
                    Step(
                        self.e.ids[p],
                        costs[p],
                        False,
                        "greedy",
                        "stopped",
                        remaining_budget=remaining,
                        score=score,
                    )
                )
            elif costs[p] <= remaining:
                remaining -= costs[p]
                self._take(p)
                self.steps.append(
                    Step(
                        self.e.ids[p],
                        costs[p],
                        True,
                        "greedy",
                        "fits",
                        remaining_budget=remaining,
                        score=score,
                    )
                )
            else:
                self.steps.append(
                    Step(
                        self.e.ids[p],
                        costs[p],
                        False,
                        "greedy",
                        "stopped" if no_skip else "does-not-fit",
                        remaining_budget=remaining,
                        score=score,
                    )
                )
                stopped = no_skip

    # ---- Method of Equal Shares -----------------------------------------------------------
    def equal_shares(
        self, sat: str, increment: Number | None, budget_step: Number | None, exact: bool
    ) -> None:
        """MES, optionally with add1 (per-voter budget) or budget-increase completion."""
        e = self.e
        if e.n == 0:
            return
        utilities = e.utilities(sat)
        free, candidates = [], []
        for p in self.available:
            if not utilities[p][1]:
                continue
            (candidates if e.costs[p] > 0 else free).append(p)
        for p in sorted(free, key=lambda p: self.rank[p]):
            self._take(p)
            self.steps.append(Step(e.ids[p], 0, True, "zero-cost", "free", supporters=e.votes[p]))
        data = _MesData(e, sat, candidates, self.rank)
        base_spent = self.spent

        def run_pass(per_voter: Fraction, limit: Number | None, near: _Pass | None = None) -> _Pass:
            self.passes += 1
            if not exact:
                hint = near.trace[0] if near is not None and near.trace is not None else None
                try:
                    result = _mes_pass_float(data, per_voter, base_spent, limit, hint=hint)
                    assert isinstance(result, _Pass)
                    return result
                except _Uncertain:
                    pass
            self.exact_passes += 1
            return _mes_pass_exact(data, per_voter, self.rank, base_spent, limit)

        def same_outcome_up_to(low: _Pass, per_voter: Fraction) -> bool:
            """Certify that every per-voter budget from low's up to per_voter buys the same."""
            if exact or low.trace is None:
                return False
            self.certifications += 1
            return _mes_pass_float(data, per_voter, base_spent, None, low.trace) is True

        per_voter = Fraction(self.budget) / e.n
        if budget_step is not None:
            # pabutools' exhaustion_by_budget_increase: raise the whole budget by budget_step
            # until the outcome is exhaustive or would overspend the real budget.
            total, bound = Fraction(self.budget), Fraction(self.budget) * (e.n + 1)
            result = _Pass([], [], {}, self.spent)
            while total <= bound:
                try:
                    nxt = run_pass(total / e.n, self.budget)
                except _Infeasible:
                    break
                result, per_voter = nxt, total / e.n
                if self.exhaustive(self.available, list(self.chosen) + nxt.selected):
                    break
                total += budget_step
        else:
            result = run_pass(per_voter, None)
            # add1: raise the per-voter budget until the outcome is exhaustive (among the
            # projects Equal Shares could buy) or the next outcome would overspend. Rather
            # than recompute every step, certify whole stretches of budgets at once: along
            # one sequence of purchases budgets only grow and prices only fall with the
            # per-voter budget, so if at the top of a stretch every other project is still
            # dearer than the price the winner needed at the bottom (and the leftovers still
            # unaffordable), every budget in between buys exactly the same (_mes_pass_float).
            stride, pause, wait = 2, 1, 0
            while increment is not None and not self.exhaustive(
                candidates, list(self.chosen) + result.selected
            ):
                same = 0  # steps above per_voter known to give the same outcome
                jump = stride if wait == 0 else 0
                while jump >= 2:
                    if same_outcome_up_to(result, per_voter + jump * increment):
                        same = jump
                        break
                    jump //= 2
                # Gallop while certificates succeed; after failures, wait longer and longer
                # before trying again (each try costs about one pass).
                if wait:
                    wait -= 1
                elif same:
                    stride, pause = same * 2, 1
                else:
                    stride, wait, pause = 2, pause, min(pause * 2, 64)
                following = per_voter + (same + 1) * increment
                try:
                    nxt = run_pass(following, self.budget, result)
                except _Infeasible:
                    if same:
                        # pabutools stops one step before: same outcome, recomputed there
                        # so that the explanation shows that pass's prices.
                        per_voter += same * increment
                        result = run_pass(per_voter, self.budget, result)
                    break
                per_voter, result = following, nxt
        self.voter_budget = per_voter.numerator if per_voter.denominator == 1 else per_voter
        for r, (p, _rho, price, supporters, paid_all) in enumerate(result.rounds, start=1):
            self._take(p)
            self.steps.append(
                Step(
                    e.ids[p],
                    e.costs[p],
                    True,
                    "equal-shares",
                    "bought",
                    round=r,
                    price_per_supporter=price,
                    supporters=supporters,
                    supporters_paid_all=paid_all,
                )
            )
        for p in candidates:
            if p not in self.chosen:
                self.shortfalls.append(
                    Shortfall(e.ids[p], e.costs[p], e.votes[p], result.money_left.get(p, 0.0))
                )


def _mes_pass_float(
    data: _MesData,
    per_voter: Fraction,
    spent: Number,
    limit: Number | None,
    forced: tuple[np.ndarray, np.ndarray] | None = None,
    hint: np.ndarray | None = None,
) -> _Pass | bool:
    """One MES pass in float64 (compiled); raises _Uncertain when a decision is too close.

    With ``forced`` (the trace of a pass at a lower per-voter budget b1), buy the same
    projects in the same order and return whether that outcome provably holds for every
    per-voter budget from b1 up to this one: along one sequence of purchases, budgets only
    grow and prices only fall as the per-voter budget grows, so it holds if here every other
    project still costs more per unit of utility than the winner did at b1, and the projects
    left over stay unaffordable.
    """
    e = data.election
    k = len(data.candidates)
    b = float(per_voter)
    val = np.full(len(e.groups), b)
    lower = data.init_lower.copy()
    alive = np.ones(k, dtype=np.bool_)
    sel = np.empty(k, dtype=np.int64)
    rec = np.empty((k, 5))
    forced_sel, forced_rec = forced if forced is not None else (sel[:0], rec[:0])
    status, n = mes_rounds(
        data.ptr,
        data.grp,
        data.w,
        data.u,
        data.wu,
        data.costs_f,
        data.total_u,
        data.rank,
        data.exact_order,
        data.overlap,
        val,
        lower,
        alive,
        b * e.n,
        _ERR,
        forced_sel,
        forced_rec,
        len(forced_sel) if forced is not None else -1,
        sel,
        rec,
        data.uniform,
        hint if hint is not None else sel[:0],
    )
    if forced is not None:
        return status == CERTIFIED
    if status == UNCERTAIN:
        raise _Uncertain
    sel, rec = sel[:n].copy(), rec[:n].copy()
    spent = spent + sum(data.cost[i] for i in sel)
    if limit is not None and spent > limit:
        raise _Infeasible
    return _Pass([data.candidates[i] for i in sel], None, None, spent, (sel, rec), (data, val))


def _mes_pass_exact(
    data: _MesData, per_voter: Fraction, rank: list[int], spent: Number, limit: Number | None
) -> _Pass:
    """One MES pass with exact fractions, step for step as pabutools' mes_inner_algo."""
    e = data.election
    k = len(data.candidates)
    cls = np.zeros(len(e.groups), dtype=np.int64)
    vals: list[Fraction] = [per_voter]
    val_id: dict[Fraction, int] = {per_voter: 0}
    lower: list[Fraction] = list(data.init_rho)
    alive = set(range(k))
    rounds, selected = [], []

    def aggregate(i: int) -> list[tuple[Fraction, Number, int, int]]:
        groups, nu = data.groups[i], len(data.uvals[i])
        key = cls[groups] * nu + data.uidx[i]
        uk, inv = np.unique(key, return_inverse=True)
        wsum = np.bincount(inv, weights=data.wf[i], minlength=len(uk))
        return [
            (vals[int(c) // nu], data.uvals[i][int(c) % nu], int(round(w)), j)
            for j, (c, w) in enumerate(zip(uk, wsum, strict=True))
        ]

    def affordability(i: int, items) -> Fraction | None:
        cost = data.cost[i]
        contribution = 0
        denominator = sum(w * u for _, u, w, _ in items)
        for v, u, w, _ in sorted(items, key=lambda t: t[0] / t[1]):
            rho = Fraction(cost - contribution, 1) / denominator
            if rho * u <= v:
                return rho
            contribution += w * v
            denominator -= w * u
        return None

    while alive:
        if limit is not None and spent > limit:
            raise _Infeasible
        best: Fraction | None = None
        tied: list[int] = []
        cache = {}
        for i in sorted(alive, key=lambda i: (lower[i], rank[data.candidates[i]])):
            items = aggregate(i)
            if sum(w * v for v, _, w, _ in items) < data.cost[i]:
                alive.discard(i)
                continue
            if best is not None and lower[i] > best:
                break
            rho = affordability(i, items)
            lower[i] = rho
            cache[i] = items
            if best is None or rho < best:
                best, tied = rho, [i]
            elif rho == best:
                tied.append(i)
        if best is None:
            break
        i = min(tied, key=lambda t: rank[data.candidates[t]])
        groups, nu = data.groups[i], len(data.uvals[i])
        key = cls[groups] * nu + data.uidx[i]
        uk, inv = np.unique(key, return_inverse=True)
        mapping = np.empty(len(uk), dtype=np.int64)
        max_pay, paid_all = Fraction(0), 0
        for v, u, w, j in cache[i]:
            pay = min(v, best * u)
            max_pay = max(max_pay, pay)
            if pay == v:
                paid_all += w
            new = v - pay
            if new not in val_id:
                val_id[new] = len(vals)
                vals.append(new)
            mapping[j] = val_id[new]
        cls[groups] = mapping[inv]
        rounds.append(
            (data.candidates[i], float(best), float(max_pay), data.supporters[i], paid_all)
        )
        selected.append(data.candidates[i])
        spent += data.cost[i]
        alive.discard(i)
    if limit is not None and spent > limit:
        raise _Infeasible
    valf = np.array([float(v) for v in vals])
    money_left = {}
    for i in range(k):
        if data.candidates[i] not in selected:
            money_left[data.candidates[i]] = float(data.wf[i] @ valf[cls[data.groups[i]]])
    return _Pass(selected, rounds, money_left, spent)
