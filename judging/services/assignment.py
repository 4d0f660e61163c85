"""Assignment of judges to screened-in entries: the automatic run (min-cost flow), changes by hand,
moving a lagging judge's work, filling coverage gaps, and each judge's progress."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from judging.compute import assignment
from judging.services import bids as bidding
from judging.services.common import require_undecided
from judging.services.conflicts import conflict_register, is_conflicted
from judging.services.editions import SCORING_KINDS, get_edition, get_round
from judging.services.funnel import require_stage_open, stage_entries
from judging.tables import Assignment, Entry, JudgeProfile, Review
from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput


def assign_judges(
    *,
    entries: list[tuple[int, str]],
    judges: list[tuple[int, list[str]]],
    conflicts: set[tuple[int, int]],
    per_entry: int,
    seed: int = 0,
    bids: dict[tuple[int, int], str] | None = None,
) -> list[tuple[int, int]]:
    """(entry, judge) pairs from ``judging.compute.assignment`` (min-cost flow, conflicts as hard
    blocks, ``(judge, entry)`` bids preferred: see ``judging/services/bids.py``)."""
    return [(e, j) for j, e in _solve(entries, judges, conflicts, per_entry, seed, bids).pairs]


def _solve(
    entries: list[tuple[int, str]],
    judges: list[tuple[int, list[str]]],
    conflicts: set[tuple[int, int]],
    per_entry: int,
    seed: int,
    bids: dict[tuple[int, int], str] | None,
) -> assignment.Assignment:
    try:
        return assignment.assign_judges(
            [assignment.Entry(e, category) for e, category in entries],
            [assignment.Judge(j, frozenset(expertise)) for j, expertise in judges],
            conflicts=conflicts,
            reviews_per_entry=per_entry,
            seed=seed,
            bids=bids,
        )
    except assignment.AssignmentInfeasible as exc:
        raise ConflictError("No assignment is possible: %(reason)s", reason=str(exc)) from None


async def _expertise_of(pool: list[int]) -> dict[int, frozenset[str]]:
    """Each pool judge's expertise categories (none for a judge without a profile)."""
    profiles = {
        p["user"]: p
        for p in await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user.is_in(pool or [0]))
    }
    return {j: frozenset((profiles.get(j) or {}).get("expertise") or []) for j in pool}


async def _insert_assignments(round_id: int, pairs: list[tuple[int, int]], source: str) -> None:
    """Assign each (judge, entry) pair in the round, made now by ``source`` (auto or manual)."""
    now = clock.now()
    if pairs:
        await Assignment.insert(
            *[
                Assignment(round=round_id, entry=e, judge=j, source=source, created_at=now)
                for j, e in pairs
            ]
        )


async def _scoring_round(round_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise ConflictError("The screening round has no judges; screen entries instead.")
    return rnd, await get_edition(rnd["edition"])


async def run_assignment(official_id: int, round_id: int) -> int:
    """Assign every screened-in entry to R judges of the pool (min-cost flow in ``judging.compute.assignment``)."""
    rnd, edition = await _scoring_round(round_id)
    pool = list(rnd["judge_pool"])
    if not pool:
        raise ConflictError("Add judges to the round's pool first.")
    entries = await stage_entries(round_id)  # only entries that advanced into this stage
    if not entries:
        raise ConflictError("No screened-in entries to assign yet.")
    blocked = {(j, e) for j, e, _ in await conflict_register(edition["id"], pool)}
    expertise = await _expertise_of(pool)
    result = _solve(
        [(e["id"], e["category"]) for e in entries],
        [(j, list(expertise[j])) for j in pool],
        blocked,
        rnd["judges_per_entry"],
        edition["seed"],
        await bidding.round_bids(round_id, pool),
    )
    pairs = [(e, j) for j, e in result.pairs]
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await require_undecided(edition["id"], "The winners are approved; this round can no longer change.")
        await require_stage_open(round_id)
        if await Review.exists().where(Review.round == round_id):
            raise ConflictError(
                "Scoring has started in this round; adjust assignments by hand instead."
            )
        await Assignment.delete().where(Assignment.round == round_id)
        await _insert_assignments(round_id, [(j, e) for e, j in pairs], "auto")
        await audit.record(
            "challenge.assignment.run",
            actor_id=official_id,
            subject=f"round:{round_id}",
            assignments=len(pairs),
            judges=len(pool),
            entries=len(entries),
            bids=result.bid_counts,
        )
    return len(pairs)


async def add_assignment(official_id: int, round_id: int, entry_id: int, judge_id: int) -> None:
    """Assign by hand; a conflict is a hard block."""
    rnd, edition = await _scoring_round(round_id)
    entry = await Entry.select(Entry.edition, Entry.status).where(Entry.id == entry_id).first()
    if entry is None or entry["edition"] != edition["id"] or entry["status"] != "screened-in":
        raise InvalidInput("Choose a screened-in entry of this edition.", field="entry")
    if entry_id not in {e["id"] for e in await stage_entries(round_id)}:
        raise InvalidInput("This entry did not advance to this stage.", field="entry")
    if judge_id not in rnd["judge_pool"]:
        raise InvalidInput("Choose a judge from the round's pool.", field="judge")
    if await is_conflicted(judge_id, entry_id):
        raise ConflictError("This judge has a conflict of interest with this entry.", field="judge")
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await require_undecided(edition["id"], "The winners are approved; this round can no longer change.")
        await require_stage_open(round_id)
        if await Assignment.exists().where(
            (Assignment.round == round_id)
            & (Assignment.entry == entry_id)
            & (Assignment.judge == judge_id)
        ):
            raise ConflictError("This judge is already assigned to this entry.", field="judge")
        await Assignment.insert(
            Assignment(
                round=round_id,
                entry=entry_id,
                judge=judge_id,
                source="manual",
                created_at=clock.now(),
            )
        )
        await audit.record(
            "challenge.assignment.added",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entry=entry_id,
            judge=judge_id,
        )


async def remove_assignment(official_id: int, round_id: int, entry_id: int, judge_id: int) -> None:
    rnd = await get_round(round_id)
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await require_undecided(rnd["edition"], "The winners are approved; this round can no longer change.")
        await require_stage_open(round_id)
        if await Review.exists().where(
            (Review.round == round_id) & (Review.entry == entry_id) & (Review.judge == judge_id)
        ):
            raise ConflictError("This judge already scored the entry; the assignment stays.")
        await Assignment.delete().where(
            (Assignment.round == round_id)
            & (Assignment.entry == entry_id)
            & (Assignment.judge == judge_id)
        )
        await audit.record(
            "challenge.assignment.removed",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entry=entry_id,
            judge=judge_id,
        )


async def reassign_unreviewed(official_id: int, round_id: int, judge_id: int) -> int:
    """Move a lagging judge's unreviewed entries to other judges of the pool, lowest loads first."""
    rnd, edition = await _scoring_round(round_id)
    pool = list(rnd["judge_pool"])
    if judge_id not in pool or len(pool) < 2:
        raise ConflictError("No other judge in the pool can take over.")
    blocked = {(j, e) for j, e, _ in await conflict_register(edition["id"], pool)}
    expertise = await _expertise_of(pool)
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await require_undecided(edition["id"], "The winners are approved; this round can no longer change.")
        await require_stage_open(round_id)
        current = await Assignment.select().where(Assignment.round == round_id)
        finished = [
            r["entry"]
            for r in await Review.select(Review.entry).where(
                (Review.round == round_id) & (Review.judge == judge_id)
            )
        ]
        categories = {
            e["id"]: e["category"]
            for e in await Entry.select(Entry.id, Entry.category).where(
                Entry.id.is_in(sorted({a["entry"] for a in current}) or [0])
            )
        }
        try:
            result = assignment.reassign_unfinished(
                [(a["judge"], a["entry"]) for a in current],
                judge_id,
                finished,
                [assignment.Entry(e, c) for e, c in categories.items()],
                [
                    assignment.Judge(j, expertise[j])
                    for j in pool
                ],
                conflicts=blocked,
                seed=edition["seed"],
                require_connected=False,
                bids=await bidding.round_bids(round_id, pool),
            )
        except assignment.AssignmentInfeasible as exc:
            raise ConflictError("No assignment is possible: %(reason)s", reason=str(exc)) from None
        before = {(a["judge"], a["entry"]) for a in current}
        after = set(result.pairs)
        added, removed = after - before, before - after
        if removed:
            await Assignment.delete().where(
                (Assignment.round == round_id)
                & (Assignment.judge == judge_id)
                & Assignment.entry.is_in(sorted(e for _j, e in removed))
            )
        await _insert_assignments(round_id, sorted(added), "manual")
        await audit.record(
            "challenge.assignment.reassigned",
            actor_id=official_id,
            subject=f"round:{round_id}",
            judge=judge_id,
            moved=len(removed),
        )
    return len(removed)


async def coverage_gaps(round_id: int) -> list[dict[str, Any]]:
    """Screened-in entries with fewer judges than the round asks for, once assignment has run.

    A late conflict declaration removes the judge's assignment (and submitted review): the entry
    shows up here until an official assigns another judge.
    """
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        return []
    assigned = await Assignment.select(Assignment.entry).where(Assignment.round == round_id)
    if not assigned:
        return []
    counts: dict[int, int] = defaultdict(int)
    for a in assigned:
        counts[a["entry"]] += 1
    return [
        {
            "entry": e["id"],
            "title": e["title"],
            "have": counts.get(e["id"], 0),
            "need": rnd["judges_per_entry"],
        }
        for e in await stage_entries(round_id, strict=False)
        if counts.get(e["id"], 0) < rnd["judges_per_entry"]
    ]


async def fill_coverage_gap(official_id: int, round_id: int, entry_id: int) -> list[int]:
    """Assign eligible judges to an entry short of reviewers, with the pool's assignment logic.

    The missing places are handed over as if a departed judge had left them unfinished, so
    ``reassign_unfinished`` gives them to the least-loaded judges without a conflict. Returns the
    judges added.
    """
    rnd, edition = await _scoring_round(round_id)
    gap = next((g for g in await coverage_gaps(round_id) if g["entry"] == entry_id), None)
    if gap is None:
        raise ConflictError("This entry already has all the judges the round asks for.")
    pool = list(rnd["judge_pool"])
    blocked = {(j, e) for j, e, _ in await conflict_register(edition["id"], pool)}
    expertise = await _expertise_of(pool)
    added: list[int] = []
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await require_undecided(
            edition["id"], "The winners are approved; this round can no longer change."
        )
        await require_stage_open(round_id)
        current = await Assignment.select().where(Assignment.round == round_id)
        # Loads count within the pool; pairs a later-detected conflict forbids are not kept.
        pairs = [
            (a["judge"], a["entry"])
            for a in current
            if a["judge"] in pool and (a["judge"], a["entry"]) not in blocked
        ]
        taken = {a["judge"] for a in current if a["entry"] == entry_id}
        categories = {
            e["id"]: e["category"]
            for e in await Entry.select(Entry.id, Entry.category).where(
                Entry.id.is_in(sorted({e for _j, e in pairs} | {entry_id}))
            )
        }
        judges = [
            assignment.Judge(j, expertise[j])
            for j in pool
        ]
        for _ in range(gap["need"] - gap["have"]):
            departed = -1  # a stand-in judge (no account has this id) holding the place to fill
            try:
                result = assignment.reassign_unfinished(
                    [*pairs, (departed, entry_id)],
                    departed,
                    [],
                    [assignment.Entry(e, c) for e, c in categories.items()],
                    [*judges, assignment.Judge(departed, frozenset())],
                    conflicts=blocked,
                    seed=edition["seed"],
                    require_connected=False,
                )
            except assignment.AssignmentInfeasible:
                break
            new = [
                j
                for j, e in set(result.pairs) - set(pairs)
                if e == entry_id and j != departed and j not in taken
            ]
            if not new:
                break
            pairs.append((new[0], entry_id))
            taken.add(new[0])
            added.append(new[0])
        if not added:
            raise ConflictError(
                "No eligible judge in the pool can review this entry: add judges to the pool."
            )
        await _insert_assignments(round_id, [(j, entry_id) for j in added], "manual")
        await audit.record(
            "challenge.assignment.gap_filled",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entry=entry_id,
            judges=added,
        )
    return added


async def round_assignments(round_id: int) -> list[dict[str, Any]]:
    return (
        await Assignment.select(
            Assignment.id,
            Assignment.entry,
            Assignment.judge,
            Assignment.source,
            Assignment.entry.title.as_alias("title"),
            Assignment.judge.email.as_alias("judge_email"),
        )
        .where(Assignment.round == round_id)
        .order_by(Assignment.entry)
    )


@dataclass
class JudgeProgress:
    """A judge's work in a round: assigned, reviewed, and the entries (id and title) still missing."""

    judge: int
    email: str
    assigned: int = 0
    reviewed: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)


async def round_progress(round_id: int) -> list[JudgeProgress]:
    """Per judge: assigned, reviewed, and the entries still missing a review."""
    reviewed = {
        (r["entry"], r["judge"])
        for r in await Review.select(Review.entry, Review.judge).where(Review.round == round_id)
    }
    per_judge: dict[int, JudgeProgress] = {}
    for a in await round_assignments(round_id):
        row = per_judge.setdefault(a["judge"], JudgeProgress(a["judge"], a["judge_email"]))
        row.assigned += 1
        if (a["entry"], a["judge"]) in reviewed:
            row.reviewed += 1
        else:
            row.missing.append({"entry": a["entry"], "title": a["title"]})
    return sorted(per_judge.values(), key=lambda r: (r.reviewed - r.assigned, r.email))


async def send_reminders(official_id: int, round_id: int) -> int:
    """Email every judge who still has reviews to write in this round."""
    rnd = await get_round(round_id)
    reminded = 0
    for row in await round_progress(round_id):
        if row.missing:
            await accounts.notify_and_mail(
                row.judge,
                "Reminder: reviews due",
                "You have %(missing)s reviews left to write before %(deadline)s.",
                "/judging",
                missing=len(row.missing),
                deadline=clock.format_datetime(rnd["deadline"]),
            )
            reminded += 1
    async with write_transaction():
        await audit.record(
            "challenge.reminders.sent",
            actor_id=official_id,
            subject=f"round:{round_id}",
            judges=reminded,
        )
    return reminded
