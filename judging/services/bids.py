"""Judges' bids: before assignment a judge marks entries of a round eager, willing or not qualified.

The assignment (``judging.compute.assignment``) prefers eager pairs and uses a "not qualified" pair
only when nothing else is feasible; officials see how many assignments got each level. A judge sees
only entries they have no conflict with (S14), blind, and a bid on a conflicted entry is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judging.compute.assignment import BID_LEVELS, NO_BID, bid_report
from judging.services.conflicts import conflict_register
from judging.services.editions import SCORING_KINDS, get_edition, get_round
from judging.services.funnel import advanced_ids
from judging.tables import Assignment, Bid, Entry, Round
from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotFoundError

BIDDABLE_STATUSES = ("submitted", "screened-in")


@dataclass(frozen=True)
class BidRow:
    """One entry on a judge's bid page: the blind summary and the judge's bid (or "")."""

    entry: int
    title: str
    category: str
    summary: str
    bid: str


@dataclass(frozen=True)
class BidPage:
    round: dict[str, Any]
    edition: dict[str, Any]
    rows: list[BidRow]
    hidden_by_conflicts: int
    open: bool  # bids can change: the round is open and its assignment has not run


@dataclass
class BidSummary:
    """For officials: bids given in a round and the bid level of each current assignment."""

    bids_given: int = 0
    judges_bidding: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    unqualified: list[dict[str, Any]] = field(default_factory=list)


async def bidding_rounds() -> list[dict[str, Any]]:
    """Scoring rounds of undecided editions whose deadline has not passed."""
    rows = (
        await Round.select(
            Round.id, Round.kind, Round.deadline, Round.edition, Round.edition.name.as_alias("edition_name")
        )
        .where(Round.kind.is_in(list(SCORING_KINDS)) & (Round.edition.state == "open"))
        .order_by(Round.deadline)
    )
    now = clock.now()
    return [r for r in rows if now < r["deadline"]]


async def _conflicted_entries(judge_id: int, edition_id: int) -> set[int]:
    return {e for _j, e, _k in await conflict_register(edition_id, [judge_id])}


async def _stage_entry_ids(round_id: int) -> set[int] | None:
    """The entries a later stage holds (None: every entry of the edition, the first stage); a stage
    whose predecessor is not decided yet holds none, so nothing is shown that may never reach it."""
    try:
        return await advanced_ids(round_id)
    except ConflictError:
        return set()


async def _is_open(rnd: dict[str, Any], edition: dict[str, Any]) -> bool:
    if edition["state"] == "decided" or clock.now() >= rnd["deadline"]:
        return False
    return not await Assignment.exists().where(Assignment.round == rnd["id"])


async def bid_page(judge_id: int, round_id: int) -> BidPage:
    """The entries of a round a judge may bid on, with their bids; conflicted entries left out."""
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise NotFoundError("We could not find that page.")
    edition = await get_edition(rnd["edition"])
    blocked = await _conflicted_entries(judge_id, edition["id"])
    entries = (
        await Entry.select(Entry.id, Entry.title, Entry.category, Entry.summary)
        .where((Entry.edition == edition["id"]) & Entry.status.is_in(list(BIDDABLE_STATUSES)))
        .order_by(Entry.id)
    )
    mine = {
        b["entry"]: b["level"]
        for b in await Bid.select(Bid.entry, Bid.level).where(
            (Bid.round == round_id) & (Bid.judge == judge_id)
        )
    }
    stage = await _stage_entry_ids(round_id)
    entries = [e for e in entries if stage is None or e["id"] in stage]
    rows = [
        BidRow(e["id"], e["title"], e["category"], e["summary"], mine.get(e["id"], ""))
        for e in entries
        if e["id"] not in blocked
    ]
    hidden = sum(1 for e in entries if e["id"] in blocked)
    return BidPage(rnd, edition, rows, hidden, await _is_open(rnd, edition))


async def judge_bid(judge_id: int, round_id: int, entry_id: int) -> BidRow:
    """One entry of a round's bid list with the judge's bid; 404 when it is not open for bids in the
    round or the judge has a conflict with it (as on the bid page, where it is not listed)."""
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise NotFoundError("We could not find that page.")
    entry = (
        await Entry.select(Entry.id, Entry.title, Entry.category, Entry.summary)
        .where(
            (Entry.id == entry_id)
            & (Entry.edition == rnd["edition"])
            & Entry.status.is_in(list(BIDDABLE_STATUSES))
        )
        .first()
    )
    if entry is None or entry_id in await _conflicted_entries(judge_id, rnd["edition"]):
        raise NotFoundError("We could not find that entry.")
    bid = (
        await Bid.select(Bid.level)
        .where((Bid.round == round_id) & (Bid.judge == judge_id) & (Bid.entry == entry_id))
        .first()
    )
    return BidRow(entry_id, entry["title"], entry["category"], entry["summary"], bid["level"] if bid else "")


async def set_bid(judge_id: int, round_id: int, entry_id: int, level: str) -> BidRow:
    """Bid on one entry (eager, willing or not qualified): the rules of ``save_bids``; a bid on a
    conflicted entry is refused with a 409 that says why."""
    if level not in BID_LEVELS:
        raise InvalidInput("Choose eager, willing or not qualified.", field="level")
    await save_bids(judge_id, round_id, {entry_id: level})
    return await judge_bid(judge_id, round_id, entry_id)


async def clear_bid(judge_id: int, round_id: int, entry_id: int) -> None:
    """Take back a bid on one entry (nothing changes when there was none)."""
    await save_bids(judge_id, round_id, {entry_id: ""})


async def save_bids(judge_id: int, round_id: int, wanted: dict[int, str]) -> int:
    """Set (or clear, with "") the judge's bids on entries of a round; returns how many changed.

    Refused: an unknown level, an entry outside the round's edition, an entry the judge has a
    conflict with (the message says so, beside that entry), or bids after the assignment ran.
    """
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise NotFoundError("We could not find that page.")
    edition = await get_edition(rnd["edition"])
    await _check_bids(judge_id, round_id, edition["id"], wanted)
    async with write_transaction(lock_key=f"challenge-bids-{round_id}-{judge_id}"):
        if not await _is_open(rnd, edition):
            raise ConflictError("Bidding has closed: the assignment has run or the round is over.")
        current = {
            b["entry"]: b
            for b in await Bid.select().where((Bid.round == round_id) & (Bid.judge == judge_id))
        }
        changed = 0
        for entry_id, level in sorted(wanted.items()):
            old = current.get(entry_id)
            if (old["level"] if old else "") == level:
                continue
            changed += 1
            if old is not None:
                await Bid.delete().where(Bid.id == old["id"])
            if level:
                await Bid.insert(
                    Bid(round=round_id, entry=entry_id, judge=judge_id, level=level, updated_at=clock.now())
                )
        if changed:
            await audit.record(
                "challenge.bids.saved", actor_id=judge_id, subject=f"round:{round_id}", changed=changed
            )
    return changed


async def _check_bids(judge_id: int, round_id: int, edition_id: int, wanted: dict[int, str]) -> None:
    """Known levels, entries of the stage open for bids, and no conflicted entry (said plainly)."""
    for entry_id, level in wanted.items():
        if level not in (*BID_LEVELS, ""):
            raise InvalidInput("Choose eager, willing or not qualified.", field=f"bid_{entry_id}")
    stage = await _stage_entry_ids(round_id)
    valid = {
        e["id"]
        for e in await Entry.select(Entry.id).where(
            (Entry.edition == edition_id) & Entry.status.is_in(list(BIDDABLE_STATUSES))
        )
        if stage is None or e["id"] in stage
    }
    blocked = await _conflicted_entries(judge_id, edition_id)
    for entry_id in wanted:
        if entry_id in blocked:
            raise ConflictError(
                "You have a conflict of interest with this entry, so you cannot bid on it.",
                field=f"bid_{entry_id}",
            )
        if entry_id not in valid:
            raise InvalidInput("This entry is not open for bids in this round.", field=f"bid_{entry_id}")


async def round_bids(round_id: int, judges: list[int] | None = None) -> dict[tuple[int, int], str]:
    """``(judge, entry) -> level`` for a round (optionally only these judges), for the assignment."""
    query = Bid.select(Bid.judge, Bid.entry, Bid.level).where(Bid.round == round_id)
    if judges is not None:
        query = query.where(Bid.judge.is_in(judges or [0]))
    return {(b["judge"], b["entry"]): b["level"] for b in await query}


async def assignment_bid_summary(round_id: int) -> BidSummary:
    """How many of the round's assignments got each bid level, and the "not qualified" ones by name."""
    bids = await round_bids(round_id)
    rows = await Assignment.select(
        Assignment.judge,
        Assignment.entry,
        Assignment.entry.title.as_alias("title"),
        Assignment.judge.email.as_alias("judge_email"),
    ).where(Assignment.round == round_id)
    counts, unqualified = bid_report([(a["judge"], a["entry"]) for a in rows], bids)
    named = {(a["judge"], a["entry"]): a for a in rows}
    return BidSummary(
        bids_given=len(bids),
        judges_bidding=len({j for j, _e in bids}),
        counts=counts,
        unqualified=[
            {"entry": e, "title": named[(j, e)]["title"], "judge_email": named[(j, e)]["judge_email"]}
            for j, e in unqualified
        ],
    )


BID_ORDER = {level: i for i, level in enumerate((*BID_LEVELS, NO_BID))}
