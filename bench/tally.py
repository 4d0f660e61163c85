"""Benchmark: voting.compute.tally against pabutools 1.2.3 on large elections.

Usage: .venv/bin/python bench/tally.py [--pabutools-cap 40] [--ours-only] [--only NAME]

Elections: Warsaw 2026 city-wide (61,668 voters, 83 projects), Wieliczka 2023 (6,586 voters)
and a synthetic election (200 projects, 200,000 voters, seeded). Every rule runs with cost
satisfaction; ours in this process (best of 3 for fast rules, after one warm-up call that
loads the compiled kernel), pabutools in a subprocess per election that parses the file once
(not timed) and gets ``--pabutools-cap`` seconds per rule before it is stopped. Prints one
table row per rule (times, ratio, whether the outcomes agree) and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voting.compute.pabulib import PbFile, format_pb, read_pb  # noqa: E402
from voting.compute.tally import RULES, compute_outcome, warm_up  # noqa: E402

DATA = ROOT / "tests" / "data" / "pabulib"

# Runs inside the pabutools subprocess: parse once, then one rule at a time under an alarm.
PABUTOOLS_SCRIPT = r"""
import json, signal, sys, time
from pabutools.election import parse_pabulib, Cost_Sat, Instance
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares, completion_by_rule_combination
path, cap, threshold = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rules = sys.argv[4].split(",")
instance, profile = parse_pabulib(path)
print(json.dumps({"parsed": True}), flush=True)
def mes(**extra):
    return {"sat_class": Cost_Sat, **extra}
def run(rule):
    if rule == "greedy":
        return greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
    if rule == "greedy-threshold":
        kept = Instance([p for p in instance if profile.approval_score(p) >= float(threshold)],
                        budget_limit=instance.budget_limit)
        return greedy_utilitarian_welfare(kept, profile, sat_class=Cost_Sat)
    add1 = {"voter_budget_increment": 1} if "add1" in rule else {}
    if rule.endswith("-greedy"):
        return completion_by_rule_combination(
            instance, profile, [method_of_equal_shares, greedy_utilitarian_welfare],
            [mes(**add1), {"sat_class": Cost_Sat}])
    return method_of_equal_shares(instance, profile, **mes(**add1))
class Cap(Exception):
    pass
def stop(signum, frame):
    raise Cap
signal.signal(signal.SIGALRM, stop)
for rule in rules:
    signal.setitimer(signal.ITIMER_REAL, cap)
    started = time.perf_counter()
    try:
        outcome = run(rule)
        seconds = time.perf_counter() - started
        signal.setitimer(signal.ITIMER_REAL, 0)
        print(json.dumps({"rule": rule, "seconds": seconds, "selected": sorted(p.name for p in outcome)}), flush=True)
    except Cap:
        print(json.dumps({"rule": rule, "seconds": None}), flush=True)
"""


def synthetic_pb(path: Path, projects: int = 200, voters: int = 200_000, seed: int = 2026) -> None:
    """A seeded approval election: popular and niche projects, 1-10 approvals per voter."""
    rng = random.Random(seed)
    ids = [str(i) for i in range(1, projects + 1)]
    costs = [rng.randrange(20, 1000) * 1000 for _ in ids]
    popularity = [1 / (rank + 5) for rank in range(projects)]
    rng.shuffle(popularity)
    votes = []
    for voter in range(voters):
        k = min(projects, 1 + int(rng.expovariate(1 / 3.5)))
        chosen = set(rng.choices(ids, weights=popularity, k=k))
        votes.append({"voter_id": str(voter), "vote": ",".join(sorted(chosen, key=int))})
    pb = PbFile(
        meta={
            "description": "Synthetic benchmark election",
            "country": "Nowhere",
            "unit": "Bench",
            "instance": "2026",
            "num_projects": str(projects),
            "num_votes": str(voters),
            "budget": str(sum(costs) // 4),
            "vote_type": "approval",
            "rule": "greedy",
            "min_project_score_threshold": "4000",
        },
        project_columns=["project_id", "cost"],
        projects=[{"project_id": i, "cost": str(c)} for i, c in zip(ids, costs, strict=True)],
        vote_columns=["voter_id", "vote"],
        votes=votes,
    )
    path.write_text(format_pb(pb), encoding="utf-8")


def run_pabutools(path: Path, rules: list[str], threshold, cap: float) -> dict[str, dict]:
    """Times per rule from a pabutools subprocess (None when it hit the cap)."""
    wanted = [r for r in rules if r != "greedy-no-skip"]  # pabutools has no such rule
    if threshold is None:
        wanted = [r for r in wanted if r != "greedy-threshold"]
    results: dict[str, dict] = {}
    if not wanted:
        return results
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PABUTOOLS_SCRIPT,
            str(path),
            str(cap),
            str(threshold),
            ",".join(wanted),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    # Generous wall limit: parsing plus every rule's cap; the alarm inside stops each rule.
    deadline = time.monotonic() + 300 + cap * (len(wanted) + 1)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            record = json.loads(line)
            if "rule" in record:
                results[record["rule"]] = record
            if time.monotonic() > deadline:
                break
    finally:
        proc.kill()
        proc.wait()
    return results


def time_ours(projects, budget, ballots, rule: str, threshold) -> tuple[float, tuple[str, ...]]:
    """Best wall time of up to three runs (one if the first takes over two seconds)."""
    best, outcome = None, None
    for _ in range(3):
        started = time.perf_counter()
        outcome = compute_outcome(
            projects,
            budget,
            ballots,
            rule=rule,
            sat="cost",
            tie_break="pabutools",
            threshold=threshold if rule == "greedy-threshold" else None,
        )
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
        if seconds > 2:
            break
    return best, outcome.selected


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pabutools-cap", type=float, default=40.0, help="seconds per pabutools rule"
    )
    parser.add_argument("--ours-only", action="store_true", help="skip pabutools")
    parser.add_argument("--only", default=None, help="run only elections whose name contains this")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        synthetic = Path(tmp) / "synthetic_200x200000.pb"
        elections = [
            ("Warsaw 2026", DATA / "Poland_Warszawa_2026.pb"),
            ("Wieliczka 2023", DATA / "Poland_Wieliczka_2023_Green_Budget.pb"),
            ("Synthetic 200x200k", synthetic),
        ]
        if args.only:
            elections = [e for e in elections if args.only.lower() in e[0].lower()]
        started = time.perf_counter()
        warm_up()
        print(f"compiled kernel load: {time.perf_counter() - started:.2f} s (once per process)")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        header = f"{'election':20} {'rule':26} {'ours s':>9} {'pabutools s':>12} {'ratio':>8}  same"
        rows = [header, "-" * len(header)]
        print(header)
        for name, path in elections:
            if path == synthetic:
                synthetic_pb(synthetic)
            t = time.perf_counter()
            pb = read_pb(path)
            projects, budget, ballots, _ = pb.election()
            parse_s = time.perf_counter() - t
            threshold = pb.threshold
            print(
                f"# {name}: {len(projects)} projects, {len(ballots):,} voters, parsed in {parse_s:.2f} s"
            )
            theirs = (
                {}
                if args.ours_only
                else run_pabutools(path, list(RULES), threshold, args.pabutools_cap)
            )
            for rule in RULES:
                if rule == "greedy-threshold" and threshold is None:
                    continue
                ours_s, selected = time_ours(projects, budget, ballots, rule, threshold)
                their = theirs.get(rule)
                if args.ours_only or rule == "greedy-no-skip":
                    their_s, ratio, same = "-", "-", "-"
                elif their is None or their["seconds"] is None:
                    their_s, ratio, same = (
                        f">{args.pabutools_cap:.0f}",
                        f">{args.pabutools_cap / ours_s:.0f}x",
                        "-",
                    )
                else:
                    their_s = f"{their['seconds']:.2f}"
                    ratio = f"{their['seconds'] / ours_s:.0f}x"
                    same = "yes" if sorted(selected) == their["selected"] else "NO"
                row = f"{name:20} {rule:26} {ours_s:9.3f} {their_s:>12} {ratio:>8}  {same}"
                rows.append(row)
                print(row, flush=True)
            print(f"# peak memory so far (this process, ours only): {peak_mb():.0f} MB")
        print()
        print("\n".join(rows))
        print(f"peak memory of this process (ours only): {peak_mb():.0f} MB")
        print(f"total benchmark time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
