"""Paper ballots: comparing two keyings of a batch, and reconciling a station's tally sheet.

Pure: plain data in, plain data out. A *reading* of one paper sheet is what a keyer saw ticked on
it: ``((project id, points), ...)`` sorted by project, points above zero only (an approval or
knapsack tick counts as 1 point). A *keying* is one person's readings of a batch, by the sheet
number printed on each ballot paper. See docs/pb.md, "Paper ballots", for the identities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from voting.compute.rules import BallotChoice

Reading = tuple[tuple[int, int], ...]
Keying = Mapping[int, Reading]

# A batch's states and the one step each event takes (voting.services.paper moves them).
BATCH_STATES = ("open", "keyed-once", "keyed-twice", "mismatch", "resolved", "counted")
BATCH_STEPS = {
    ("open", "keyed"): "keyed-once",
    ("keyed-once", "agreed"): "keyed-twice",
    ("keyed-once", "differed"): "mismatch",
    ("mismatch", "resolved"): "resolved",
    ("keyed-twice", "counted"): "counted",
    ("resolved", "counted"): "counted",
}


def next_batch_state(state: str, event: str) -> str:
    """The state after ``event``; ``ValueError`` when the event does not fit the state."""
    try:
        return BATCH_STEPS[(state, event)]
    except KeyError:
        raise ValueError(f"{event} does not fit a batch that is {state}") from None


def reading_of(marks: Mapping[int, int] | Iterable[int]) -> Reading:
    """The canonical reading of a sheet from ticked project ids or points per project."""
    if not isinstance(marks, Mapping):
        marks = dict.fromkeys(marks, 1)
    return tuple(sorted((int(pid), int(n)) for pid, n in marks.items() if int(n) > 0))


def keying_as_data(keying: Keying) -> dict[str, dict[str, int]]:
    """A keying as JSON-ready data: ``{"12": {"3": 1, "5": 1}, ...}`` (stored as canonical JSON)."""
    return {str(sheet): {str(pid): n for pid, n in reading} for sheet, reading in sorted(keying.items())}


def keying_from_data(data: Mapping[str, Mapping[str, int]]) -> dict[int, Reading]:
    return {int(sheet): reading_of({int(p): int(n) for p, n in marks.items()}) for sheet, marks in data.items()}


@dataclass(frozen=True)
class Mismatch:
    """A sheet the two keyers read differently; ``None`` where one of them did not key it at all."""

    sheet: int
    first: Reading | None
    second: Reading | None


@dataclass(frozen=True)
class Comparison:
    """Two keyings of one batch side by side."""

    agreed: dict[int, Reading]
    mismatches: tuple[Mismatch, ...]

    @property
    def agree(self) -> bool:
        return not self.mismatches

    @property
    def sheets(self) -> int:
        return len(self.agreed) + len(self.mismatches)


def compare_keyings(first: Keying, second: Keying) -> Comparison:
    """Sheet by sheet: the readings both keyers agree on, and every sheet they do not (sorted)."""
    agreed: dict[int, Reading] = {}
    mismatches: list[Mismatch] = []
    for sheet in sorted(set(first) | set(second)):
        a, b = first.get(sheet), second.get(sheet)
        if a is not None and a == b:
            agreed[sheet] = a
        else:
            mismatches.append(Mismatch(sheet, a, b))
    return Comparison(agreed, tuple(mismatches))


def final_sheets(comparison: Comparison, resolution: Mapping[int, Reading | None]) -> dict[int, Reading]:
    """The batch as counted: the agreed sheets and, for each mismatched one, the third person's
    reading (``None``: that sheet is not in the batch). Raises ``ValueError`` if a mismatch is
    unresolved or the resolution names a sheet the keyers agreed on."""
    wanted = {m.sheet for m in comparison.mismatches}
    if set(resolution) != wanted:
        raise ValueError("the resolution must cover exactly the mismatched sheets")
    sheets = dict(comparison.agreed)
    for sheet, reading in resolution.items():
        if reading is not None:
            sheets[sheet] = reading
    return dict(sorted(sheets.items()))


def choice_of(reading: Reading, ballot_kind: str) -> BallotChoice:
    """The ballot a sheet stands for, ready for ``rules.validate_ballot``."""
    if ballot_kind == "cumulative":
        return BallotChoice(points=reading)
    return BallotChoice(project_ids=tuple(pid for pid, _ in reading))


@dataclass(frozen=True)
class TallySheet:
    """The station's own count, written by hand when it closes."""

    handed_out: int  # blank ballots given to voters
    returned: int  # sheets found in the ballot box
    spoiled: int  # sheets of the box that cannot count as votes (blank, over-ticked, torn)


@dataclass(frozen=True)
class StationCount:
    """What the portal counted for a station from its batches."""

    keyed: int  # sheets in counted batches
    valid: int  # written as paper ballots
    invalid: int  # refused by the ballot rules: spoiled, with a reason
    uncounted_batches: int  # batches not yet counted (open, keyed once, mismatch, ...)


@dataclass(frozen=True)
class Gap:
    """An identity that does not hold: the field to fix, an English message id and its figures."""

    field: str
    message: str
    params: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reconciliation:
    gaps: tuple[Gap, ...]
    not_returned: int  # handed out but not in the box (a voter who left with the ballot)

    @property
    def reconciles(self) -> bool:
        return not self.gaps


def reconcile(tally: TallySheet, count: StationCount, participations: int, *, exact: bool) -> Reconciliation:
    """Check the tally sheet against the count and the paper participations recorded at check-in.

    ``participations``: paper check-ins not yet accounted for by the cycle's closed stations;
    ``exact``: this is the cycle's last open station, so the figures must be equal, not just fit.
    """
    gaps: list[Gap] = []
    if count.uncounted_batches:
        gaps.append(Gap("form", "%(batches)s batches of this station are not counted yet.", {"batches": count.uncounted_batches}))
    if exact and tally.handed_out != participations:
        gaps.append(Gap("handed_out", "Ballots handed out (%(handed_out)s) must equal the paper ballots recorded at check-in (%(participations)s).", {"handed_out": tally.handed_out, "participations": participations}))
    elif tally.handed_out > participations:
        gaps.append(Gap("handed_out", "Ballots handed out (%(handed_out)s) are more than the paper ballots recorded at check-in and not yet accounted for (%(participations)s).", {"handed_out": tally.handed_out, "participations": participations}))
    if tally.returned > tally.handed_out:
        gaps.append(Gap("returned", "More ballots were returned (%(returned)s) than handed out (%(handed_out)s).", {"returned": tally.returned, "handed_out": tally.handed_out}))
    if tally.returned != count.keyed:
        gaps.append(Gap("returned", "Ballots returned (%(returned)s) must equal the sheets counted from this station's batches (%(keyed)s).", {"returned": tally.returned, "keyed": count.keyed}))
    if tally.spoiled != count.invalid:
        gaps.append(Gap("spoiled", "Spoiled ballots (%(spoiled)s) must equal the sheets the count found invalid (%(invalid)s).", {"spoiled": tally.spoiled, "invalid": count.invalid}))
    return Reconciliation(tuple(gaps), max(tally.handed_out - tally.returned, 0))
