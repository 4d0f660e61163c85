"""Read and write the pabulib ``.pb`` format (pure: strings in, strings out).

A ``.pb`` file has three sections, ``META``, ``PROJECTS`` and ``VOTES``, each a line with the
section name, a header line and semicolon-separated rows (CSV quoting with ``""`` for a quote
mark). Lists inside a field (the projects on a ballot, their points) are comma-separated.
See https://pabulib.org/format.

Usage::

    pb = parse_pb(text)              # or read_pb(path); raises PabulibError("line 12: ...")
    pb.budget, pb.vote_type, pb.costs, pb.ballots, pb.threshold
    text = format_pb(pb)             # parse_pb(format_pb(pb)) == pb
    projects, budget, ballots, ballot_type = pb.election()   # inputs of voting.compute.tally

Numbers (costs, budget, points) are kept exact: an ``int`` when whole, else a ``Fraction``
(``"1000.50"`` and ``"1000,50"`` both read as 2001/2, as in pabutools). Every row keeps its raw
text fields, so writing a parsed file gives back the same fields.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from voting.compute.tally import Ballot, BallotType, Project

SECTIONS = ("meta", "projects", "votes")
VOTE_TYPES = ("approval", "choose-1", "cumulative", "scoring", "ordinal")
# META fields that must hold a number when present.
NUMERIC_META = (
    "budget",
    "num_projects",
    "num_votes",
    "min_length",
    "max_length",
    "min_sum_cost",
    "max_sum_cost",
    "min_points",
    "max_points",
    "min_sum_points",
    "max_sum_points",
    "min_project_score_threshold",
)
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")

Number = int | Fraction


class PabulibError(ValueError):
    """A malformed ``.pb`` file; ``str()`` names the line and the problem."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        self.problem = message
        super().__init__(f"line {line}: {message}" if line else message)


def parse_number(text: str) -> Number:
    """Read a decimal number exactly (``int`` when whole), accepting a decimal comma."""
    text = text.strip()
    if not _NUMBER.match(text):
        raise ValueError(f"{text!r} is not a number")
    value = Fraction(text.replace(",", "."))
    return int(value) if value.denominator == 1 else value


def format_number(value: Number) -> str:
    """Write an exact number as pabulib text: an integer, or a finite decimal when possible."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        raise ValueError(f"{value} has no finite decimal form")
    digits = max(twos, fives)
    scaled = value * 10**digits
    sign = "-" if scaled < 0 else ""
    whole, frac_part = divmod(abs(int(scaled)), 10**digits)
    return f"{sign}{whole}.{frac_part:0{digits}d}"


@dataclass
class PbFile:
    """One parsed ``.pb`` file: raw text fields plus exact, validated views of them."""

    meta: dict[str, str]
    project_columns: list[str]
    projects: list[dict[str, str]]
    vote_columns: list[str]
    votes: list[dict[str, str]]
    # Parsed views, filled by parse_pb / validate(); not compared, not written.
    costs: dict[str, Number] = field(default_factory=dict, compare=False, repr=False)
    ballots: list[Ballot] = field(default_factory=list, compare=False, repr=False)

    @property
    def vote_type(self) -> str:
        """The META ``vote_type`` (approval, choose-1, cumulative, scoring or ordinal)."""
        return self.meta["vote_type"].strip()

    @property
    def ballot_type(self) -> BallotType:
        """The ballot kind voting.compute.tally uses: approval, cumulative (points) or ordinal."""
        kind = self.vote_type
        if kind in ("approval", "choose-1"):
            return "approval"
        if kind in ("cumulative", "scoring"):
            return "cumulative"
        return "ordinal"

    @property
    def budget(self) -> Number:
        """The total budget from META."""
        return parse_number(self.meta["budget"])

    @property
    def rule(self) -> str | None:
        """The rule the city used, as META ``rule`` names it."""
        return self.meta.get("rule")

    @property
    def threshold(self) -> Number | None:
        """META ``min_project_score_threshold``: the score a project needs to win, if any."""
        text = self.meta.get("min_project_score_threshold", "").strip()
        return parse_number(text) if text else None

    def meta_number(self, key: str) -> Number | None:
        """A numeric META field (such as ``min_length`` or ``max_sum_cost``), or None."""
        text = self.meta.get(key, "").strip()
        return parse_number(text) if text and text.lower() != "none" else None

    def election(self) -> tuple[list[Project], Number, list[Ballot], BallotType]:
        """The tally inputs: projects in file order, budget, ballots and ballot type."""
        projects = [Project(pid, cost) for pid, cost in self.costs.items()]
        return projects, self.budget, list(self.ballots), self.ballot_type

    def validate(self) -> None:
        """Check every field and fill ``costs`` and ``ballots``; raise PabulibError if bad."""
        _check_meta(self.meta, None)
        self.costs = {}
        for row in self.projects:
            _read_project(row, self.costs, None)
        self.ballots = [_read_vote(row, self.vote_type, self.costs, None) for row in self.votes]
        _check_counts(self, None)


def read_pb(path: str | Path) -> PbFile:
    """Read a ``.pb`` file from disk (UTF-8, optional byte-order mark)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PabulibError(f"the file is not UTF-8 text (byte {exc.start})") from None
    return parse_pb(text)


class _Parser:
    """A ``.pb`` file read row by row: which section we are in, its header, and what was read so far."""

    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.meta_line: dict[str, int] = {}
        self.project_columns: list[str] = []
        self.vote_columns: list[str] = []
        self.projects: list[dict[str, str]] = []
        self.votes: list[dict[str, str]] = []
        self.costs: dict[str, Number] = {}
        self.ballots: list[Ballot] = []
        self.seen: list[str] = []
        self.section = ""
        self.header: list[str] | None = None
        self.voter_ids: set[str] = set()

    def feed(self, row: list[str], line: int) -> None:
        if not row or (len(row) == 1 and not row[0].strip()):
            return
        name = row[0].strip().lower()
        if name in SECTIONS and all(not cell.strip() for cell in row[1:]):
            self._start_section(name, line)
        elif not self.section:
            raise PabulibError("the file must start with a META line", line)
        elif self.header is None:
            self._read_header(row, line)
        elif self.section == "meta":
            self._read_meta(row, line)
        elif self.section == "projects":
            record = _row_as_record(row, self.header, line)
            _read_project(record, self.costs, line)
            self.projects.append(record)
        else:
            self._read_voter(_row_as_record(row, self.header, line), line)

    def _start_section(self, name: str, line: int) -> None:
        expected = SECTIONS[len(self.seen)] if len(self.seen) < 3 else None
        if name != expected:
            want = expected.upper() if expected else "nothing"
            raise PabulibError(f"section {name.upper()} found where {want} was expected", line)
        self.seen.append(name)
        self.section, self.header = name, None

    def _read_header(self, row: list[str], line: int) -> None:
        self.header = [cell.strip() for cell in row]
        _check_header(self.section, self.header, line)
        if self.section == "projects":
            _check_meta(self.meta, self.meta_line)
            self.project_columns = self.header
        elif self.section == "votes":
            self.vote_columns = self.header

    def _read_meta(self, row: list[str], line: int) -> None:
        if len(row) < 2 or any(cell.strip() for cell in row[2:]):
            raise PabulibError("a META row must be 'key;value'", line)
        key = row[0].strip()
        if key in self.meta:
            raise PabulibError(f"META key {key!r} appears twice", line)
        self.meta[key], self.meta_line[key] = row[1].strip(), line

    def _read_voter(self, record: dict[str, str], line: int) -> None:
        voter = record.get("voter_id", "")
        if voter in self.voter_ids:
            raise PabulibError(f"voter_id {voter!r} appears twice", line)
        self.voter_ids.add(voter)
        self.ballots.append(_read_vote(record, self.meta["vote_type"], self.costs, line))
        self.votes.append(record)

    def finish(self) -> PbFile:
        if len(self.seen) < 3 or self.header is None:
            missing = [s.upper() for s in SECTIONS[len(self.seen) :]] or ["the VOTES header"]
            raise PabulibError(f"the file ends before {', '.join(missing)}")
        pb = PbFile(
            self.meta,
            self.project_columns,
            self.projects,
            self.vote_columns,
            self.votes,
            self.costs,
            self.ballots,
        )
        _check_counts(pb, self.meta_line)
        return pb


def parse_pb(text: str) -> PbFile:
    """Parse the text of a ``.pb`` file; CRLF, LF or a mix, with or without a BOM."""
    parser = _Parser()
    reader = csv.reader(text.removeprefix("\ufeff").splitlines(), delimiter=";")
    try:
        for row in reader:
            parser.feed(row, reader.line_num)
    except csv.Error as exc:
        raise PabulibError(f"unreadable CSV: {exc}", reader.line_num) from None
    return parser.finish()


def format_pb(pb: PbFile, newline: str = "\n") -> str:
    """Write a PbFile as ``.pb`` text (fields quoted only where needed)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator=newline, quoting=csv.QUOTE_MINIMAL)

    def emit(cells: list[str]) -> None:
        for cell in cells:
            if "\n" in cell or "\r" in cell:
                raise PabulibError(f"a field may not contain a line break: {cell[:40]!r}")
        writer.writerow(cells)

    emit(["META"])
    emit(["key", "value"])
    for key, value in pb.meta.items():
        emit([key, value])
    emit(["PROJECTS"])
    emit(pb.project_columns)
    for row in pb.projects:
        emit([row.get(col, "") for col in pb.project_columns])
    emit(["VOTES"])
    emit(pb.vote_columns)
    for row in pb.votes:
        emit([row.get(col, "") for col in pb.vote_columns])
    return out.getvalue()


def write_pb(pb: PbFile, path: str | Path, newline: str = "\n") -> None:
    """Write a PbFile to disk as UTF-8 without a byte-order mark."""
    Path(path).write_text(format_pb(pb, newline), encoding="utf-8", newline="")


def _check_header(section: str, header: list[str], line: int) -> None:
    if len(set(header)) != len(header):
        raise PabulibError(f"the {section.upper()} header repeats a column", line)
    required = {
        "meta": ("key", "value"),
        "projects": ("project_id", "cost"),
        "votes": ("voter_id", "vote"),
    }
    for column in required[section]:
        if column not in header:
            raise PabulibError(f"the {section.upper()} header has no {column!r} column", line)
    if header[0] != required[section][0]:
        raise PabulibError(
            f"the {section.upper()} header must start with {required[section][0]!r}", line
        )


def _check_meta(meta: dict[str, str], lines: dict[str, int] | None) -> None:
    where = lines or {}
    for key in ("budget", "vote_type"):
        if not meta.get(key):
            raise PabulibError(f"META has no {key!r}", max(where.values(), default=None))
    if meta["vote_type"] not in VOTE_TYPES:
        raise PabulibError(
            f"unknown vote_type {meta['vote_type']!r} (expected one of {', '.join(VOTE_TYPES)})",
            where.get("vote_type"),
        )
    for key in NUMERIC_META:
        text = meta.get(key, "").strip()
        if text and text.lower() != "none":
            try:
                value = parse_number(text)
            except ValueError:
                raise PabulibError(
                    f"META {key} is not a number: {text!r}", where.get(key)
                ) from None
            if value < 0:
                raise PabulibError(f"META {key} is negative: {text!r}", where.get(key))


def _row_as_record(row: list[str], header: list[str], line: int) -> dict[str, str]:
    if len(row) != len(header):
        raise PabulibError(
            f"expected {len(header)} fields as in the header, found {len(row)}", line
        )
    return {col: cell.strip() for col, cell in zip(header, row, strict=True)}


def _read_project(record: dict[str, str], costs: dict[str, Number], line: int | None) -> None:
    pid = record.get("project_id", "").strip()
    if not pid:
        raise PabulibError("a project has an empty project_id", line)
    if "," in pid:
        raise PabulibError(f"project_id {pid!r} contains a comma", line)
    if pid in costs:
        raise PabulibError(f"project_id {pid!r} appears twice", line)
    try:
        cost = parse_number(record.get("cost", ""))
    except ValueError:
        raise PabulibError(
            f"project {pid}: cost is not a number: {record.get('cost')!r}", line
        ) from None
    if cost < 0:
        raise PabulibError(f"project {pid}: cost is negative", line)
    costs[pid] = cost


def _read_vote(
    record: dict[str, str], vote_type: str, costs: dict[str, Number], line: int | None
) -> Ballot:
    voter = record.get("voter_id", "")
    if not voter:
        raise PabulibError("a vote has an empty voter_id", line)
    text = record.get("vote", "")
    ids = [pid.strip() for pid in text.split(",")] if text.strip() else []
    for pid in ids:
        if pid not in costs:
            raise PabulibError(f"voter {voter}: unknown project {pid!r}", line)
    if len(set(ids)) != len(ids):
        raise PabulibError(f"voter {voter}: a project appears twice on the ballot", line)
    if vote_type in ("approval", "choose-1"):
        return frozenset(ids)
    if vote_type == "ordinal":
        return tuple(ids)
    points_text = record.get("points", "")
    points = [p.strip() for p in points_text.split(",")] if points_text.strip() else []
    if len(points) != len(ids):
        raise PabulibError(f"voter {voter}: {len(ids)} projects but {len(points)} points", line)
    ballot: dict[str, Number] = {}
    for pid, value in zip(ids, points, strict=True):
        try:
            ballot[pid] = parse_number(value)
        except ValueError:
            raise PabulibError(f"voter {voter}: points {value!r} are not a number", line) from None
    return ballot


def _check_counts(pb: PbFile, lines: dict[str, int] | None) -> None:
    where = lines or {}
    for key, actual in (("num_projects", len(pb.projects)), ("num_votes", len(pb.votes))):
        text = pb.meta.get(key, "").strip()
        if text and parse_number(text) != actual:
            raise PabulibError(f"META {key} is {text} but the file has {actual}", where.get(key))
