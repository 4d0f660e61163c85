"""Feedback to applicants at the scale of issue #13, on a real database: a decided stage of 7,000 entries
scored by 200 judges (3 reviews each, five criteria). Prints the seconds the final approval spends
computing and storing every entry's feedback figures (``judging.services.feedback.store_figures``, right
after the approval commits; the write lock is held only for the inserts), one startup's feedback view reading them (``entry_feedback``), and the same
view when nothing is stored (a stage approved before figures were stored: the whole stage is calibrated
again on every view, as every view did before). No assertions: figures only.

    .venv/bin/python bench/feedback_view.py                       # a fresh SQLite file
    HANGANG_DATABASE_URL=postgresql://... .venv/bin/python bench/feedback_view.py --entries 7000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CRITERIA = ("impact", "feasibility", "innovation", "responsible_ai", "scalability")
BATCH = 200


async def _insert(table, rows: list) -> None:
    for start in range(0, len(rows), BATCH):
        await table.insert(*rows[start : start + BATCH])


async def _stage(entries: int, judges: int, seed: int) -> tuple[dict, int, int]:
    """A decided stage with its approved decision and released feedback; returns (decision, a member,
    the member's entry)."""
    from judging.compute.scoresheet import ScoreRow, rank_score_sheet
    from judging.tables import (
        Edition,
        Entry,
        FeedbackRelease,
        Organization,
        OrganizationMember,
        Review,
        Round,
        StageDecision,
    )
    from portal.tables import User

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    await _insert(
        User,
        [
            User(email=f"bench{i}@example.kr", display_name=f"bench {i}", password_hash="x", roles=role, created_at=now)
            for i, role in enumerate(["official", "startup"] + ["judge"] * judges)
        ],
    )
    users = [u["id"] for u in await User.select(User.id).order_by(User.id)]
    official, member, judge_ids = users[0], users[1], users[2:]
    edition = Edition(name="bench", intake_opens_at=now, intake_closes_at=now, created_by=official, created_at=now, seed=seed)
    await edition.save()
    rubric = [{"key": k, "name": {"ko": k, "en": k}, "weight": 20, "levels": {}} for k in CRITERIA]
    rnd = Round(edition=edition.id, kind="evaluation", deadline=now, rubric=rubric, stage_state="decided")
    await rnd.save()
    await _insert(
        Organization,
        [Organization(name=f"org {i}", registration_number=f"{i:010d}", size="startup", founding_year=2020,
                      created_by=official, created_at=now) for i in range(entries)],
    )
    orgs = [o["id"] for o in await Organization.select(Organization.id).order_by(Organization.id)]
    await _insert(
        Entry,
        [Entry(edition=edition.id, organization=org, created_by=official, title=f"entry {i}", category="welfare",
               sector="welfare", status="screened-in", created_at=now, updated_at=now) for i, org in enumerate(orgs)],
    )
    entry_ids = [e["id"] for e in await Entry.select(Entry.id).order_by(Entry.id)]
    quality = {e: rng.uniform(3, 8.5) for e in entry_ids}
    offset = {j: rng.uniform(-1.5, 1.5) for j in judge_ids}
    reviews, sheet = [], []
    for entry in entry_ids:
        for judge in rng.sample(judge_ids, 3):
            scores = {k: min(10, max(1, round(quality[entry] + offset[judge] + rng.gauss(0, 1)))) for k in CRITERIA}
            total = sum(scores.values()) / len(CRITERIA)
            reviews.append(Review(round=rnd.id, entry=entry, judge=judge, scores=scores, comments={},
                                  total_centi=round(total * 100), created_at=now, updated_at=now))
            sheet.append(ScoreRow(str(entry), str(judge), total, "welfare", str(entry)))
    await _insert(Review, reviews)
    ranked = rank_score_sheet(sheet, "additive", None, {"winners": 180, "categories": {}, "max_per_organization": None},
                              seed, scale=(1, 10))
    rule = {"mode": "count", "count": 180}
    result = {**ranked.to_json(), "advancing": list(ranked.selection.winners),
              "entry_ids": {str(e): e for e in entry_ids}}
    decision = StageDecision(edition=edition.id, round=rnd.id, method="additive", seed=seed,
                             parameters={"rule": rule, "method": "additive"}, result=result, sheet_sha256="0" * 64,
                             status="approved", computed_by=official, computed_at=now, approved_at=now)
    await decision.save()
    await FeedbackRelease.insert(FeedbackRelease(round=rnd.id, released_by=official, released_at=now))
    entry = entry_ids[len(entry_ids) // 2]
    await OrganizationMember.insert(OrganizationMember(organization=orgs[len(entry_ids) // 2], user=member, joined_at=now))
    row = await StageDecision.select().output(load_json=True).where(StageDecision.id == decision.id).first()
    return row, member, entry


async def _view_seconds(member: int, entry: int, times: int) -> float:
    from judging.services.feedback import entry_feedback

    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        view = await entry_feedback(member, entry)
        seconds.append(time.perf_counter() - started)
    assert view.stages, "the bench entry has no feedback"
    return statistics.median(seconds)


async def main(entries: int, judges: int, seed: int) -> None:
    from judging.services.feedback import compute_figures, store_figures
    from judging.tables import FeedbackFigures, Round
    from portal.commands import migrate
    from portal.db import close_pool, prepare_sqlite, start_pool

    await migrate()
    await prepare_sqlite()
    await start_pool()
    try:
        started = time.perf_counter()
        decision, member, entry = await _stage(entries, judges, seed)
        print(f"{entries:,} entries, {judges} judges, {entries * 3:,} reviews x {len(CRITERIA)} criteria "
              f"(set up in {time.perf_counter() - started:.1f} s)")
        rnd = await Round.select().output(load_json=True).where(Round.id == decision["round"]).first()
        started, cpu = time.perf_counter(), time.process_time()
        await compute_figures(rnd, decision)
        computing, computing_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        rows = await store_figures(decision)
        total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"approval: figures computed and stored in {total:.2f} s ({total_cpu:.2f} CPU s, {rows:,} rows), "
              f"once per stage; of which calibrating {computing:.2f} s ({computing_cpu:.2f} CPU s, no lock held) "
              f"and inserting about {total - computing:.2f} s (write lock held)")
        stored = await _view_seconds(member, entry, 20)
        print(f"feedback view, stored figures: {stored * 1000:.1f} ms (median of 20)")
        await FeedbackFigures.delete(force=True)
        recomputed = await _view_seconds(member, entry, 3)
        print(f"feedback view, nothing stored (recomputed per view, as before): {recomputed:.2f} s (median of 3)")
    finally:
        await close_pool()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=7000)
    parser.add_argument("--judges", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not os.environ.get("HANGANG_DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="hangang-bench-")
        os.environ["HANGANG_DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ.setdefault("HANGANG_VAR_DIR", folder)
    asyncio.run(main(args.entries, args.judges, args.seed))
