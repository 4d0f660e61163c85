"""PB commands for the ``hangang`` CLI: ``hangang tally FILE.pb --rule ...``, ``hangang mix-ballots``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction

from portal import backup
from voting.compute.pabulib import PabulibError, format_number, read_pb
from voting.compute.tally import (
    EXTRA_RULES,
    RULES,
    SATISFACTIONS,
    TIE_BREAKS,
    Number,
    TallyError,
    compute_outcome,
    explain,
    warm_up,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the voting commands to the ``hangang`` parser."""
    add_tally_command(subparsers)
    mix = subparsers.add_parser(
        "mix-ballots",
        help="mix every pot whose ballots changed now (the server does it every minute)",
        description="Rewrite the ballots of every pot that changed since its last mix in shuffled "
        "order under new random ids, as the server's mixer does (docs/pb.md). Run it before a "
        "backup or a database copy leaves the server.",
    )
    mix.set_defaults(handler=cmd_mix_ballots)


def cmd_mix_ballots(args: argparse.Namespace) -> int:
    from portal.commands import _run, migrate
    from voting.mixer import forget_write_order, mix_pending

    async def run() -> dict[int, int]:
        await migrate()
        mixed = await mix_pending()
        await forget_write_order()
        return mixed

    mixed = _run(run())
    print(f"Mixed {len(mixed)} pots ({sum(mixed.values())} ballots).")
    return 0


@backup.counted
async def ballots_per_pot() -> backup.Counts:
    """Printed after ``hangang restore``: ballots in each pot that has any."""
    from piccolo.query.functions.aggregate import Count

    from voting.tables import Ballot

    rows = await Ballot.select(Ballot.pot, Count()).group_by(Ballot.pot).order_by(Ballot.pot)
    return [("ballots", sum(r["count"] for r in rows))] + [
        (f"ballots in pot {r['pot']}", r["count"]) for r in rows
    ]


def add_tally_command(subparsers: argparse._SubParsersAction) -> None:
    """``hangang tally``: compute the funded projects of a pabulib election."""
    parser = subparsers.add_parser(
        "tally",
        help="compute a PB outcome from a pabulib .pb file",
        description="Compute the funded projects of a pabulib (.pb) election with greedy or "
        "the Method of Equal Shares. Outcomes match pabutools 1.2.3; see docs/rules.md.",
    )
    parser.add_argument("file", metavar="FILE.pb", help="the election, in pabulib format")
    parser.add_argument("--rule", required=True, choices=RULES + EXTRA_RULES)
    parser.add_argument(
        "--sat",
        default="cost",
        choices=SATISFACTIONS,
        help="satisfaction measure (default cost; points-cost ranks cumulative ballots by points)",
    )
    parser.add_argument(
        "--tie-break",
        default="pabutools",
        choices=TIE_BREAKS,
        help="pabutools: lowest project id as a string (default, as the reference); "
        "city: lower cost, then more votes, then a lot drawn with --seed",
    )
    parser.add_argument(
        "--threshold",
        type=Fraction,
        default=None,
        help="greedy-threshold: minimum score to win (default: META min_project_score_threshold)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the lot (city tie-break)")
    parser.add_argument(
        "--increment",
        type=Fraction,
        default=Fraction(1),
        help="add1 rules: per-voter budget step in currency units (default 1)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--explain", action="store_true", help="explain the outcome in words")
    parser.set_defaults(handler=run_tally)


def _number(value: Number) -> int | str:
    """JSON form of an exact amount: an int, or a decimal string when not whole."""
    if isinstance(value, int) or value.denominator == 1:
        return int(value)
    return format_number(value)


def run_tally(args: argparse.Namespace) -> int:
    """Read the file, run the rule and print the outcome; 2 on bad input, no traceback."""
    try:
        pb = read_pb(args.file)
    except PabulibError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    threshold = args.threshold
    if args.rule == "greedy-threshold" and threshold is None:
        threshold = pb.threshold
        if threshold is None:
            print(
                "error: greedy-threshold needs --threshold (the file's META has no "
                "min_project_score_threshold)",
                file=sys.stderr,
            )
            return 2
    if threshold is not None and threshold.denominator == 1:
        threshold = int(threshold)
    increment = args.increment
    increment = int(increment) if increment.denominator == 1 else increment
    projects, budget, ballots, ballot_type = pb.election()
    if args.rule.startswith("equal-shares"):
        warm_up()  # load the compiled kernel outside the timed part
    started = time.perf_counter()
    try:
        outcome = compute_outcome(
            projects,
            budget,
            ballots,
            rule=args.rule,
            sat=args.sat,
            ballot_type=ballot_type,
            tie_break=args.tie_break,
            seed=args.seed,
            threshold=threshold,
            voter_budget_increment=increment,
        )
    except TallyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    names = {row["project_id"]: row["name"] for row in pb.projects if row.get("name")}
    if args.json:
        result: dict[str, object] = {
            "rule": args.rule,
            "selected": list(outcome.selected),
            "total_cost": _number(outcome.total_cost),
            "seconds": round(seconds, 4),
        }
        if args.explain:
            result["explanation"] = explain(outcome, names)
        print(json.dumps(result, ensure_ascii=False))
        return 0
    else:
        print(f"rule: {args.rule} (satisfaction {args.sat}, ties: {args.tie_break})")
        print("selected: " + (", ".join(outcome.selected) or "(none)"))
        print(f"total cost: {_number(outcome.total_cost)} of {_number(outcome.budget)}")
        print(f"time: {seconds:.3f} s")
    if args.explain:
        for line in explain(outcome, names):
            print(line)
    return 0
