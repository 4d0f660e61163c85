"""Score sheets and their ranking: the one function both ``hangang challenge rank`` and the web app's
selection use, so an exported sheet replayed on the command line gives the same winners.

Pure: rows and the quotas object in, a ``RankResult`` out; reading files is the CLI's job.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from judging.compute.calibration import (
    DEFAULT_METHOD,
    METHODS,
    Calibration,
    CalibrationError,
    Review,
    calibrate,
)
from judging.compute.candidates import CategoryQuota, QuotaInfeasible, Quotas
from judging.compute.rubric import DEFAULT_SCALE, RubricError, parse_scale, scale_text
from judging.compute.selection import (
    Selection,
    SelectionError,
    candidates_from_calibration,
    select_winners,
)

REQUIRED_COLUMNS = ("entry_id", "judge_id", "score")
OPTIONAL_COLUMNS = ("category", "organization", "scale")
DEFAULT_WINNERS = 50
QUOTA_KEYS = ("winners", "categories", "max_per_organization")


class ScoreSheetError(ValueError):
    """A score sheet or quota file is malformed or infeasible; the message says where."""


@dataclass(frozen=True)
class ScoreRow:
    """One line of a score sheet."""

    entry_id: str
    judge_id: str
    score: float
    category: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class RankResult:
    """Everything ``challenge rank`` prints: calibration, selection and the parameters used."""

    method: str
    seed: int
    quotas: Quotas
    calibration: Calibration
    selection: Selection

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape: ranking, winners and judge offsets."""
        return {
            "ranking": [
                {"entry_id": r.entry_id, "score": r.score, "rank": r.rank}
                for r in self.selection.ranking
            ],
            "winners": list(self.selection.winners),
            "judge_offsets": dict(self.calibration.judge_offsets),
        }


def cell_text(value: object) -> str | None:
    """A cell as stripped text; empty cells are None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_score_rows(
    rows: Iterable[Mapping[str, object] | ScoreRow],
    first_line: int = 2,
    scale: tuple[int, int] | None = None,
) -> list[ScoreRow]:
    """Validate score rows (dicts keyed by column or ``ScoreRow``); errors name the line.

    Line numbers count the header as line 1, as a spreadsheet shows them. Scores must lie on the
    rubric's scale: ``scale`` (``--scale``), else the sheet's ``scale`` column, else 1-10; a sheet
    whose ``scale`` column disagrees with ``scale`` or with itself is refused.
    """
    parsed: list[ScoreRow] = []
    seen: dict[tuple[str, str], int] = {}
    entry_facts: dict[str, tuple[str | None, str | None, int]] = {}
    sheet_scale = _SheetScale(scale)
    for index, row in enumerate(rows, start=first_line):
        line = getattr(row, "line", index)
        if isinstance(row, ScoreRow):
            row = {
                "entry_id": row.entry_id,
                "judge_id": row.judge_id,
                "score": row.score,
                "category": row.category,
                "organization": row.organization,
            }
        sheet_scale.check(row, line)
        parsed.append(_parse_row(row, line, seen, entry_facts, sheet_scale.scale or DEFAULT_SCALE))
    if not parsed:
        raise ScoreSheetError("the score sheet has no scores")
    return parsed


class _SheetScale:
    """The scale a sheet's scores must lie on: the flag's, else the sheet's own ``scale`` column."""

    def __init__(self, given: tuple[int, int] | None) -> None:
        self.given = given
        self.scale = given
        self.line: int | None = None

    def check(self, row: Mapping[str, object], line: int) -> None:
        text = cell_text(row.get("scale"))
        if text is None:
            return
        try:
            scale = parse_scale(text)
        except RubricError as error:
            raise ScoreSheetError(f"line {line}: {error}") from None
        if self.given is not None and scale != self.given:
            raise ScoreSheetError(
                f"line {line}: the sheet's scale {text} disagrees with --scale {scale_text(self.given)}"
            )
        if self.scale is not None and scale != self.scale:
            raise ScoreSheetError(f"line {line}: scale {text} differs from line {self.line}")
        self.scale, self.line = scale, self.line or line


def _parse_row(
    row: Mapping[str, object],
    line: int,
    seen: dict[tuple[str, str], int],
    entry_facts: dict[str, tuple[str | None, str | None, int]],
    scale: tuple[int, int],
) -> ScoreRow:
    entry_id = cell_text(row.get("entry_id"))
    judge_id = cell_text(row.get("judge_id"))
    raw_score = cell_text(row.get("score"))
    for name, value in (("entry_id", entry_id), ("judge_id", judge_id), ("score", raw_score)):
        if value is None:
            raise ScoreSheetError(f"line {line}: {name} is empty")
    try:
        score = float(raw_score)
    except ValueError:
        raise ScoreSheetError(f"line {line}: score {raw_score!r} is not a number") from None
    if not math.isfinite(score):
        raise ScoreSheetError(f"line {line}: score {raw_score!r} is not a number")
    if not scale[0] <= score <= scale[1]:
        raise ScoreSheetError(
            f"line {line}: score {raw_score} is outside the rubric scale {scale[0]}-{scale[1]}"
        )
    pair = (entry_id, judge_id)
    if pair in seen:
        raise ScoreSheetError(
            f"line {line}: judge {judge_id} already scored entry {entry_id} on line {seen[pair]}"
        )
    seen[pair] = line
    category = cell_text(row.get("category"))
    organization = cell_text(row.get("organization"))
    if entry_id in entry_facts:
        known_category, known_org, known_line = entry_facts[entry_id]
        if (category, organization) != (known_category, known_org):
            raise ScoreSheetError(
                f"line {line}: entry {entry_id} has a different category or organization "
                f"than on line {known_line}"
            )
    else:
        entry_facts[entry_id] = (category, organization, line)
    return ScoreRow(entry_id, judge_id, score, category, organization)


def _whole(value: object, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScoreSheetError(f"{where} must be a whole number of at least {minimum}")
    return value


def parse_quotas(data: object, winners: int | None = None) -> Quotas:
    """Build ``Quotas`` from the QUOTAS.json object; ``winners`` is the --winners flag, if given."""
    if not isinstance(data, dict):
        raise ScoreSheetError("quotas must be a JSON object")
    unknown = sorted(set(data) - set(QUOTA_KEYS))
    if unknown:
        raise ScoreSheetError(f"unknown quota key {', '.join(map(repr, unknown))}")
    file_winners = data.get("winners")
    if file_winners is not None:
        file_winners = _whole(file_winners, "winners", 1)
        if winners is not None and winners != file_winners:
            raise ScoreSheetError(
                f"--winners {winners} disagrees with winners {file_winners} in the quotas"
            )
    chosen = winners if winners is not None else file_winners or DEFAULT_WINNERS
    categories: dict[str, CategoryQuota] = {}
    raw_categories = data.get("categories", {})
    if not isinstance(raw_categories, dict):
        raise ScoreSheetError("categories must be an object of {name: {min, max}}")
    for name, bounds in raw_categories.items():
        if not isinstance(bounds, dict) or set(bounds) - {"min", "max"}:
            raise ScoreSheetError(f"categories.{name} must be an object with min and/or max")
        low = _whole(bounds.get("min", 0), f"categories.{name}.min", 0)
        high = bounds.get("max")
        if high is not None:
            high = _whole(high, f"categories.{name}.max", 0)
        categories[name] = CategoryQuota(low, high)
    per_org = data.get("max_per_organization", 1)
    if per_org is not None:
        per_org = _whole(per_org, "max_per_organization", 1)
    return Quotas(chosen, categories, per_org)


def rank_score_sheet(
    rows: Iterable[Mapping[str, object] | ScoreRow],
    method: str = DEFAULT_METHOD,
    winners: int | None = None,
    quotas: Quotas | Mapping[str, object] | None = None,
    seed: int = 0,
    ridge: float = 0.0,
    scale: tuple[int, int] | None = None,
    cut: float | None = None,
) -> RankResult:
    """Calibrate a score sheet and select the winners: the official decision, replayable.

    ``rows`` are score-sheet rows (dicts with the sheet's columns, or ``ScoreRow``); ``quotas`` is
    a ``Quotas`` or the QUOTAS.json object; ``winners`` overrides (and must agree with) the quotas'
    number. ``scale`` is the rubric's (default: the sheet's ``scale`` column, else 1-10). With
    ``cut``, every entry whose calibrated score reaches the cut is chosen (a stage's advancement by
    score), and ``winners`` must not be given. Raises ``ScoreSheetError`` for malformed or
    infeasible input.
    """
    if method not in METHODS:
        raise ScoreSheetError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if winners is not None:
        _whole(winners, "--winners", 1)
    parsed = rows if _all_score_rows(rows) else parse_score_rows(rows, scale=scale)
    if cut is not None:
        if winners is not None:
            raise ScoreSheetError("give either --winners or --cut, not both")
        winners = _reaching_cut(parsed, method, ridge, cut)
        quotas = (
            {**dict(quotas or {}), "winners": winners} if not isinstance(quotas, Quotas) else quotas
        )
    if isinstance(quotas, Quotas):
        if winners is not None and winners != quotas.winners:
            raise ScoreSheetError(
                f"--winners {winners} disagrees with winners {quotas.winners} in the quotas"
            )
        chosen_quotas = quotas
    else:
        chosen_quotas = parse_quotas(dict(quotas or {}), winners)
    try:
        calibration = calibrate(
            (Review(r.entry_id, r.judge_id, r.score) for r in parsed), method, ridge
        )
        categories = {r.entry_id: r.category for r in parsed}
        organizations = {r.entry_id: r.organization for r in parsed}
        candidates = candidates_from_calibration(calibration, categories, organizations)
        selection = select_winners(candidates, chosen_quotas, seed)
    except (CalibrationError, QuotaInfeasible, SelectionError) as error:
        raise ScoreSheetError(
            str(error)
        ) from error  # the cause lets a page translate quota reasons
    return RankResult(method, seed, chosen_quotas, calibration, selection)


def _reaching_cut(parsed: list[ScoreRow], method: str, ridge: float, cut: float) -> int:
    """How many entries' calibrated scores reach ``cut`` (at least one, or the cut is an error)."""
    try:
        calibration = calibrate(
            (Review(r.entry_id, r.judge_id, r.score) for r in parsed), method, ridge
        )
    except CalibrationError as error:
        raise ScoreSheetError(str(error)) from error
    count = sum(1 for e in calibration.entries.values() if e.score >= cut)
    if count == 0:
        raise ScoreSheetError(f"no entry reaches the cut {cut:g}")
    return count


def _all_score_rows(rows: object) -> bool:
    """True for an already validated list from ``read_score_sheet`` or ``parse_score_rows``."""
    return isinstance(rows, list) and bool(rows) and all(isinstance(r, ScoreRow) for r in rows)


def rows_from_csv(text: str) -> list[dict[str, str]]:
    """A score sheet's CSV text (as the export writes it) as rows keyed by column."""
    return list(csv.DictReader(io.StringIO(text)))
