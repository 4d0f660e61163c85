"""Benchmark: assignment, calibration and selection for 2,000 entries and 60 judges.

Synthetic but shaped like the challenge: seven categories, about 1,500 organizations (some with
several entries), judges with two areas of expertise each, ~2% random conflicts plus every
judge's own organization. Scores are planted quality + judge offset + noise on the 1-10 scale, so
the run also reports how well each calibration method recovers the planted ranking.

Run: ``.venv/bin/python bench/judging.py [--entries 2000] [--judges 60] [--seed 1]``.
Target (issue 5): under 5 seconds in total.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from judging.compute.assignment import Entry, Judge, assign_judges
from judging.compute.calibration import calibrate
from judging.compute.candidates import CategoryQuota, Quotas
from judging.compute.selection import candidates_from_calibration, select_winners

CATEGORIES = (
    "transportation",
    "welfare",
    "climate",
    "disaster-response",
    "housing",
    "urban-planning",
    "other",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--judges", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    organizations = [f"ORG{i:04d}" for i in range(int(args.entries * 0.75))]
    entries = [Entry(f"E{i:05d}", rng.choice(CATEGORIES)) for i in range(args.entries)]
    entry_org = {e.entry_id: rng.choice(organizations) for e in entries}
    judges = [Judge(f"J{j:03d}", frozenset(rng.sample(CATEGORIES, 2))) for j in range(args.judges)]
    judge_org = {j.judge_id: rng.choice(organizations) for j in judges}
    conflicts = {
        (j.judge_id, e.entry_id)
        for j in judges
        for e in entries
        if rng.random() < 0.02 or entry_org[e.entry_id] == judge_org[j.judge_id]
    }
    print(
        f"{len(entries)} entries, {len(judges)} judges, {len(set(entry_org.values()))} "
        f"organizations, {len(conflicts)} conflicts"
    )

    timings: dict[str, float] = {}
    start = time.perf_counter()
    assignment = assign_judges(entries, judges, conflicts, reviews_per_entry=3, seed=args.seed)
    timings["assignment"] = time.perf_counter() - start
    loads = assignment.loads.values()
    print(
        f"assignment:  {timings['assignment']:.3f} s  ({len(assignment.pairs)} pairs, loads "
        f"{min(loads)}-{max(loads)}, {assignment.expert_matches / len(assignment.pairs):.0%} "
        f"expert matches, {assignment.components} component)"
    )

    quality = {e.entry_id: rng.uniform(3.0, 8.5) for e in entries}
    offset = {j.judge_id: rng.uniform(-1.5, 1.5) for j in judges}
    reviews = [
        (e, j, min(10.0, max(1.0, round(quality[e] + offset[j] + rng.gauss(0, 0.5), 2))))
        for j, e in assignment.pairs
    ]

    start = time.perf_counter()
    calibration = calibrate(reviews, "additive")
    timings["calibration"] = time.perf_counter() - start
    truth = np.array([quality[e] for e in sorted(quality)])
    for method in ("additive", "zscore", "mean"):
        result = calibration if method == "additive" else calibrate(reviews, method)
        fitted = np.array([result.entries[e].score for e in sorted(quality)])
        corr = np.corrcoef(truth, fitted)[0, 1]
        note = f"  {timings['calibration']:.3f} s " if method == "additive" else " " * 10
        print(f"calibration{note}{method:<9} correlation with planted quality {corr:.4f}")

    quotas = Quotas(
        winners=50,
        categories={c: CategoryQuota(min=4, max=12) for c in CATEGORIES},
        max_per_organization=1,
    )
    candidates = candidates_from_calibration(
        calibration, {e.entry_id: e.category for e in entries}, entry_org
    )
    start = time.perf_counter()
    selection = select_winners(candidates, quotas, seed=args.seed)
    timings["selection"] = time.perf_counter() - start
    print(
        f"selection:   {timings['selection']:.3f} s  ({len(selection.winners)} winners, total "
        f"{selection.total_score:.2f}, {len(selection.borderline)} borderline notes)"
    )
    total = sum(timings.values())
    print(f"total:       {total:.3f} s  (target < 5 s: {'met' if total < 5 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
