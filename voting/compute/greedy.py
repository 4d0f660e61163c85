"""A rule's run (selection so far, spending, the explanation's steps) and the greedy rule."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from voting.compute.election import Election, Number, Shortfall, Step


class Run:
    """State of one rule run: selection so far, spending, explanation."""

    def __init__(self, election: Election, budget: Number, rank: list[int], out: set[int]) -> None:
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

    def ids_selected(self) -> set[str]:
        return {self.e.ids[p] for p in self.selected}

    def exhaustive(self, pool: Iterable[int], selected: Iterable[int] | None = None) -> bool:
        """No project of ``pool`` outside the selection still fits in the budget."""
        chosen = self.chosen if selected is None else set(selected)
        spent = sum(self.e.costs[p] for p in chosen)
        return all(p in chosen or spent + self.e.costs[p] > self.budget for p in pool)

    def take(self, p: int) -> None:
        self.selected.append(p)
        self.chosen.add(p)
        self.spent += self.e.costs[p]

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
            fits = not stopped and costs[p] <= remaining
            if fits:
                remaining -= costs[p]
                self.take(p)
                reason = "fits"
            else:
                reason = "stopped" if stopped or no_skip else "does-not-fit"
                stopped = stopped or no_skip
            self.steps.append(
                Step(
                    self.e.ids[p],
                    costs[p],
                    fits,
                    "greedy",
                    reason,
                    remaining_budget=remaining,
                    score=score,
                )
            )
