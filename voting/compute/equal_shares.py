"""The Method of Equal Shares over a run: free projects first, then passes at rising per-voter budgets.

``add1`` raises the per-voter budget step by step until the outcome is exhaustive or the next would
overspend; ``increase`` (pabutools' exhaustion_by_budget_increase) raises the whole budget instead.
"""

from __future__ import annotations

from fractions import Fraction

from voting.compute.election import Number, Shortfall, Step
from voting.compute.greedy import Run
from voting.compute.mes_pass import Infeasible, MesData, MesPass, Uncertain, exact_pass, float_pass


class _Passes:
    """Runs MES passes for one run: the compiled float pass, redone exactly when too close to call."""

    def __init__(self, run: Run, data: MesData, exact: bool) -> None:
        self.run = run
        self.data = data
        self.base_spent = run.spent
        self.exact = exact

    def at(self, per_voter: Fraction, limit: Number | None, near: MesPass | None = None) -> MesPass:
        """The pass at ``per_voter``; ``near`` (a neighbouring pass) hints at the winners' order."""
        self.run.passes += 1
        if not self.exact:
            hint = near.trace[0] if near is not None and near.trace is not None else None
            try:
                result = float_pass(self.data, per_voter, self.base_spent, limit, hint=hint)
                assert isinstance(result, MesPass)
                return result
            except Uncertain:
                pass
        self.run.exact_passes += 1
        return exact_pass(self.data, per_voter, self.run.rank, self.base_spent, limit)

    def same_outcome_up_to(self, low: MesPass, per_voter: Fraction) -> bool:
        """Certify that every per-voter budget from low's up to per_voter buys the same."""
        if self.exact or low.trace is None:
            return False
        return float_pass(self.data, per_voter, self.base_spent, None, low.trace) is True


def _fund_free_projects(run: Run, sat: str) -> list[int]:
    """Fund the supported projects that cost nothing; returns the others with supporters (the candidates)."""
    e = run.e
    utilities = e.utilities(sat)
    free, candidates = [], []
    for p in run.available:
        if not utilities[p][1]:
            continue
        (candidates if e.costs[p] > 0 else free).append(p)
    for p in sorted(free, key=lambda p: run.rank[p]):
        run.take(p)
        run.steps.append(Step(e.ids[p], 0, True, "zero-cost", "free", supporters=e.votes[p]))
    return candidates


def _raise_whole_budget(run: Run, passes: _Passes, budget_step: Number) -> tuple[Fraction, MesPass]:
    """pabutools' exhaustion_by_budget_increase: raise the whole budget by budget_step until the
    outcome is exhaustive or would overspend the real budget."""
    n = run.e.n
    per_voter = Fraction(run.budget) / n
    total, bound = Fraction(run.budget), Fraction(run.budget) * (n + 1)
    result = MesPass([], [], {}, run.spent)
    while total <= bound:
        try:
            nxt = passes.at(total / n, run.budget)
        except Infeasible:
            break
        result, per_voter = nxt, total / n
        if run.exhaustive(run.available, list(run.chosen) + nxt.selected):
            break
        total += budget_step
    return per_voter, result


def _raise_voter_budget(
    run: Run, passes: _Passes, candidates: list[int], increment: Number | None
) -> tuple[Fraction, MesPass]:
    """add1: raise the per-voter budget until the outcome is exhaustive (among the projects Equal
    Shares could buy) or the next outcome would overspend.

    Rather than recompute every step, certify whole stretches of budgets at once: along one sequence
    of purchases budgets only grow and prices only fall with the per-voter budget, so if at the top
    of a stretch every other project is still dearer than the price the winner needed at the bottom
    (and the leftovers still unaffordable), every budget in between buys exactly the same.
    """
    per_voter = Fraction(run.budget) / run.e.n
    result = passes.at(per_voter, None)
    stride, pause, wait = 2, 1, 0
    while increment is not None and not run.exhaustive(
        candidates, list(run.chosen) + result.selected
    ):
        same = 0  # steps above per_voter known to give the same outcome
        jump = stride if wait == 0 else 0
        while jump >= 2:
            if passes.same_outcome_up_to(result, per_voter + jump * increment):
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
            nxt = passes.at(following, run.budget, result)
        except Infeasible:
            if same:
                # pabutools stops one step before: same outcome, recomputed there
                # so that the explanation shows that pass's prices.
                per_voter += same * increment
                result = passes.at(per_voter, run.budget, result)
            break
        per_voter, result = following, nxt
    return per_voter, result


def equal_shares(
    run: Run, sat: str, increment: Number | None, budget_step: Number | None, exact: bool
) -> None:
    """MES, optionally with add1 (per-voter budget) or budget-increase completion."""
    e = run.e
    if e.n == 0:
        return
    candidates = _fund_free_projects(run, sat)
    passes = _Passes(run, MesData(e, sat, candidates, run.rank), exact)
    if budget_step is not None:
        per_voter, result = _raise_whole_budget(run, passes, budget_step)
    else:
        per_voter, result = _raise_voter_budget(run, passes, candidates, increment)
    run.voter_budget = per_voter.numerator if per_voter.denominator == 1 else per_voter
    for r, (p, _rho, price, supporters, paid_all) in enumerate(result.rounds, start=1):
        run.take(p)
        run.steps.append(
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
        if p not in run.chosen:
            run.shortfalls.append(
                Shortfall(e.ids[p], e.costs[p], e.votes[p], result.money_left.get(p, 0.0))
            )
