"""``hangang challenge assign PROBLEM.json``: run the judge assignment on a file and report the bids.

The file: ``{"reviews_per_entry": 3, "seed": 0, "entries": [{"id": "E1", "category": "welfare"}],
"judges": [{"id": "J1", "expertise": ["welfare"]}], "conflicts": [["J1", "E2"]],
"bids": [{"judge": "J1", "entry": "E1", "level": "eager"}]}`` (every key but entries and judges is
optional). It prints the pairs, each judge's load and how many assignments got each bid level, the
same figures the officials' round page shows; ``--json`` prints them as one object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from judging.compute.assignment import (
    DEFAULT_REVIEWS_PER_ENTRY,
    AssignmentInfeasible,
    Entry,
    Judge,
    assign_judges,
)


class ProblemError(ValueError):
    """The problem file is missing, not JSON or not in the documented shape."""


def add_assign_command(group: argparse._SubParsersAction) -> None:
    parser = group.add_parser(
        "assign",
        help="assign judges to entries from a problem file and report the bids",
        description="Run the min-cost-flow judge assignment (conflicts blocked, expertise and eager "
        "bids preferred, 'not qualified' only when unavoidable) on PROBLEM.json; see docs/judging.md.",
    )
    parser.add_argument("problem", metavar="PROBLEM.json")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(handler=run_assign)


def read_problem(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ProblemError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise ProblemError(f"{path}: line {error.lineno}, column {error.colno}: {error.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list) or not isinstance(data.get("judges"), list):
        raise ProblemError(f"{path}: expected an object with lists 'entries' and 'judges'")
    return data


def solve_problem(data: dict[str, Any]) -> dict[str, Any]:
    """The assignment of a parsed problem file as a JSON-ready object."""
    try:
        entries = [Entry(e["id"], e.get("category")) for e in data["entries"]]
        judges = [Judge(j["id"], frozenset(j.get("expertise") or ())) for j in data["judges"]]
        conflicts = [tuple(pair) for pair in data.get("conflicts") or []]
        bids = {(b["judge"], b["entry"]): b["level"] for b in data.get("bids") or []}
        per_entry = int(data.get("reviews_per_entry", DEFAULT_REVIEWS_PER_ENTRY))
        seed = int(data.get("seed", 0))
    except (KeyError, TypeError, ValueError) as error:
        raise ProblemError(f"malformed problem: {error}") from None
    result = assign_judges(
        entries, judges, conflicts=conflicts, reviews_per_entry=per_entry, seed=seed, bids=bids,
        require_connected=per_entry >= 2,
    )
    return {
        "pairs": [list(p) for p in result.pairs],
        "loads": {str(j): n for j, n in result.loads.items()},
        "expert_matches": result.expert_matches,
        "bid_counts": result.bid_counts,
        "not_qualified": [list(p) for p in result.unqualified],
    }


def run_assign(args: argparse.Namespace) -> int:
    try:
        answer = solve_problem(read_problem(args.problem))
    except (ProblemError, AssignmentInfeasible) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    counts = answer["bid_counts"]
    lines = [f"Assignments: {len(answer['pairs'])}   Expert matches: {answer['expert_matches']}"]
    lines.append(
        "Bids: " + ", ".join(f"{level} {counts[level]}" for level in ("eager", "willing", "none", "not-qualified"))
    )
    if answer["not_qualified"]:
        lines.append("Not qualified but unavoidable: " + ", ".join(f"{j} -> {e}" for j, e in answer["not_qualified"]))
    lines += ["", "Pairs (judge -> entry)"] + [f"  {j} -> {e}" for j, e in answer["pairs"]]
    lines += ["", "Loads"] + [f"  {j}: {n}" for j, n in answer["loads"].items()]
    print("\n".join(lines))
    return 0
