"""A stage's blended ranking: expert, citizen panel and public vote results combined by published weights.

Pure: per-entry results and the weights in, the ranking out. The officials' page, the exports and
``hangang challenge blend --sheet FILE`` all call ``blend``, so the exported sheet replays to the same
ranking (docs/judging.md, "Blended results").

Each source is put on a 0-100 scale:

* **expert**: the entry's calibrated score on the stage's rubric scale ``MIN-MAX`` (e.g. 1-10 or 0-100)
  rescaled, ``(score - MIN) / (MAX - MIN) x 100`` (clamped to the scale);
* **panel**: the mean of the panelists' rubric totals (the same scale) rescaled the same way;
* **public**: the entry's votes as a share of the most-voted entry's, ``votes / max votes x 100``
  (0 for every entry when nobody voted).

An entry without a result from a source (no review, no panel score) gets 0 from it. The blended score
is ``(w_expert x expert + w_panel x panel + w_public x public) / 100``, computed exactly with fractions
from the six-decimal inputs; shown with two decimals. **Ties** are broken, in order, by: the expert
value, the panel value, the public value (each higher first), then the seeded lot
``sha256("<seed>:<entry_id>")`` as hex, lower first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

SOURCES = ("expert", "panel", "public")
SHEET_COLUMNS = (
    "rank",
    "entry_id",
    "title",
    "expert_score",
    "panel_score",
    "public_votes",
    "expert",
    "panel",
    "public",
    "blended",
    "weight_expert",
    "weight_panel",
    "weight_public",
    "seed",
    "scale",
    "category",
)
OPTIONAL_COLUMNS = frozenset({"scale", "category"})  # sheets exported before them are 1-10, no categories
# The final selection's sheet adds each entry's pseudonymous organization (its per-organization limit).
ORGANIZATION_COLUMN = "organization"
SCALE_LOW, SCALE_HIGH = 1, 10
DEFAULT_SCALE = (SCALE_LOW, SCALE_HIGH)


class BlendError(ValueError):
    """Weights or a blend sheet that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Weights:
    """Whole percentage points per source, summing to 100."""

    expert: int
    panel: int
    public: int

    def check(self) -> Weights:
        values = (self.expert, self.panel, self.public)
        if any(v < 0 or v > 100 for v in values):
            raise BlendError("each weight must be a whole number from 0 to 100")
        if sum(values) != 100:
            raise BlendError(f"the weights must sum to 100 (they sum to {sum(values)})")
        return self

    def label(self) -> str:
        return f"{self.expert}/{self.panel}/{self.public}"


@dataclass(frozen=True)
class SourceResult:
    """One entry's raw results: calibrated expert score, mean panel score (None: none), votes."""

    entry_id: str
    expert_score: float | None
    panel_score: float | None
    public_votes: int


@dataclass(frozen=True)
class BlendedRow:
    """One entry of the blended ranking, raw results and their 0-100 values side by side."""

    rank: int
    entry_id: str
    expert_score: float | None
    panel_score: float | None
    public_votes: int
    expert: float
    panel: float
    public: float
    blended: float


def exact(value: float) -> Fraction:
    """A six-decimal input as an exact fraction (the same the sheet prints)."""
    return Fraction(f"{value:.6f}")


def rescaled(score: float | None, scale: tuple[int, int] = DEFAULT_SCALE) -> Fraction:
    """A score on the rubric scale ``(low, high)`` on 0-100; no score is 0."""
    if score is None:
        return Fraction(0)
    low, high = scale
    clamped = min(max(exact(score), Fraction(low)), Fraction(high))
    return (clamped - low) * 100 / (high - low)


def check_scale(scale: tuple[int, int]) -> tuple[int, int]:
    low, high = scale
    if not low < high:
        raise BlendError(f"the scale {low}-{high} is empty: its minimum must be below its maximum")
    return scale


def lot(seed: int, entry_id: str) -> str:
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def _six(value: Fraction) -> float:
    return round(float(value), 6)


def blend(
    results: Iterable[SourceResult], weights: Weights, seed: int, scale: tuple[int, int] = DEFAULT_SCALE
) -> list[BlendedRow]:
    """The blended ranking, best first, with ranks 1..n (no shared ranks: ties go to the chain).
    ``scale`` is the stage's rubric scale the expert and panel scores are on."""
    weights.check()
    check_scale(scale)
    items = list(results)
    if len({r.entry_id for r in items}) != len(items):
        raise BlendError("an entry appears twice")
    most = max((r.public_votes for r in items), default=0)
    scored = []
    for r in items:
        expert = rescaled(r.expert_score, scale)
        panel = rescaled(r.panel_score, scale)
        public = Fraction(r.public_votes * 100, most) if most else Fraction(0)
        total = (weights.expert * expert + weights.panel * panel + weights.public * public) / 100
        scored.append((r, expert, panel, public, total))
    scored.sort(key=lambda s: (-s[4], -s[1], -s[2], -s[3], lot(seed, s[0].entry_id)))
    return [
        BlendedRow(
            rank=rank,
            entry_id=r.entry_id,
            expert_score=None if r.expert_score is None else round(r.expert_score, 6),
            panel_score=None if r.panel_score is None else round(r.panel_score, 6),
            public_votes=r.public_votes,
            expert=_six(expert),
            panel=_six(panel),
            public=_six(public),
            blended=_six(total),
        )
        for rank, (r, expert, panel, public, total) in enumerate(scored, start=1)
    ]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def sheet_columns(organizations: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The sheet's header: ``SHEET_COLUMNS``, and ``organization`` when the sheet carries them."""
    return SHEET_COLUMNS + ((ORGANIZATION_COLUMN,) if organizations is not None else ())


def sheet_rows(
    rows: Iterable[BlendedRow],
    titles: Mapping[str, str],
    weights: Weights,
    seed: int,
    scale: tuple[int, int] = DEFAULT_SCALE,
    categories: Mapping[str, str] | None = None,
    organizations: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """The export's rows under ``sheet_columns(organizations)`` (every value as text)."""
    categories = categories or {}
    extra = (lambda entry_id: [organizations.get(entry_id, "")]) if organizations is not None else (lambda _: [])
    return [
        [
            str(r.rank),
            r.entry_id,
            titles.get(r.entry_id, ""),
            _number(r.expert_score),
            _number(r.panel_score),
            str(r.public_votes),
            _number(r.expert),
            _number(r.panel),
            _number(r.public),
            _number(r.blended),
            str(weights.expert),
            str(weights.panel),
            str(weights.public),
            str(seed),
            f"{scale[0]}-{scale[1]}",
            categories.get(r.entry_id, ""),
            *extra(r.entry_id),
        ]
        for r in rows
    ]


def _optional_float(text: str, line: int, column: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise BlendError(f"line {line}: {column} is not a number: {text!r}") from None


def _whole(text: str, line: int, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BlendError(f"line {line}: {column} is not a whole number: {text!r}") from None


@dataclass(frozen=True)
class BlendSheet:
    """A parsed blend sheet: the raw results, weights, seed, the stage's scale, entry categories and
    (a final selection's sheet) pseudonymous organizations."""

    results: list[SourceResult]
    weights: Weights
    seed: int
    scale: tuple[int, int]
    categories: dict[str, str]
    organizations: dict[str, str] = field(default_factory=dict)


def _scale(text: str, line: int) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    if not sep or not low.isdigit() or not high.isdigit():
        raise BlendError(f"line {line}: scale is not MIN-MAX, e.g. 1-10 or 0-100: {text!r}")
    return check_scale((int(low), int(high)))


def parse_sheet(records: Iterable[Mapping[str, str]]) -> tuple[list[SourceResult], Weights, int]:
    """The raw results, weights and seed of an exported blend sheet (see ``parse_blend_sheet``)."""
    sheet = parse_blend_sheet(records)
    return sheet.results, sheet.weights, sheet.seed


def parse_blend_sheet(records: Iterable[Mapping[str, str]]) -> BlendSheet:
    """An exported blend sheet (the computed columns are ignored: a replay recomputes them).
    ``records`` map column names to cell text, from line 2 on. A sheet without a ``scale`` column
    (exported before stages had their own scales) is on 1-10."""
    results: list[SourceResult] = []
    settings: set[tuple[int, int, int, int]] = set()
    scales: set[tuple[int, int]] = set()
    categories: dict[str, str] = {}
    organizations: dict[str, str] = {}
    for line, record in enumerate(records, start=2):
        cells = {k.strip(): (v or "").strip() for k, v in record.items() if k}
        missing = [c for c in SHEET_COLUMNS if c not in cells and c not in OPTIONAL_COLUMNS]
        if missing:
            raise BlendError(f"missing column {', '.join(missing)}")
        if not cells["entry_id"]:
            raise BlendError(f"line {line}: entry_id is empty")
        results.append(
            SourceResult(
                cells["entry_id"],
                _optional_float(cells["expert_score"], line, "expert_score"),
                _optional_float(cells["panel_score"], line, "panel_score"),
                _whole(cells["public_votes"], line, "public_votes"),
            )
        )
        settings.add(
            tuple(_whole(cells[c], line, c) for c in ("weight_expert", "weight_panel", "weight_public", "seed"))  # type: ignore[arg-type]
        )
        scales.add(_scale(cells["scale"], line) if cells.get("scale") else DEFAULT_SCALE)
        if cells.get("category"):
            categories[cells["entry_id"]] = cells["category"]
        if cells.get(ORGANIZATION_COLUMN):
            organizations[cells["entry_id"]] = cells[ORGANIZATION_COLUMN]
    if not results:
        raise BlendError("the sheet has no entries")
    if len(settings) != 1:
        raise BlendError("the weights and seed must be the same on every line")
    if len(scales) != 1:
        raise BlendError("the scale must be the same on every line")
    expert, panel, public, seed = settings.pop()
    return BlendSheet(
        results, Weights(expert, panel, public).check(), seed, scales.pop(), categories, organizations
    )
