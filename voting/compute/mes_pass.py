"""One pass of the Method of Equal Shares at a given per-voter budget: compiled float64, or exact fractions.

The float pass (voting/compute/tally_kernel.py) checks every decision against a bound on rounding error
and gives up with ``Uncertain`` when one is too close to call; the exact pass then decides it, step for
step as pabutools' mes_inner_algo.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import sparse

from voting.compute.election import Election, Number
from voting.compute.tally_kernel import CERTIFIED, UNCERTAIN, mes_rounds

# Relative size of float rounding error we allow for: far above what 100 rounds of float64
# arithmetic can accumulate, far below any gap that matters between two real outcomes.
_ERR = 1e-11


class Uncertain(Exception):
    """A float decision was too close to call: redo the pass exactly."""


class Infeasible(Exception):
    """The pass spent more than the real budget (add1 / increase stop condition)."""


@dataclass
class MesPass:
    """One Equal Shares pass; float passes fill rounds and money_left on demand."""

    selected: list[int]
    # (project, rho, largest payment, supporters, voters who paid all they had) per round
    rounds_: list[tuple[int, float, float, int, int]] | None
    money_left_: dict[int, float] | None
    spent: Number
    trace: tuple[np.ndarray, np.ndarray] | None = None  # kernel record, for certificates
    budgets: tuple[MesData, np.ndarray] | None = None

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


class MesData:
    """Per-satisfaction arrays for Equal Shares: one entry per candidate project."""

    def __init__(
        self, election: Election, sat: str, candidates: list[int], rank: list[int]
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


def float_pass(
    data: MesData,
    per_voter: Fraction,
    spent: Number,
    limit: Number | None,
    forced: tuple[np.ndarray, np.ndarray] | None = None,
    hint: np.ndarray | None = None,
) -> MesPass | bool:
    """One MES pass in float64 (compiled); raises Uncertain when a decision is too close.

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
        raise Uncertain
    sel, rec = sel[:n].copy(), rec[:n].copy()
    spent = spent + sum(data.cost[i] for i in sel)
    if limit is not None and spent > limit:
        raise Infeasible
    return MesPass([data.candidates[i] for i in sel], None, None, spent, (sel, rec), (data, val))


# One class of voters supporting a project: (budget left, utility, voters, index of the class).
_Item = tuple[Fraction, Number, int, int]


class _ExactBudgets:
    """What the voters have left, exactly: each group points at one of the distinct amounts seen so far."""

    def __init__(self, data: MesData, per_voter: Fraction) -> None:
        self.data = data
        self.cls = np.zeros(len(data.election.groups), dtype=np.int64)
        self.vals: list[Fraction] = [per_voter]
        self.val_id: dict[Fraction, int] = {per_voter: 0}

    def _classes(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        nu = len(self.data.uvals[i])
        key = self.cls[self.data.groups[i]] * nu + self.data.uidx[i]
        uk, inv = np.unique(key, return_inverse=True)
        return uk, inv, nu

    def supporters(self, i: int) -> list[_Item]:
        """Project i's supporters grouped by (budget left, utility)."""
        uk, inv, nu = self._classes(i)
        wsum = np.bincount(inv, weights=self.data.wf[i], minlength=len(uk))
        return [
            (self.vals[int(c) // nu], self.data.uvals[i][int(c) % nu], int(round(w)), j)
            for j, (c, w) in enumerate(zip(uk, wsum, strict=True))
        ]

    def pay(self, i: int, rho: Fraction, items: list[_Item]) -> tuple[Fraction, int]:
        """Project i's supporters each pay min(budget, rho * utility): (largest payment, voters who paid all)."""
        uk, inv, _ = self._classes(i)
        mapping = np.empty(len(uk), dtype=np.int64)
        max_pay, paid_all = Fraction(0), 0
        for v, u, w, j in items:
            pay = min(v, rho * u)
            max_pay = max(max_pay, pay)
            if pay == v:
                paid_all += w
            new = v - pay
            if new not in self.val_id:
                self.val_id[new] = len(self.vals)
                self.vals.append(new)
            mapping[j] = self.val_id[new]
        self.cls[self.data.groups[i]] = mapping[inv]
        return max_pay, paid_all

    def money_left(self, skipped: list[int]) -> dict[int, float]:
        """What the supporters of each project not bought had left (display values)."""
        valf = np.array([float(v) for v in self.vals])
        data = self.data
        return {
            data.candidates[i]: float(data.wf[i] @ valf[self.cls[data.groups[i]]]) for i in skipped
        }


def _affordability(cost: Number, items: list[_Item]) -> Fraction | None:
    """The lowest price per unit of utility at which the supporters can pay ``cost``."""
    contribution = 0
    denominator = sum(w * u for _, u, w, _ in items)
    for v, u, w, _ in sorted(items, key=lambda t: t[0] / t[1]):
        rho = Fraction(cost - contribution, 1) / denominator
        if rho * u <= v:
            return rho
        contribution += w * v
        denominator -= w * u
    return None


def _cheapest(
    data: MesData, budgets: _ExactBudgets, alive: set[int], lower: list[Fraction], rank: list[int]
) -> tuple[int, Fraction, list[_Item]] | None:
    """This round's winner (lowest price, ties by rank) with its price and supporters; drops the unaffordable."""
    best: Fraction | None = None
    tied: list[int] = []
    found: dict[int, list[_Item]] = {}
    for i in sorted(alive, key=lambda i: (lower[i], rank[data.candidates[i]])):
        items = budgets.supporters(i)
        if sum(w * v for v, _, w, _ in items) < data.cost[i]:
            alive.discard(i)
            continue
        if best is not None and lower[i] > best:
            break
        rho = _affordability(data.cost[i], items)
        lower[i] = rho
        found[i] = items
        if best is None or rho < best:
            best, tied = rho, [i]
        elif rho == best:
            tied.append(i)
    if best is None:
        return None
    i = min(tied, key=lambda t: rank[data.candidates[t]])
    return i, best, found[i]


def exact_pass(
    data: MesData, per_voter: Fraction, rank: list[int], spent: Number, limit: Number | None
) -> MesPass:
    """One MES pass with exact fractions, step for step as pabutools' mes_inner_algo."""
    k = len(data.candidates)
    budgets = _ExactBudgets(data, per_voter)
    lower: list[Fraction] = list(data.init_rho)
    alive = set(range(k))
    rounds, selected = [], []
    while alive:
        if limit is not None and spent > limit:
            raise Infeasible
        winner = _cheapest(data, budgets, alive, lower, rank)
        if winner is None:
            break
        i, best, items = winner
        max_pay, paid_all = budgets.pay(i, best, items)
        rounds.append(
            (data.candidates[i], float(best), float(max_pay), data.supporters[i], paid_all)
        )
        selected.append(data.candidates[i])
        spent += data.cost[i]
        alive.discard(i)
    if limit is not None and spent > limit:
        raise Infeasible
    skipped = [i for i in range(k) if data.candidates[i] not in selected]
    return MesPass(selected, rounds, budgets.money_left(skipped), spent)
