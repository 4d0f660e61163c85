"""Benchmark: a three-stage challenge of 7,000 entries and 200 judges: assignment, calibration and
advancement in every stage.

Synthetic but shaped like the funnel of issue #13 (도전! K-스타트업: 7,112 teams screened to 180, then
60, then 20): seven categories, organizations with one or more entries, judges with two areas of
expertise each, ~2% random conflicts plus every judge's own organization. Stage 1 (document
screening, 1-10) has every judge and 3 reviews per entry, 180 advance; stage 2 (pitch, 0-100) has 60
judges, 3 reviews per entry, 60 advance under category quotas; stage 3 (final, 1-10) has 20 judges,
5 reviews per entry, and picks 20 winners under quotas, one per organization. Scores are planted
quality + judge offset + noise; the run also reports how well each calibration recovers the planted
ranking in stage 1. Advancement runs ``rank_score_sheet``, the function behind the portal's stage
decisions and ``hangang challenge rank``.

Run: ``.venv/bin/python bench/judging.py [--entries 7000] [--judges 200] [--seed 1]``.
Target (issue #13): under 10 seconds in all.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from judging.compute.assignment import Entry, Judge, assign_judges
from judging.compute.calibration import calibrate
from judging.compute.scoresheet import ScoreRow, rank_score_sheet

CATEGORIES = (
    "transportation",
    "welfare",
    "climate",
    "disaster-response",
    "housing",
    "urban-planning",
    "other",
)


@dataclass(frozen=True)
class Stage:
    name: str
    judges: int  # the stage's pool: the first N judges
    per_entry: int
    scale: tuple[int, int]
    advance: int
    quotas: dict  # QUOTAS.json of the advancement


STAGES = (
    Stage(
        "document screening", 200, 3, (1, 10), 180, {"categories": {}, "max_per_organization": None}
    ),
    Stage(
        "pitch",
        60,
        3,
        (0, 100),
        60,
        {
            "categories": {c: {"min": 5, "max": 15} for c in CATEGORIES},
            "max_per_organization": None,
        },
    ),
    Stage(
        "final",
        20,
        5,
        (1, 10),
        20,
        {"categories": {c: {"min": 2, "max": 5} for c in CATEGORIES}, "max_per_organization": 1},
    ),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=7000)
    parser.add_argument("--judges", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    organizations = [f"ORG{i:05d}" for i in range(int(args.entries * 0.75))]
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
    quality = {e.entry_id: rng.uniform(3.0, 8.5) for e in entries}
    offset = {j.judge_id: rng.uniform(-1.5, 1.5) for j in judges}

    timings: dict[str, float] = {}
    cpu: dict[
        str, float
    ] = {}  # CPU seconds of this process: what the wall clock shows on an idle machine
    remaining = entries
    for number, stage in enumerate(STAGES, start=1):
        pool = judges[: min(stage.judges, len(judges))]
        start, cpu_start = time.perf_counter(), time.process_time()
        assignment = assign_judges(
            remaining, pool, conflicts, reviews_per_entry=stage.per_entry, seed=args.seed
        )
        timings[f"{number} assignment"] = time.perf_counter() - start
        cpu[f"{number} assignment"] = time.process_time() - cpu_start
        loads = assignment.loads.values()
        print(
            f"stage {number} ({stage.name}): {len(remaining)} entries, {len(pool)} judges, "
            f"scale {stage.scale[0]}-{stage.scale[1]}"
        )
        print(
            f"  assignment:  {timings[f'{number} assignment']:.3f} s  ({len(assignment.pairs)} "
            f"pairs, loads {min(loads)}-{max(loads)}, "
            f"{assignment.expert_matches / len(assignment.pairs):.0%} expert matches, "
            f"{assignment.components} component)"
        )
        low, high = stage.scale
        stretch = (high - low) / 9
        reviews = [
            (
                e,
                j,
                min(
                    high,
                    max(
                        low,
                        round(low + (quality[e] + offset[j] + rng.gauss(0, 0.5) - 1) * stretch, 2),
                    ),
                ),
            )
            for j, e in assignment.pairs
        ]
        start, cpu_start = time.perf_counter(), time.process_time()
        calibration = calibrate(reviews, "additive")
        timings[f"{number} calibration"] = time.perf_counter() - start
        cpu[f"{number} calibration"] = time.process_time() - cpu_start
        print(f"  calibration: {timings[f'{number} calibration']:.3f} s  (additive)")
        if number == 1:
            truth = np.array([quality[e.entry_id] for e in remaining])
            for method in ("additive", "zscore", "mean"):
                result = calibration if method == "additive" else calibrate(reviews, method)
                fitted = np.array([result.entries[e.entry_id].score for e in remaining])
                corr = np.corrcoef(truth, fitted)[0, 1]
                print(f"    {method:<9} correlation with planted quality {corr:.4f}")
        category = {e.entry_id: e.category for e in remaining}
        rows = [ScoreRow(e, j, s, category[e], entry_org[e]) for e, j, s in reviews]
        start, cpu_start = time.perf_counter(), time.process_time()
        result = rank_score_sheet(
            rows,
            "additive",
            None,
            {"winners": stage.advance, **stage.quotas},
            args.seed,
            scale=stage.scale,
        )
        timings[f"{number} advancement"] = time.perf_counter() - start
        cpu[f"{number} advancement"] = time.process_time() - cpu_start
        advancing = set(result.selection.winners)
        print(
            f"  advancement: {timings[f'{number} advancement']:.3f} s  ({len(advancing)} advance, "
            f"{len(result.selection.borderline)} borderline notes; calibration included)"
        )
        remaining = [e for e in remaining if e.entry_id in advancing]
    print("three stages   wall s   CPU s")
    for step in ("assignment", "calibration", "advancement"):
        wall = sum(t for k, t in timings.items() if k.endswith(step))
        used = sum(t for k, t in cpu.items() if k.endswith(step))
        print(f"{step:<13} {wall:>7.3f} {used:>7.3f}")
    total, total_cpu = sum(timings.values()), sum(cpu.values())
    print(
        f"{'total':<13} {total:>7.3f} {total_cpu:>7.3f}  "
        f"(target < 10 s: {'met' if total < 10 else 'MISSED'} on the wall clock)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
