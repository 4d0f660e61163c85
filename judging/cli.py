"""AI 50 Challenge commands for the ``hangang`` CLI: ``hangang challenge rank SCORES.csv ...``.

``challenge`` is a subcommand group: other modules add their ``challenge ...`` commands with
``challenge_group(subparsers).add_parser(...)``. ``rank_score_sheet`` is the one function both this
command and the web app's export use, so an exported sheet replayed here gives the same winners.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judging.compute.calibration import (
    DEFAULT_METHOD,
    METHODS,
    Calibration,
    CalibrationError,
    Review,
    calibrate,
)
from judging.compute.rubric import MAX_SCORE, MIN_SCORE
from judging.compute.selection import (
    CategoryQuota,
    QuotaInfeasible,
    Quotas,
    Selection,
    SelectionError,
    candidates_from_calibration,
    select_winners,
)
from portal import backup

REQUIRED_COLUMNS = ("entry_id", "judge_id", "score")
OPTIONAL_COLUMNS = ("category", "organization")
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


def _text(value: object) -> str | None:
    """A cell as stripped text; empty cells are None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_score_rows(
    rows: Iterable[Mapping[str, object] | ScoreRow], first_line: int = 2
) -> list[ScoreRow]:
    """Validate score rows (dicts keyed by column or ``ScoreRow``); errors name the line.

    Line numbers count the header as line 1, as a spreadsheet shows them.
    """
    parsed: list[ScoreRow] = []
    seen: dict[tuple[str, str], int] = {}
    entry_facts: dict[str, tuple[str | None, str | None, int]] = {}
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
        parsed.append(_parse_row(row, line, seen, entry_facts))
    if not parsed:
        raise ScoreSheetError("the score sheet has no scores")
    return parsed


def _parse_row(
    row: Mapping[str, object],
    line: int,
    seen: dict[tuple[str, str], int],
    entry_facts: dict[str, tuple[str | None, str | None, int]],
) -> ScoreRow:
    entry_id = _text(row.get("entry_id"))
    judge_id = _text(row.get("judge_id"))
    raw_score = _text(row.get("score"))
    for name, value in (("entry_id", entry_id), ("judge_id", judge_id), ("score", raw_score)):
        if value is None:
            raise ScoreSheetError(f"line {line}: {name} is empty")
    try:
        score = float(raw_score)
    except ValueError:
        raise ScoreSheetError(f"line {line}: score {raw_score!r} is not a number") from None
    if not math.isfinite(score):
        raise ScoreSheetError(f"line {line}: score {raw_score!r} is not a number")
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ScoreSheetError(
            f"line {line}: score {raw_score} is outside the rubric scale {MIN_SCORE}-{MAX_SCORE}"
        )
    pair = (entry_id, judge_id)
    if pair in seen:
        raise ScoreSheetError(
            f"line {line}: judge {judge_id} already scored entry {entry_id} on line {seen[pair]}"
        )
    seen[pair] = line
    category = _text(row.get("category"))
    organization = _text(row.get("organization"))
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


def read_score_sheet(path: str | Path) -> list[ScoreRow]:
    """Read and validate a score sheet CSV (UTF-8, with or without a byte-order mark)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise ScoreSheetError(f"{path}: the file is empty")
            columns = [c.strip() if c else "" for c in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise ScoreSheetError(
                    f"{path}: line 1: missing column {', '.join(missing)}; the header must be "
                    "entry_id,judge_id,score with optional category,organization"
                )
            unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
            if unknown:
                raise ScoreSheetError(
                    f"{path}: line 1: unknown column {', '.join(map(repr, unknown))}"
                )
            if len(set(columns)) != len(columns):
                raise ScoreSheetError(f"{path}: line 1: a column is named twice")
            reader.fieldnames = columns

            def lines() -> Iterable[Mapping[str, object]]:
                for record in reader:
                    if None in record:
                        raise ScoreSheetError(
                            f"line {reader.line_num}: more cells than header columns"
                        )
                    if not any(_text(v) for v in record.values()):
                        continue  # a blank line, as spreadsheets leave at the end
                    yield _LineRecord(record, reader.line_num)

            try:
                return parse_score_rows(lines())
            except ScoreSheetError as error:
                raise ScoreSheetError(f"{path}: {error}") from None
    except FileNotFoundError:
        raise ScoreSheetError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ScoreSheetError(f"{path}: not UTF-8 text") from None
    except csv.Error as error:
        raise ScoreSheetError(f"{path}: not a valid CSV file ({error})") from None


class _LineRecord(dict):
    """A CSV record that remembers its physical line number."""

    def __init__(self, record: Mapping[str, object], line: int) -> None:
        super().__init__(record)
        self.line = line


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


def read_quotas(path: str | Path, winners: int | None = None) -> Quotas:
    """Read QUOTAS.json; JSON syntax errors name the line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScoreSheetError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ScoreSheetError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScoreSheetError(
            f"{path}: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    try:
        return parse_quotas(data, winners)
    except ScoreSheetError as error:
        raise ScoreSheetError(f"{path}: {error}") from None


def rank_score_sheet(
    rows: Iterable[Mapping[str, object] | ScoreRow],
    method: str = DEFAULT_METHOD,
    winners: int | None = None,
    quotas: Quotas | Mapping[str, object] | None = None,
    seed: int = 0,
    ridge: float = 0.0,
) -> RankResult:
    """Calibrate a score sheet and select the winners: the official decision, replayable.

    ``rows`` are score-sheet rows (dicts with the sheet's columns, or ``ScoreRow``); ``quotas`` is
    a ``Quotas`` or the QUOTAS.json object; ``winners`` overrides (and must agree with) the quotas'
    number. Raises ``ScoreSheetError`` for malformed or infeasible input.
    """
    if method not in METHODS:
        raise ScoreSheetError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if winners is not None:
        _whole(winners, "--winners", 1)
    parsed = rows if _all_score_rows(rows) else parse_score_rows(rows)
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
        raise ScoreSheetError(str(error)) from error  # the cause lets a page translate quota reasons
    return RankResult(method, seed, chosen_quotas, calibration, selection)


def _all_score_rows(rows: object) -> bool:
    """True for an already validated list from ``read_score_sheet`` or ``parse_score_rows``."""
    return isinstance(rows, list) and bool(rows) and all(isinstance(r, ScoreRow) for r in rows)


def challenge_group(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``challenge`` command group, created on first use and shared by later callers."""
    existing = subparsers.choices.get("challenge")
    if existing is not None:
        for action in existing._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
    parser = subparsers.add_parser(
        "challenge",
        help="AI 50 Challenge commands",
        description="AI 50 Challenge commands: rank a score sheet, and more.",
    )
    group = parser.add_subparsers(dest="challenge_command", metavar="COMMAND")

    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=show_help)
    return group


@backup.counted
async def entry_count() -> backup.Counts:
    """Printed after ``hangang restore``."""
    from judging.tables import Entry

    return [("challenge entries", await Entry.count())]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the challenge commands to the ``hangang`` parser."""
    add_rank_command(challenge_group(subparsers))


def add_rank_command(group: argparse._SubParsersAction) -> None:
    """``hangang challenge rank``: calibrate a score sheet and choose the winners."""
    parser = group.add_parser(
        "rank",
        help="calibrate a score sheet and choose the winners under quotas",
        description="Calibrate judges' scores and choose the winners that maximize the total "
        "calibrated score under the quotas. The sheet's header is entry_id,judge_id,score with "
        "optional category,organization; see docs/judging.md.",
    )
    parser.add_argument("sheet", metavar="SCORES.csv", help="the score sheet")
    parser.add_argument(
        "--method", choices=METHODS, default=DEFAULT_METHOD, help="calibration (default additive)"
    )
    parser.add_argument(
        "--winners",
        type=int,
        default=None,
        help=f"number of winners (default: the quotas' number, else {DEFAULT_WINNERS})",
    )
    parser.add_argument("--quotas", metavar="QUOTAS.json", default=None, help="quota file")
    parser.add_argument(
        "--seed", type=int, default=0, help="published seed of the final tie-break lot (default 0)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(handler=run_rank)


def run_rank(args: argparse.Namespace) -> int:
    """Read the sheet and quotas, rank and print; 2 with a message on bad input."""
    try:
        rows = read_score_sheet(args.sheet)
        if args.quotas:
            quotas: Quotas | None = read_quotas(args.quotas, args.winners)
        else:
            quotas = parse_quotas({}, args.winners)
        result = rank_score_sheet(rows, args.method, args.winners, quotas, args.seed)
    except ScoreSheetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_result(result, rows))
    return 0


def format_result(result: RankResult, rows: list[ScoreRow]) -> str:
    """Human-readable ranking, winners, judge offsets and borderline."""
    facts = {r.entry_id: (r.category or "", r.organization or "") for r in rows}
    entries = result.calibration.entries
    quotas = result.quotas
    lines = [
        f"Method: {result.method}   Seed: {result.seed}   Entries: {len(entries)}   "
        f"Reviews: {len(rows)}   Winners: {quotas.winners}   "
        f"Max per organization: {quotas.max_per_organization or 'no limit'}",
    ]
    if result.calibration.components > 1:
        lines.append(
            f"Note: the judge-entry graph has {result.calibration.components} separate pieces; "
            "offsets are fitted per piece."
        )
    lines += [
        "",
        "Ranking",
        f"{'rank':>5}  {'entry':<14} {'score':>10} {'raw mean':>9} {'disagr.':>8} {'revs':>4}  "
        f"{'category':<18} {'organization':<18} winner",
    ]
    for r in result.selection.ranking:
        e = entries[r.entry_id]
        category, organization = facts.get(r.entry_id, ("", ""))
        lines.append(
            f"{r.rank:>5}  {r.entry_id!s:<14} {r.score:>10.4f} {e.raw_mean:>9.4f} "
            f"{e.disagreement:>8.4f} {e.reviews:>4}  {category:<18} {organization:<18} "
            f"{'*' if r.winner else ''}"
        )
    lines += ["", f"Winners ({len(result.selection.winners)})"]
    lines += [f"  {w}" for w in result.selection.winners]
    lines += ["", "Judge offsets"]
    lines += [f"  {j!s:<14} {o:+.4f}" for j, o in sorted(result.calibration.judge_offsets.items())]
    lines += ["", "Borderline"]
    for note in result.selection.borderline:
        status = "in " if note.selected else "out"
        lines.append(
            f"  {status} {note.entry_id!s:<14} rank {note.rank:>4}  score {note.score:.4f}  {note.reason}"
        )
    return "\n".join(lines)
