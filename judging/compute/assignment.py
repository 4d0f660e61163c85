"""Assign judges to AI 50 Challenge entries (pure: plain data in, plain data out).

Rules: every entry gets ``reviews_per_entry`` distinct judges (default 3); judges' loads differ by
at most one; a conflict of interest is a hard block; a judge whose expertise covers the entry's
category is preferred; and the judge-entry graph is connected, so the additive calibration model
can put every judge's offset on one scale.

Algorithm (see docs/judging.md and ``assignment_solver.py``): a transportation problem solved as a
linear program, whose optimum is integral, then load-preserving swaps that join the judge-entry
graph into one piece.

Identifiers may be any sortable, hashable values (strings or integers); pairs are always
``(judge_id, entry_id)``, as in HotCRP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from judging.compute.assignment_solver import Problem, components, connect, solve

DEFAULT_REVIEWS_PER_ENTRY = 3
# A judge's bid on an entry, as a cost next to the expertise mismatch (1000): the bid decides first
# (each step between levels costs more than a mismatch), category expertise breaks ties within a
# level, and "not qualified" is avoided unless nothing else is feasible. Without any bids the costs
# are exactly those of expertise alone.
BID_LEVELS = ("eager", "willing", "not-qualified")
NO_BID = "none"
BID_COSTS = {"eager": 0.0, "willing": 1500.0, NO_BID: 3000.0, "not-qualified": 1_000_000.0}
Bids = Mapping[tuple[Hashable, Hashable], str]


class AssignmentInfeasible(ValueError):
    """No assignment meets the rules; the message says which rule and for whom."""


@dataclass(frozen=True)
class Judge:
    """A judge and the categories they know well."""

    judge_id: Hashable
    expertise: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Entry:
    """An entry to review and its category."""

    entry_id: Hashable
    category: str | None = None


@dataclass(frozen=True)
class Assignment:
    """The judge-entry pairs and figures an official checks."""

    pairs: tuple[tuple[Hashable, Hashable], ...]
    loads: dict[Hashable, int]
    expert_matches: int
    components: int
    # How many pairs got each bid level (BID_LEVELS and NO_BID), and the "not qualified" pairs
    # that could not be avoided (reported to officials).
    bid_counts: dict[str, int] = field(default_factory=dict)
    unqualified: tuple[tuple[Hashable, Hashable], ...] = ()

    def entries_of(self, judge_id: Hashable) -> list[Hashable]:
        """Entries assigned to one judge."""
        return [e for j, e in self.pairs if j == judge_id]

    def judges_of(self, entry_id: Hashable) -> list[Hashable]:
        """Judges assigned to one entry."""
        return [j for j, e in self.pairs if e == entry_id]


def _build_problem(
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]],
    fixed: Iterable[tuple[Hashable, Hashable]],
    bids: Bids | None = None,
) -> Problem:
    entry_list = sorted(entries, key=lambda e: e.entry_id)
    judge_list = sorted(judges, key=lambda j: j.judge_id)
    if not entry_list:
        raise AssignmentInfeasible("there are no entries to assign")
    if not judge_list:
        raise AssignmentInfeasible("there are no judges in the pool")
    for kind, ids in (
        ("entry", [e.entry_id for e in entry_list]),
        ("judge", [j.judge_id for j in judge_list]),
    ):
        twice = [i for i, n in Counter(ids).items() if n > 1]
        if twice:
            raise AssignmentInfeasible(f"{kind} {twice[0]} is listed twice")
    e_index = {e.entry_id: i for i, e in enumerate(entry_list)}
    j_index = {j.judge_id: i for i, j in enumerate(judge_list)}
    allowed = np.ones((len(entry_list), len(judge_list)), dtype=bool)
    for judge_id, entry_id in conflicts:
        # Conflicts about entries or judges outside this round are irrelevant here.
        if judge_id in j_index and entry_id in e_index:
            allowed[e_index[entry_id], j_index[judge_id]] = False
    categories = [e.category for e in entry_list]
    expert = np.array(
        [[c is not None and c in j.expertise for j in judge_list] for c in categories], dtype=bool
    ).reshape(len(entry_list), len(judge_list))
    fixed_matrix = np.zeros_like(allowed)
    for judge_id, entry_id in fixed:
        if judge_id not in j_index:
            raise AssignmentInfeasible(f"fixed assignment names unknown judge {judge_id}")
        if entry_id not in e_index:
            raise AssignmentInfeasible(f"fixed assignment names unknown entry {entry_id}")
        e, j = e_index[entry_id], j_index[judge_id]
        if not allowed[e, j]:
            raise AssignmentInfeasible(
                f"fixed assignment of judge {judge_id} to entry {entry_id} is a conflict of interest"
            )
        fixed_matrix[e, j] = True
    return Problem(
        entry_list, judge_list, allowed, expert, fixed_matrix, _preference(bids, e_index, j_index)
    )


def _preference(
    bids: Bids | None, e_index: dict[Hashable, int], j_index: dict[Hashable, int]
) -> np.ndarray | None:
    """The bids as a cost matrix (entries x judges); None when nobody bid."""
    if not bids:
        return None
    matrix = np.full((len(e_index), len(j_index)), BID_COSTS[NO_BID])
    for (judge_id, entry_id), level in bids.items():
        if level not in BID_LEVELS:
            raise AssignmentInfeasible(f"unknown bid level {level!r} of judge {judge_id}")
        if judge_id in j_index and entry_id in e_index:
            matrix[e_index[entry_id], j_index[judge_id]] = BID_COSTS[level]
    return matrix


def bid_report(
    pairs: Iterable[tuple[Hashable, Hashable]], bids: Bids | None
) -> tuple[dict[str, int], tuple[tuple[Hashable, Hashable], ...]]:
    """How many (judge, entry) pairs got each bid level, and the "not qualified" pairs."""
    counts = dict.fromkeys((*BID_LEVELS, NO_BID), 0)
    unqualified = []
    for pair in pairs:
        level = (bids or {}).get(pair, NO_BID)
        counts[level] += 1
        if level == "not-qualified":
            unqualified.append(pair)
    return counts, tuple(sorted(unqualified))


def assign_judges(
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]] = (),
    reviews_per_entry: int = DEFAULT_REVIEWS_PER_ENTRY,
    fixed: Iterable[tuple[Hashable, Hashable]] = (),
    seed: int = 0,
    require_connected: bool = True,
    bids: Bids | None = None,
) -> Assignment:
    """Assign ``reviews_per_entry`` judges to every entry with balanced loads.

    ``conflicts`` and ``fixed`` are ``(judge_id, entry_id)`` pairs; fixed pairs (an official's
    manual choices) are kept and count towards loads. ``bids`` maps ``(judge_id, entry_id)`` to a
    level of ``BID_LEVELS``: eager pairs are preferred, "not qualified" pairs are used only when no
    balanced, conflict-free assignment avoids them (``Assignment.unqualified`` lists them). Raises
    ``AssignmentInfeasible`` when the pool is too small or too conflicted, naming the entries or
    judges concerned.
    """
    if reviews_per_entry < 1:
        raise AssignmentInfeasible("each entry needs at least one judge")
    problem = _build_problem(entries, judges, conflicts, fixed, bids)
    n_entries, n_judges = problem.allowed.shape
    r = reviews_per_entry
    if n_judges < r:
        raise AssignmentInfeasible(f"each entry needs {r} judges but the pool has only {n_judges}")
    fixed_per_entry = problem.fixed.sum(axis=1)
    over = np.flatnonzero(fixed_per_entry > r)
    if len(over):
        raise AssignmentInfeasible(
            f"entry {problem.entry_ids[over[0]]} already has {fixed_per_entry[over[0]]} fixed "
            f"judges, more than {r}"
        )
    total = n_entries * r
    low, high = total // n_judges, -(-total // n_judges)
    fixed_load = problem.fixed.sum(axis=0)
    overloaded = np.flatnonzero(fixed_load > high)
    if len(overloaded):
        j = overloaded[0]
        raise AssignmentInfeasible(
            f"judge {problem.judge_ids[j]} already has {fixed_load[j]} fixed entries; "
            f"balanced loads are {low}-{high}"
        )
    if high > low and int((fixed_load > low).sum()) > total - n_judges * low:
        raise AssignmentInfeasible(
            f"the fixed assignments give more judges a load above {low} than balanced loads allow"
        )
    need = r - fixed_per_entry
    _check_enough_judges(problem, need)
    new_low = np.maximum(low - fixed_load, 0)
    new_high = high - fixed_load
    chosen = solve(problem, need, new_low, new_high, seed)
    if chosen is None:
        raise AssignmentInfeasible(
            f"no assignment gives every entry {r} judges with loads between {low} and {high} "
            "under these conflicts; add judges or lower the number of judges per entry"
        )
    return _finish(problem, chosen | problem.fixed, seed, require_connected and r >= 2, bids)


def reassign_unfinished(
    pairs: Iterable[tuple[Hashable, Hashable]],
    lagging_judge: Hashable,
    finished: Iterable[Hashable],
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]] = (),
    seed: int = 0,
    require_connected: bool = True,
    bids: Bids | None = None,
) -> Assignment:
    """Move a lagging judge's unfinished entries to other judges, keeping every other pair.

    The lagging judge keeps the entries in ``finished``. The freed reviews go to the judges with
    the lowest loads first (water-filling), raising the level only as far as conflicts force it.
    """
    pairs = list(pairs)
    finished_set = set(finished)
    judge_list = list(judges)
    if lagging_judge not in {j.judge_id for j in judge_list}:
        raise AssignmentInfeasible(f"judge {lagging_judge} is not in the pool")
    kept = [(j, e) for j, e in pairs if j != lagging_judge or e in finished_set]
    freed = [e for j, e in pairs if j == lagging_judge and e not in finished_set]
    problem = _build_problem(entries, judge_list, conflicts, kept, bids)
    if not freed:
        return _finish(problem, problem.fixed.copy(), seed, False, bids)
    e_index = {e: i for i, e in enumerate(problem.entry_ids)}
    lag = problem.judge_ids.index(lagging_judge)
    # The lagging judge takes nothing new: block them like a conflict for this solve.
    problem.allowed[:, lag] = False
    need = np.zeros(len(problem.entries), dtype=np.int64)
    for e in freed:
        need[e_index[e]] += 1
    _check_enough_judges(problem, need)
    load = problem.fixed.sum(axis=0)
    active = np.ones(len(problem.judges), dtype=bool)
    active[lag] = False
    level = int(load[active].min())
    while int(np.maximum(level - load[active], 0).sum()) < len(freed):
        level += 1
    for ceiling in range(level, int(load.max()) + len(freed) + 1):
        high = np.where(active, np.maximum(ceiling - load, 0), 0)
        chosen = solve(problem, need, np.zeros_like(high), high, seed)
        if chosen is not None:
            return _finish(problem, chosen | problem.fixed, seed, require_connected, bids)
    raise AssignmentInfeasible(
        f"the other judges cannot take judge {lagging_judge}'s unfinished entries without conflicts"
    )


def assignment_problems(
    pairs: Iterable[tuple[Hashable, Hashable]],
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]] = (),
    reviews_per_entry: int = DEFAULT_REVIEWS_PER_ENTRY,
) -> list[str]:
    """Check a hand-edited assignment against the rules; an empty list means it is sound."""
    entry_list = list(entries)
    judge_list = list(judges)
    pair_list = list(pairs)
    problems: list[str] = []
    conflict_set = set(conflicts)
    for judge_id, entry_id in pair_list:
        if (judge_id, entry_id) in conflict_set:
            problems.append(f"judge {judge_id} has a conflict with entry {entry_id}")
    doubled = [p for p, n in Counter(pair_list).items() if n > 1]
    problems += [f"judge {j} is assigned entry {e} twice" for j, e in doubled]
    per_entry = Counter(e for _, e in set(pair_list))
    for entry in entry_list:
        if per_entry[entry.entry_id] != reviews_per_entry:
            problems.append(
                f"entry {entry.entry_id} has {per_entry[entry.entry_id]} judges, "
                f"not {reviews_per_entry}"
            )
    loads = Counter(j for j, _ in set(pair_list))
    values = [loads[j.judge_id] for j in judge_list]
    if values and max(values) - min(values) > 1:
        problems.append(f"judge loads range from {min(values)} to {max(values)}")
    try:
        problem = _build_problem(entry_list, judge_list, (), set(pair_list))
    except AssignmentInfeasible as error:
        problems.append(str(error))
    else:
        if components(problem.fixed) > 1:
            problems.append("the judge-entry graph is not connected, so calibration is per piece")
    return problems


def _check_enough_judges(problem: Problem, need: np.ndarray) -> None:
    """Name the entries with fewer unconflicted judges than they need."""
    available = (problem.allowed & ~problem.fixed).sum(axis=1)
    short = np.flatnonzero(available < need)
    if len(short):
        i = short[0]
        others = ", ".join(str(problem.entry_ids[k]) for k in short[1:6])
        also = f" (also short: {others}{' and more' if len(short) > 6 else ''})" if others else ""
        raise AssignmentInfeasible(
            f"too few unconflicted judges: entry {problem.entry_ids[i]} needs {need[i]} more "
            f"but only {available[i]} are free{also}"
        )


def _finish(
    problem: Problem,
    assigned: np.ndarray,
    seed: int,
    require_connected: bool,
    bids: Bids | None = None,
) -> Assignment:
    """Repair connectivity if needed and package the result."""
    if components(assigned) > 1:
        assigned = connect(problem, assigned, seed)
    pieces = components(assigned)
    if require_connected and pieces > 1:
        raise AssignmentInfeasible(
            f"the judge-entry graph stays in {pieces} pieces (too few judges per entry, loads too "
            "small or too many conflicts), so scores could not be calibrated on one scale"
        )
    rows, cols = np.nonzero(assigned)
    entry_ids, judge_ids = problem.entry_ids, problem.judge_ids
    pairs = tuple(sorted((judge_ids[j], entry_ids[e]) for e, j in zip(rows, cols, strict=True)))
    loads = {judge_ids[j]: int(n) for j, n in enumerate(assigned.sum(axis=0))}
    counts, unqualified = bid_report(pairs, bids)
    return Assignment(
        pairs, loads, int((assigned & problem.expert).sum()), pieces, counts, unqualified
    )
