"""AI 50 Challenge commands for the ``hangang`` CLI: ``hangang challenge rank SCORES.csv ...``.

``challenge`` is a subcommand group: other modules add their ``challenge ...`` commands with
``challenge_group(subparsers).add_parser(...)``. The ranking itself is ``judging.compute.scoresheet``,
which the web app's selection uses too, so an exported sheet replayed here gives the same winners.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from judging.compute import blend, blend_advance
from judging.compute.calibration import DEFAULT_METHOD, METHODS
from judging.compute.candidates import Quotas
from judging.compute.rubric import RubricError, parse_scale
from judging.compute.scoresheet import (
    DEFAULT_WINNERS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    RankResult,
    ScoreRow,
    ScoreSheetError,
    cell_text,
    parse_quotas,
    parse_score_rows,
    rank_score_sheet,
)
from portal import backup


def read_score_sheet(path: str | Path, scale: tuple[int, int] | None = None) -> list[ScoreRow]:
    """Read and validate a score sheet CSV (UTF-8, with or without a byte-order mark).

    ``scale`` is ``--scale``: scores must lie on it (else on the sheet's ``scale`` column, else 1-10).
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            reader.fieldnames = _checked_columns(path, reader.fieldnames)

            def lines() -> Iterable[Mapping[str, object]]:
                for record in reader:
                    if None in record:
                        raise ScoreSheetError(
                            f"line {reader.line_num}: more cells than header columns"
                        )
                    if not any(cell_text(v) for v in record.values()):
                        continue  # a blank line, as spreadsheets leave at the end
                    yield _LineRecord(record, reader.line_num)

            try:
                return parse_score_rows(lines(), scale=scale)
            except ScoreSheetError as error:
                raise ScoreSheetError(f"{path}: {error}") from None
    except FileNotFoundError:
        raise ScoreSheetError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ScoreSheetError(f"{path}: not UTF-8 text") from None
    except csv.Error as error:
        raise ScoreSheetError(f"{path}: not a valid CSV file ({error})") from None


def _checked_columns(path: str | Path, header: Sequence[str] | None) -> list[str]:
    """The sheet's column names, stripped; the header must have the required ones and no others."""
    if not header:
        raise ScoreSheetError(f"{path}: the file is empty")
    columns = [c.strip() if c else "" for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ScoreSheetError(
            f"{path}: line 1: missing column {', '.join(missing)}; the header must be "
            "entry_id,judge_id,score with optional category,organization,scale"
        )
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise ScoreSheetError(f"{path}: line 1: unknown column {', '.join(map(repr, unknown))}")
    if len(set(columns)) != len(columns):
        raise ScoreSheetError(f"{path}: line 1: a column is named twice")
    return columns


class _LineRecord(dict):
    """A CSV record that remembers its physical line number."""

    def __init__(self, record: Mapping[str, object], line: int) -> None:
        super().__init__(record)
        self.line = line


def read_quotas(path: str | Path, winners: int | None = None) -> Quotas:
    """Read QUOTAS.json; JSON syntax errors name the line."""
    data = read_quotas_data(path)
    try:
        return parse_quotas(data, winners)
    except ScoreSheetError as error:
        raise ScoreSheetError(f"{path}: {error}") from None


def read_quotas_data(path: str | Path) -> dict:
    """QUOTAS.json as a JSON object (not yet checked against the quota rules)."""
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
    if not isinstance(data, dict):
        raise ScoreSheetError(f"{path}: quotas must be a JSON object")
    return data


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
    from judging.cli_assign import add_assign_command

    group = challenge_group(subparsers)
    add_rank_command(group)
    add_blend_command(group)
    add_assign_command(group)


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
    parser.add_argument(
        "--scale",
        metavar="MIN-MAX",
        type=_scale_argument,
        default=None,
        help="the rubric's scale, e.g. 0-100 (default: the sheet's scale column, else 1-10)",
    )
    parser.add_argument(
        "--cut",
        type=float,
        default=None,
        metavar="SCORE",
        help="choose every entry whose calibrated score reaches SCORE (a stage's advancement by "
        "score) instead of --winners",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(handler=run_rank)


def _scale_argument(text: str) -> tuple[int, int]:
    try:
        return parse_scale(text)
    except RubricError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_rank(args: argparse.Namespace) -> int:
    """Read the sheet and quotas, rank and print; 2 with a message on bad input."""
    try:
        rows = read_score_sheet(args.sheet, getattr(args, "scale", None))
        cut = getattr(args, "cut", None)
        if cut is not None:
            quotas_data = read_quotas_data(args.quotas) if args.quotas else {}
            result = rank_score_sheet(
                rows, args.method, args.winners, quotas_data, args.seed, cut=cut
            )
        else:
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


def add_blend_command(group: argparse._SubParsersAction) -> None:
    """``hangang challenge blend --sheet blend.csv``: replay a stage's blended ranking."""
    parser = group.add_parser(
        "blend",
        help="replay a stage's or a selection's blended ranking (experts, citizen panel, public vote) "
        "from its export",
        description="Recompute a stage's blended ranking from the exported blend.csv: each source "
        "normalised to 0-100, combined by the sheet's weights, ties broken by the published rule "
        "and seed (docs/judging.md, 'Blended results').",
    )
    parser.add_argument("--sheet", required=True, metavar="blend.csv", help="the exported blend sheet")
    parser.add_argument(
        "--count", type=int, default=None, metavar="N",
        help="a stage's advancement: the best N by blended score advance",
    )
    parser.add_argument(
        "--cut", type=float, default=None, metavar="SCORE",
        help="a stage's advancement: every entry whose blended score reaches SCORE (on the sheet's "
        "scale, rescaled to 0-100 like the expert scores) advances",
    )
    parser.add_argument(
        "--quotas", metavar="QUOTAS.json", default=None,
        help="a stage's advancement, or a selection's winners, under the quotas file (its winners are the "
        "number that go on; its max_per_organization limits the sheet's organization column)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(handler=run_blend)


def read_blend_sheet(path: str | Path) -> blend.BlendSheet:
    """Read an exported blend sheet (UTF-8, a byte-order mark is fine)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return blend.parse_blend_sheet(csv.DictReader(handle))
    except FileNotFoundError:
        raise blend.BlendError("no such file") from None
    except UnicodeDecodeError:
        raise blend.BlendError("not UTF-8 text") from None
    except csv.Error as error:
        raise blend.BlendError(f"not a valid CSV file ({error})") from None


def _blend_replay(args: argparse.Namespace, sheet: blend.BlendSheet) -> tuple[list, dict | None]:
    """The ranking, and who goes on under --count, --cut or --quotas (None without them)."""
    count, cut, quotas_file = getattr(args, "count", None), getattr(args, "cut", None), getattr(args, "quotas", None)
    if count is None and cut is None and quotas_file is None:
        return blend.blend(sheet.results, sheet.weights, sheet.seed, sheet.scale), None
    quotas = None
    if quotas_file:
        try:
            quotas = read_quotas_data(quotas_file)
        except ScoreSheetError as error:
            raise blend.BlendError(str(error)) from None
    return blend_advance.replay(sheet, quotas, count=count, cut=cut)


def run_blend(args: argparse.Namespace) -> int:
    """Print the replayed ranking (and who goes on under a rule); 2 with a message on bad input."""
    try:
        sheet = read_blend_sheet(args.sheet)
        weights, seed = sheet.weights, sheet.seed
        ranking, advancement = _blend_replay(args, sheet)
    except blend.BlendError as error:
        print(f"error: {args.sheet}: {error}", file=sys.stderr)
        return 2
    if args.json:
        document = blend_json(ranking, weights, seed)
        document["scale"] = f"{sheet.scale[0]}-{sheet.scale[1]}"
        if advancement is not None:
            document.update(
                {k: advancement[k] for k in ("advancing", "borderline", "total_score")}
            )
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    print(
        f"Weights: expert {weights.expert}, panel {weights.panel}, public {weights.public}   "
        f"Seed: {seed}   Scale: {sheet.scale[0]}-{sheet.scale[1]}"
    )
    flags = advancement["winner_flags"] if advancement else {}
    print(f"{'rank':>5}  {'entry':<14} {'expert':>8} {'panel':>8} {'public':>8} {'blended':>8}")
    for r in ranking:
        print(
            f"{r.rank:>5}  {r.entry_id:<14} {r.expert:>8.2f} {r.panel:>8.2f} {r.public:>8.2f} "
            f"{r.blended:>8.2f}{'  *' if flags.get(r.entry_id) else ''}"
        )
    if advancement is not None:
        print(f"\nAdvancing ({len(advancement['advancing'])})")
        print("\n".join(f"  {e}" for e in advancement["advancing"]))
        print("\nBorderline")
        for note in advancement["borderline"]:
            status = "in " if note["selected"] else "out"
            print(f"  {status} {note['entry_id']!s:<14} rank {note['rank']:>4}  {note['reason']}")
    return 0


def blend_json(ranking: list[blend.BlendedRow], weights: blend.Weights, seed: int) -> dict:
    """``{"weights", "seed", "ranking": [{"rank", "entry_id", "expert", "panel", "public", "blended"}]}``."""
    return {
        "weights": {"expert": weights.expert, "panel": weights.panel, "public": weights.public},
        "seed": seed,
        "ranking": [
            {
                "rank": r.rank,
                "entry_id": r.entry_id,
                "expert": r.expert,
                "panel": r.panel,
                "public": r.public,
                "blended": r.blended,
            }
            for r in ranking
        ],
    }
