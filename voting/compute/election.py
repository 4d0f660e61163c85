"""An election as the tally sees it: its inputs and outputs, and its projects and ballots indexed for counting.

The types here are the engine's public ones; callers import them from voting.compute.tally.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from typing import Literal

import numpy as np

Number = int | Fraction
BallotType = Literal["approval", "cumulative", "ordinal"]
Ballot = Collection[str] | Mapping[str, Number] | Sequence[str]


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


def exact_amount(value: object, what: str) -> Number:
    """An exact amount: ints (numpy ints too) and Fractions; floats and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Rational):
        raise TallyError(f"{what} must be an int or a Fraction, not {type(value).__name__}")
    if value < 0:
        raise TallyError(f"{what} must not be negative")
    if isinstance(value, numbers.Integral):
        return int(value)
    return value if isinstance(value, Fraction) else Fraction(value)


def _check_weights(ballots: Sequence[Ballot], weights: Sequence[int] | None) -> None:
    if weights is None:
        return
    if len(weights) != len(ballots):
        raise TallyError("weights and ballots differ in length")
    for i, weight in enumerate(weights):
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise TallyError(f"ballot {i}: weight must be a whole number >= 0")


class Election:
    """Projects and ballots indexed for counting; identical ballots are grouped."""

    def __init__(
        self,
        projects: Sequence[Project],
        ballots: Sequence[Ballot],
        ballot_type: BallotType,
        weights: Sequence[int] | None,
    ) -> None:
        self.ids = [p.id for p in projects]
        self.costs = [exact_amount(p.cost, f"cost of project {p.id}") for p in projects]
        self.m = len(projects)
        self.pos = {pid: i for i, pid in enumerate(self.ids)}
        if len(self.pos) != self.m:
            raise TallyError("two projects share an id")
        self.ballot_type = ballot_type
        _check_weights(ballots, weights)
        if ballot_type == "approval":
            groups = self._approval_groups(ballots, weights)
        else:
            groups = self._ranked_or_scored_groups(ballots, weights)
        self.groups = list(groups)
        self.weight = np.array([groups[k] for k in self.groups], dtype=np.int64)
        self.n = int(self.weight.sum())
        self.members, self.extra = self._incidences()
        self.votes = [int(self.weight[mm].sum()) for mm in self.members]
        if ballot_type == "approval":
            self.score: list[Number] = list(self.votes)
        else:
            self.score = [
                sum(int(w) * x for w, x in zip(self.weight[mm], ex, strict=True))
                for mm, ex in zip(self.members, self.extra, strict=True)
            ]
        self._sat_cache: dict[str, list[tuple[np.ndarray, list[Number]]]] = {}

    def _approval_groups(
        self, ballots: Sequence[Ballot], weights: Sequence[int] | None
    ) -> dict[frozenset, int]:
        """Identical approval ballots counted once (fast path: group raw ballots, then check ids)."""
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
        return raw

    def _ranked_or_scored_groups(
        self, ballots: Sequence[Ballot], weights: Sequence[int] | None
    ) -> dict[tuple, int]:
        """Identical cumulative or ordinal ballots counted once, keyed by project positions."""
        groups: dict[tuple, int] = {}
        for i, ballot in enumerate(ballots):
            key = self._key(ballot, i)
            groups[key] = groups.get(key, 0) + (1 if weights is None else weights[i])
        return groups

    def _flat_incidences(self, sizes: np.ndarray) -> tuple[np.ndarray, list]:
        """Every (group, project) listing as the project's position, and what the group gave it."""
        if self.ballot_type == "approval":
            flat = np.fromiter(
                map(self.pos.__getitem__, chain.from_iterable(self.groups)),
                dtype=np.int64,
                count=int(sizes.sum()),
            )
            return flat, []
        if self.ballot_type == "cumulative":
            pairs = list(chain.from_iterable(self.groups))
            return np.array([p for p, _ in pairs], dtype=np.int64), [pts for _, pts in pairs]
        flat = np.fromiter(chain.from_iterable(self.groups), dtype=np.int64, count=int(sizes.sum()))
        positions = [len(key) - position for key in self.groups for position in range(len(key))]
        return flat, positions

    def _incidences(self) -> tuple[list[np.ndarray], list[list]]:
        """For each project, the groups listing it and what they gave it (points, positions)."""
        sizes = np.fromiter(map(len, self.groups), dtype=np.int64, count=len(self.groups))
        owner = np.repeat(np.arange(len(self.groups), dtype=np.int64), sizes)
        flat, extra_flat = self._flat_incidences(sizes)
        order = np.argsort(flat, kind="stable")
        bounds = np.zeros(self.m + 1, dtype=np.int64)
        bounds[1:] = np.cumsum(np.bincount(flat, minlength=self.m))
        grouped = owner[order]
        members = [grouped[bounds[p] : bounds[p + 1]] for p in range(self.m)]
        if not extra_flat:
            return members, [[] for _ in range(self.m)]
        ordered = [extra_flat[i] for i in order.tolist()]
        return members, [ordered[bounds[p] : bounds[p + 1]] for p in range(self.m)]

    def _key(self, ballot: Ballot, i: int) -> tuple:
        try:
            if self.ballot_type == "cumulative":
                if not isinstance(ballot, Mapping):
                    raise TallyError(f"ballot {i}: a cumulative ballot maps ids to points")
                items = []
                for pid, pts in ballot.items():
                    items.append((self.pos[pid], exact_amount(pts, f"ballot {i}: points")))
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
