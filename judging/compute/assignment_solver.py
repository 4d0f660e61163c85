"""The judge assignment as a transportation problem, and the repair that joins its pieces (pure).

The balanced assignment is a transportation problem, i.e. a min-cost flow source -> entry (R units)
-> judge (1 unit per pair, cost 0 for an expert and 1 for a non-expert, plus a tiny seeded jitter so
equal choices are spread at random but reproducibly) -> sink (between the floor and the ceiling of
the mean load). Its constraint matrix is totally unimodular, so the simplex optimum (HiGHS dual
simplex via ``scipy.optimize.linprog``) is integral. Expertise clusters can leave the graph in
pieces; a repair step then swaps the cheapest pair of assignments across two pieces
((e1, j1), (e2, j2) -> (e1, j2), (e2, j1)), which keeps every load and every entry's count, until
one piece remains.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:
    from collections.abc import Hashable

    from judging.compute.assignment import Entry, Judge

# An expertise mismatch costs 1000; the jitter, below 1 per pair, only breaks ties. Both are
# large next to the solver's tolerance (1e-7), so the optimum is exact and, almost surely, unique.
_MISMATCH_COST = 1000.0
_SWAP_CANDIDATES = 300
# Non-expert pairs per entry in the first round of column generation.
_START_OTHERS = 6
# ... and at most this many of its cheapest expert pairs (all of them for small pools): with 200
# judges an entry has ~60 experts, and 7,000 entries would start the program from 400,000 pairs.
_START_EXPERTS = 6
# Left-out pairs within this reduced cost join in the next round (fewer rounds, small LPs).
_ENTERING_MARGIN = 0.01
_SWAP_TRIES = 200


@dataclass
class Problem:
    """Indexed view of entries, judges, conflicts and already-fixed pairs."""

    entries: list[Entry]
    judges: list[Judge]
    allowed: np.ndarray  # (entries, judges) bool: not conflicted
    expert: np.ndarray  # (entries, judges) bool
    fixed: np.ndarray  # (entries, judges) bool: pairs that stay as they are
    # (entries, judges) float: the judges' bids as costs (``assignment.BID_COSTS``); None: no bids
    preference: np.ndarray | None = None

    @property
    def entry_ids(self) -> list[Hashable]:
        return [e.entry_id for e in self.entries]

    @property
    def judge_ids(self) -> list[Hashable]:
        return [j.judge_id for j in self.judges]


def _pair_costs(problem: Problem, seed: int) -> np.ndarray:
    """Cost of each (entry, judge) pair: 0 for an expert, 1000 otherwise, plus the bid's cost and
    seeded jitter."""
    rng = np.random.default_rng(seed)
    jitter = rng.random(problem.allowed.shape)
    costs = (~problem.expert) * _MISMATCH_COST + jitter
    if problem.preference is not None:
        costs = costs + problem.preference
    return costs


def solve(
    problem: Problem,
    need: np.ndarray,
    judge_low: np.ndarray,
    judge_high: np.ndarray,
    seed: int,
) -> np.ndarray | None:
    """The cheapest new pairs: ``need[e]`` per entry, loads within bounds; None if infeasible.

    Column generation keeps the linear program small: start from each entry's cheapest expert
    pairs (up to ``_START_EXPERTS``) plus a few of its cheapest other pairs, solve, and add any left-out pair whose reduced cost
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
    experts = np.where(usable & problem.expert, costs, np.inf)
    cheapest_experts = np.argsort(experts, axis=1, kind="stable")[:, :_START_EXPERTS]
    # Start from each entry's cheapest expert and other pairs, and every eager non-expert bid (experts
    # all cost less than a mismatch, so they come in through the cheapest few, eager ones first);
    # column generation adds what the optimum needs.
    included = usable & ~problem.expert & (costs < _MISMATCH_COST)
    included[np.arange(n_entries)[:, None], cheapest] = True
    included[np.arange(n_entries)[:, None], cheapest_experts] = True
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


def components(assigned: np.ndarray) -> int:
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


def connect(problem: Problem, assigned: np.ndarray, seed: int) -> np.ndarray:
    """Join the graph's pieces with load-preserving swaps of non-fixed pairs, cheapest first."""
    costs = _pair_costs(problem, seed)
    rng = np.random.default_rng(seed + 1)
    n_entries = assigned.shape[0]
    while components(assigned) > 1:
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
            before = components(assigned)
            for flat in np.argsort(delta, axis=None, kind="stable")[:_SWAP_TRIES]:
                a, b = np.unravel_index(flat, delta.shape)
                if not np.isfinite(delta[a, b]):
                    break
                x1, y1, x2, y2 = a_rows[a], a_cols[a], b_rows[b], b_cols[b]
                assigned[x1, y1] = assigned[x2, y2] = False
                assigned[x1, y2] = assigned[x2, y1] = True
                if components(assigned) < before:
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
