"""Assign judges to AI 50 Challenge entries (pure: plain data in, plain data out).

Rules: every entry gets ``reviews_per_entry`` distinct judges (default 3); judges' loads differ by
at most one; a conflict of interest is a hard block; a judge whose expertise covers the entry's
category is preferred; and the judge-entry graph is connected, so the additive calibration model
can put every judge's offset on one scale.

Algorithm (see docs/judging.md): the balanced assignment is a transportation problem, i.e. a
min-cost flow source -> entry (R units) -> judge (1 unit per pair, cost 0 for an expert and 1 for
a non-expert, plus a tiny seeded jitter so equal choices are spread at random but reproducibly)
-> sink (between the floor and the ceiling of the mean load). Its constraint matrix is totally
unimodular, so the simplex optimum (HiGHS dual simplex via ``scipy.optimize.linprog``) is integral.
Expertise clusters can leave the graph in pieces; a repair step then swaps the cheapest pair of
assignments across two pieces ((e1, j1), (e2, j2) -> (e1, j2), (e2, j1)), which keeps every load and
every entry's count, until one piece remains.

Identifiers may be any sortable, hashable values (strings or integers); pairs are always
``(judge_id, entry_id)``, as in HotCRP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

DEFAULT_REVIEWS_PER_ENTRY = 3
# An expertise mismatch costs 1000; the jitter, below 1 per pair, only breaks ties. Both are
# large next to the solver's tolerance (1e-7), so the optimum is exact and, almost surely, unique.
_MISMATCH_COST = 1000.0
_SWAP_CANDIDATES = 300
# Non-expert pairs per entry in the first round of column generation.
_START_OTHERS = 6
# Left-out pairs within this reduced cost join in the next round (fewer rounds, small LPs).
_ENTERING_MARGIN = 0.01
_SWAP_TRIES = 200


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

    def entries_of(self, judge_id: Hashable) -> list[Hashable]:
        """Entries assigned to one judge."""
        return [e for j, e in self.pairs if j == judge_id]

    def judges_of(self, entry_id: Hashable) -> list[Hashable]:
        """Judges assigned to one entry."""
        return [j for j, e in self.pairs if e == entry_id]


@dataclass
class _Problem:
    """Indexed view of entries, judges, conflicts and already-fixed pairs."""

    entries: list[Entry]
    judges: list[Judge]
    allowed: np.ndarray  # (entries, judges) bool: not conflicted
    expert: np.ndarray  # (entries, judges) bool
    fixed: np.ndarray  # (entries, judges) bool: pairs that stay as they are

    @property
    def entry_ids(self) -> list[Hashable]:
        return [e.entry_id for e in self.entries]

    @property
    def judge_ids(self) -> list[Hashable]:
        return [j.judge_id for j in self.judges]


def _build_problem(
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]],
    fixed: Iterable[tuple[Hashable, Hashable]],
) -> _Problem:
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
    return _Problem(entry_list, judge_list, allowed, expert, fixed_matrix)


def assign_judges(
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]] = (),
    reviews_per_entry: int = DEFAULT_REVIEWS_PER_ENTRY,
    fixed: Iterable[tuple[Hashable, Hashable]] = (),
    seed: int = 0,
    require_connected: bool = True,
) -> Assignment:
    """Assign ``reviews_per_entry`` judges to every entry with balanced loads.

    ``conflicts`` and ``fixed`` are ``(judge_id, entry_id)`` pairs; fixed pairs (an official's
    manual choices) are kept and count towards loads. Raises ``AssignmentInfeasible`` when the
    pool is too small or too conflicted, naming the entries or judges concerned.
    """
    if reviews_per_entry < 1:
        raise AssignmentInfeasible("each entry needs at least one judge")
    problem = _build_problem(entries, judges, conflicts, fixed)
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
    chosen = _solve(problem, need, new_low, new_high, seed)
    if chosen is None:
        raise AssignmentInfeasible(
            f"no assignment gives every entry {r} judges with loads between {low} and {high} "
            "under these conflicts; add judges or lower the number of judges per entry"
        )
    return _finish(problem, chosen | problem.fixed, seed, require_connected and r >= 2)


def reassign_unfinished(
    pairs: Iterable[tuple[Hashable, Hashable]],
    lagging_judge: Hashable,
    finished: Iterable[Hashable],
    entries: Iterable[Entry],
    judges: Iterable[Judge],
    conflicts: Iterable[tuple[Hashable, Hashable]] = (),
    seed: int = 0,
    require_connected: bool = True,
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
    problem = _build_problem(entries, judge_list, conflicts, kept)
    if not freed:
        return _finish(problem, problem.fixed.copy(), seed, False)
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
        chosen = _solve(problem, need, np.zeros_like(high), high, seed)
        if chosen is not None:
            return _finish(problem, chosen | problem.fixed, seed, require_connected)
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
        if _components(problem.fixed) > 1:
            problems.append("the judge-entry graph is not connected, so calibration is per piece")
    return problems


def _check_enough_judges(problem: _Problem, need: np.ndarray) -> None:
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


def _pair_costs(problem: _Problem, seed: int) -> np.ndarray:
    """Cost of each (entry, judge) pair: 0 for an expert, 1000 otherwise, plus seeded jitter."""
    rng = np.random.default_rng(seed)
    jitter = rng.random(problem.allowed.shape)
    return (~problem.expert) * _MISMATCH_COST + jitter


def _solve(
    problem: _Problem,
    need: np.ndarray,
    judge_low: np.ndarray,
    judge_high: np.ndarray,
    seed: int,
) -> np.ndarray | None:
    """The cheapest new pairs: ``need[e]`` per entry, loads within bounds; None if infeasible.

    Column generation keeps the linear program small: start from every expert pair plus a few
    of each entry's cheapest other pairs, solve, and add any left-out pair whose reduced cost
    (from the solution's duals) is negative. When none is left, LP duality proves the restricted
    optimum optimal for the full problem; the jitter makes that optimum unique, so the answer is
    the same as solving everything at once, only faster.
    """
    n_entries, n_judges = problem.allowed.shape
    if (
        (judge_high < judge_low).any()
        or judge_high.sum() < need.sum()
        or judge_low.sum() > need.sum()
    ):
        return None
    usable = problem.allowed & ~problem.fixed & (need[:, None] > 0)
    chosen = np.zeros_like(problem.allowed)
    if not usable.any():
        return chosen if need.sum() == 0 else None
    costs = _pair_costs(problem, seed)
    others = np.where(usable & ~problem.expert, costs, np.inf)
    cheapest = np.argsort(others, axis=1, kind="stable")[:, :_START_OTHERS]
    included = usable & problem.expert
    included[np.arange(n_entries)[:, None], cheapest] = True
    included &= usable
    bounds_ub = np.concatenate([judge_high, -judge_low]).astype(float)
    while True:
        rows, cols = np.nonzero(included)
        result = _solve_restricted(rows, cols, costs, need, bounds_ub, n_entries, n_judges)
        if result is None:
            if included.sum() == usable.sum():
                return None
            included = usable.copy()  # the start was too narrow to be feasible: use everything
            continue
        entry_duals = result.eqlin.marginals
        judge_duals = result.ineqlin.marginals[:n_judges] - result.ineqlin.marginals[n_judges:]
        reduced = costs - entry_duals[:, None] - judge_duals[None, :]
        left_out = usable & ~included
        if not (left_out & (reduced < -1e-7)).any():
            break
        # Bring in the near-competitive pairs too, not just the improving ones: it saves rounds.
        included |= left_out & (reduced < _ENTERING_MARGIN)
    picked = result.x > 0.5
    # A simplex vertex of a network matrix is integral; check rather than trust.
    if np.abs(result.x - picked).max() > 1e-6:
        raise RuntimeError("the assignment solver returned a fractional solution")
    chosen[rows[picked], cols[picked]] = True
    return chosen


def _solve_restricted(
    rows: np.ndarray,
    cols: np.ndarray,
    costs: np.ndarray,
    need: np.ndarray,
    bounds_ub: np.ndarray,
    n_entries: int,
    n_judges: int,
):
    """One transportation LP over the given pairs (HiGHS dual simplex); None if infeasible."""
    n = len(rows)
    columns = np.arange(n)
    ones = np.ones(n)
    per_entry = sparse.csr_matrix((ones, (rows, columns)), shape=(n_entries, n))
    per_judge = sparse.csr_matrix((ones, (cols, columns)), shape=(n_judges, n))
    result = linprog(
        costs[rows, cols],
        A_ub=sparse.vstack([per_judge, -per_judge]).tocsr(),
        b_ub=bounds_ub,
        A_eq=per_entry,
        b_eq=need.astype(float),
        bounds=(0, 1),
        method="highs-ds",
    )
    if result.status == 2:
        return None
    if result.status != 0:
        raise RuntimeError(f"the assignment solver stopped: {result.message}")
    return result


def _components(assigned: np.ndarray) -> int:
    """Connected pieces of the judge-entry graph, ignoring judges with nothing assigned."""
    labels = _labels(assigned)
    n_entries = assigned.shape[0]
    used = np.concatenate([np.ones(n_entries, dtype=bool), assigned.any(axis=0)])
    return len(np.unique(labels[used]))


def _labels(assigned: np.ndarray) -> np.ndarray:
    n_entries, n_judges = assigned.shape
    rows, cols = np.nonzero(assigned)
    graph = sparse.coo_matrix(
        (np.ones(len(rows)), (rows, n_entries + cols)),
        shape=(n_entries + n_judges, n_entries + n_judges),
    )
    return connected_components(graph, directed=False)[1]


def _connect(problem: _Problem, assigned: np.ndarray, seed: int) -> np.ndarray:
    """Join the graph's pieces with load-preserving swaps of non-fixed pairs, cheapest first."""
    costs = _pair_costs(problem, seed)
    rng = np.random.default_rng(seed + 1)
    n_entries = assigned.shape[0]
    while _components(assigned) > 1:
        labels = _labels(assigned)
        entry_labels = labels[:n_entries]
        pieces = sorted(Counter(entry_labels.tolist()).items(), key=lambda kv: (kv[1], kv[0]))
        merged = False
        for piece, _size in pieces:
            movable = assigned & ~problem.fixed
            inside = movable & (entry_labels == piece)[:, None]
            outside = movable & (entry_labels != piece)[:, None]
            a_rows, a_cols = _sample(np.nonzero(inside), rng)
            b_rows, b_cols = _sample(np.nonzero(outside), rng)
            if len(a_rows) == 0 or len(b_rows) == 0:
                continue
            # delta[a, b] = cost after swapping (e1, j1), (e2, j2) -> (e1, j2), (e2, j1) minus before.
            e1, j1 = a_rows[:, None], a_cols[:, None]
            e2, j2 = b_rows[None, :], b_cols[None, :]
            valid = (
                problem.allowed[e1, j2]
                & problem.allowed[e2, j1]
                & ~assigned[e1, j2]
                & ~assigned[e2, j1]
            )
            delta = costs[e1, j2] + costs[e2, j1] - costs[e1, j1] - costs[e2, j2]
            delta = np.where(valid, delta, np.inf)
            before = _components(assigned)
            for flat in np.argsort(delta, axis=None, kind="stable")[:_SWAP_TRIES]:
                a, b = np.unravel_index(flat, delta.shape)
                if not np.isfinite(delta[a, b]):
                    break
                x1, y1, x2, y2 = a_rows[a], a_cols[a], b_rows[b], b_cols[b]
                assigned[x1, y1] = assigned[x2, y2] = False
                assigned[x1, y2] = assigned[x2, y1] = True
                if _components(assigned) < before:
                    merged = True
                    break
                assigned[x1, y1] = assigned[x2, y2] = True
                assigned[x1, y2] = assigned[x2, y1] = False
            if merged:
                break
        if not merged:
            break
    return assigned


def _sample(
    index: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = index
    if len(rows) > _SWAP_CANDIDATES:
        keep = np.sort(rng.choice(len(rows), _SWAP_CANDIDATES, replace=False))
        rows, cols = rows[keep], cols[keep]
    return rows, cols


def _finish(
    problem: _Problem, assigned: np.ndarray, seed: int, require_connected: bool
) -> Assignment:
    """Repair connectivity if needed and package the result."""
    if _components(assigned) > 1:
        assigned = _connect(problem, assigned, seed)
    pieces = _components(assigned)
    if require_connected and pieces > 1:
        raise AssignmentInfeasible(
            f"the judge-entry graph stays in {pieces} pieces (too few judges per entry, loads too "
            "small or too many conflicts), so scores could not be calibrated on one scale"
        )
    rows, cols = np.nonzero(assigned)
    entry_ids, judge_ids = problem.entry_ids, problem.judge_ids
    pairs = tuple(sorted((judge_ids[j], entry_ids[e]) for e, j in zip(rows, cols, strict=True)))
    loads = {judge_ids[j]: int(n) for j, n in enumerate(assigned.sum(axis=0))}
    return Assignment(pairs, loads, int((assigned & problem.expert).sum()), pieces)
