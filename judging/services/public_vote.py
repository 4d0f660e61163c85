"""A stage's public vote: one vote per verified resident per stage, rate-limited per keyed client
address, with the anomaly report officials see (and acknowledge) before the stage's decision.

Secrecy: a vote row holds the stage, the entry and a keyed voter key (HMAC of stage and account), no
account id and no time. The signals (one row per attempt: keyed address and device, the minute) hold
no account and no entry. Residents see only whether they voted and for which entry; everyone else sees
counts only (docs/judging.md, "Public vote").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

from judging.citizen_tables import CitizenStage, PublicVote, PublicVoteSignal
from judging.services.citizens import citizen_settings, stage_entries
from judging.services.common import require_undecided
from judging.services.editions import get_edition, get_round
from judging.tables import Round
from portal import audit, clock
from portal.client_screening import Flag, Signal, bursts, client_keys, clusters, minute_of
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotAllowed, NotFoundError, TooManyAttempts
from portal.identity import CurrentUser
from portal.settings import get_settings

# Published rate limit: attempts from one keyed client address in one stage within the window.
RATE_LIMIT_ATTEMPTS = 30
RATE_LIMIT_MINUTES = 10
ALREADY_VOTED = "You have already voted in this stage: each resident has one vote."


def voter_key(round_id: int, user_id: int) -> str:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"challenge-vote|{round_id}|{user_id}".encode(), hashlib.sha256).hexdigest()


async def _public_stage(round_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    settings = await citizen_settings(round_id)
    if not settings.has_public:
        raise NotFoundError("This stage has no public vote.")
    rnd = await get_round(round_id)
    return rnd, await get_edition(rnd["edition"])


@dataclass(frozen=True)
class VotePage:
    """What a resident sees: the stage's entries, whether the vote is open, their own vote."""

    round_id: int
    edition_name: str
    round_kind: str
    deadline: dt.datetime
    open: bool
    entries: list[dict[str, Any]]
    my_vote: int | None
    may_vote: bool


def _may_vote(user: CurrentUser | None) -> bool:
    return bool(user and user.residency_verified and user.district_code)


async def vote_page(user: CurrentUser | None, round_id: int) -> VotePage:
    rnd, edition = await _public_stage(round_id)
    mine = None
    if user is not None:
        row = await PublicVote.select(PublicVote.entry).where(PublicVote.voter_key == voter_key(round_id, user.id)).first()
        mine = row["entry"] if row else None
    return VotePage(
        round_id, edition["name"], rnd["kind"], rnd["deadline"], _open(rnd, edition),
        await stage_entries(round_id), mine, _may_vote(user),
    )


def _open(rnd: dict[str, Any], edition: dict[str, Any]) -> bool:
    return edition["state"] != "decided" and clock.now() < rnd["deadline"]


async def open_public_votes() -> list[dict[str, Any]]:
    """Stages taking public votes now (for the challenge's public page)."""
    rows = await CitizenStage.select(CitizenStage.round).where(CitizenStage.mode.is_in(["public", "panel+public"]))
    out = []
    for r in rows:
        rnd = await get_round(r["round"])
        edition = await get_edition(rnd["edition"])
        if _open(rnd, edition):
            out.append({"round_id": rnd["id"], "edition_name": edition["name"], "kind": rnd["kind"], "deadline": rnd["deadline"]})
    return out


async def _note_attempt(round_id: int, address: str, user_agent: str) -> str:
    """Count the attempt under the client's keyed address and device; returns the address key."""
    address_key, device_key = client_keys(get_settings().secret_key, f"challenge-vote|{round_id}", address, user_agent)
    async with write_transaction():
        await PublicVoteSignal.insert(
            PublicVoteSignal(round=round_id, address_key=address_key, device_key=device_key, minute=minute_of(clock.now()), events=1)
        )
    return address_key


async def _check_rate(round_id: int, address_key: str) -> None:
    since = minute_of(clock.now()) - dt.timedelta(minutes=RATE_LIMIT_MINUTES - 1)
    rows = await PublicVoteSignal.select(PublicVoteSignal.events).where(
        (PublicVoteSignal.round == round_id)
        & (PublicVoteSignal.address_key == address_key)
        & (PublicVoteSignal.minute >= since)
    )
    if sum(r["events"] for r in rows) > RATE_LIMIT_ATTEMPTS:
        wait = 60 * RATE_LIMIT_MINUTES
        raise TooManyAttempts(
            "Too many votes from this network. Try again in %(minutes)s minutes.",
            field="entry", retry_after=wait, minutes=RATE_LIMIT_MINUTES,
        )


async def cast_public_vote(user: CurrentUser, round_id: int, entry_id: int, address: str, user_agent: str) -> None:
    """One vote for one of the stage's entries; a second is refused (409), also when sent at once."""
    rnd, edition = await _public_stage(round_id)
    if not _may_vote(user):
        raise NotAllowed("Only verified residents can vote. Verify your residency on your account page first.", field="entry")
    if not _open(rnd, edition):
        raise NotAllowed("The public vote of this stage is closed.", field="entry")
    if entry_id not in {e["id"] for e in await stage_entries(round_id)}:
        raise InvalidInput("Choose one of the stage's entries.", field="entry")
    address_key = await _note_attempt(round_id, address, user_agent)
    await _check_rate(round_id, address_key)
    key = voter_key(round_id, user.id)
    try:
        async with write_transaction(lock_key=f"challenge-vote-{key}"):
            await require_undecided(rnd["edition"], "The public vote of this stage is closed.", NotAllowed)
            if await PublicVote.exists().where(PublicVote.voter_key == key):
                raise ConflictError(ALREADY_VOTED, field="entry")
            await PublicVote.insert(PublicVote(round=round_id, entry=entry_id, voter_key=key))
    except (sqlite3.IntegrityError, asyncpg.UniqueViolationError):
        raise ConflictError(ALREADY_VOTED, field="entry") from None


async def vote_counts(round_id: int) -> dict[int, int]:
    """Votes per entry (counts only)."""
    counts: Counter[int] = Counter(r["entry"] for r in await PublicVote.select(PublicVote.entry).where(PublicVote.round == round_id))
    return dict(counts)


# ---------------------------------------------------------------- the anomaly report


@dataclass(frozen=True)
class AnomalyReport:
    """Flags over the stage's vote attempts (a reason to look, never a verdict) and its acknowledgement."""

    flags: list[Flag]
    attempts: int
    votes: int
    sha256: str
    acknowledged: bool
    acknowledged_at: dt.datetime | None


async def anomaly_report(round_id: int) -> AnomalyReport:
    rows = await PublicVoteSignal.select().where(PublicVoteSignal.round == round_id)
    signals = [Signal("cast", r["address_key"], r["device_key"], r["minute"], r["events"]) for r in rows]
    flags = [*clusters(signals), *bursts(signals)]
    votes = await PublicVote.count().where(PublicVote.round == round_id)
    digest = report_sha256(flags, votes)
    settings = await citizen_settings(round_id)
    return AnomalyReport(
        flags, sum(s.count for s in signals), votes, digest,
        settings.report_sha256 == digest and settings.report_acknowledged_at is not None,
        settings.report_acknowledged_at,
    )


def report_sha256(flags: list[Flag], votes: int) -> str:
    text = "\n".join([f"votes:{votes}", *(f"{f.group_id}:{f.count}" for f in flags)])
    return hashlib.sha256(text.encode()).hexdigest()


async def forget_signals(edition_id: int, official_id: int) -> int:
    """Delete the vote signals of a decided edition's stages (inside the decision's transaction); audited."""
    rounds = [r["id"] for r in await Round.select(Round.id).where(Round.edition == edition_id)]
    deleted = await PublicVoteSignal.delete().where(PublicVoteSignal.round.is_in(rounds or [0])).returning(PublicVoteSignal.id)
    if deleted:
        await audit.record(
            "challenge.public_vote.signals_deleted",
            actor_id=official_id,
            subject=f"edition:{edition_id}",
            rows=len(deleted),
        )
    return len(deleted)


async def acknowledge_report(official_id: int, round_id: int) -> None:
    """An official read the anomaly report as it is now; a later vote or flag asks for it again."""
    rnd, _edition = await _public_stage(round_id)
    report = await anomaly_report(round_id)
    async with write_transaction(lock_key=f"challenge-edition-{rnd['edition']}"):
        await CitizenStage.update(
            {
                CitizenStage.report_sha256: report.sha256,
                CitizenStage.report_acknowledged_by: official_id,
                CitizenStage.report_acknowledged_at: clock.now(),
            }
        ).where(CitizenStage.round == round_id)
        await audit.record(
            "challenge.public_vote.acknowledged",
            actor_id=official_id,
            subject=f"round:{round_id}",
            flags=len(report.flags),
            votes=report.votes,
            report_sha256=report.sha256,
        )
