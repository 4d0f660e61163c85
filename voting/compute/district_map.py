"""What the results map shows per district: its pot's funded total, ballots and turnout, and a shade (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistrictFigures:
    """One district's pot on the results map."""

    code: str
    pot_id: int | None
    funded: int  # whole KRW of the official outcome's winners (0 before results)
    ballots: int
    population: int
    level: int  # 0 (nothing funded) .. 4 (among the largest funded totals)

    @property
    def turnout_permille(self) -> float:
        """Ballots in the district pot per thousand residents."""
        return 1000 * self.ballots / self.population if self.population else 0.0


def shade(funded: int, largest: int) -> int:
    """0 for nothing funded, else 1..4 by the funded total's share of the largest one."""
    if funded <= 0 or largest <= 0:
        return 0
    return min(4, 1 + (4 * funded - 1) // largest)


def district_figures(
    pot_by_district: dict[str, int],
    funded_by_pot: dict[int, int],
    ballots_by_district: dict[str, int],
    population: dict[str, int],
) -> dict[str, DistrictFigures]:
    """Figures for every district with a population, keyed by district code."""
    funded = {code: funded_by_pot.get(pot, 0) for code, pot in pot_by_district.items()}
    largest = max(funded.values(), default=0)
    return {
        code: DistrictFigures(
            code,
            pot_by_district.get(code),
            funded.get(code, 0),
            ballots_by_district.get(code, 0),
            people,
            shade(funded.get(code, 0), largest),
        )
        for code, people in population.items()
    }
