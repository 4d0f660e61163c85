"""Citizens' ballots: who may vote where, casting, the caller's own ballot, and the receipts."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from portal.db import raw
from portal.errors import Unauthenticated
from portal.identity import CurrentUser
from portal.settings import get_settings
from voting.compute.rules import BallotChoice, voter_key
from voting.services import receipt_mail, signals
from voting.services.ballot_writer import CastReceipt, Voter, write_ballot
from voting.services.channels import casts_in_committee
from voting.services.cycles import get_pot, pots_of
from voting.tables import Ballot

log = logging.getLogger("hangang.voting")


def voting_areas(user: CurrentUser | None) -> frozenset[str | None]:
    """Verified residents vote in the city-wide pot (``None``) and in their own district's pot."""
    if user is None or not user.residency_verified or not user.district_code:
        return frozenset()
    return frozenset({None, user.district_code})


def may_vote_in(user: CurrentUser | None, pot: dict[str, Any]) -> bool:
    """Whether ``user`` may vote in ``pot`` (see ``voting_areas``)."""
    return pot["district_code"] in voting_areas(user)


async def cast_ballot(
    user: CurrentUser | None, cycle_id: int, pot_id: int, choice: BallotChoice
) -> CastReceipt:
    """Store (or replace) the voter's ballot and return its receipt once it is committed.

    The ballot writer checks the window, the pot's area and the rules inside its transaction; the
    same content again returns the stored receipt without writing (idempotent retries).
    """
    if user is None:
        raise Unauthenticated("Please log in to continue.")
    voter = Voter(user.id, user.district_code or "", voting_areas(user), user.birth_date)
    channel = "committee" if await casts_in_committee(user, cycle_id) else "online"
    stored = await write_ballot(voter, cycle_id, pot_id, choice, channel)
    if stored.receipt.changed:
        # Mailed by the outbox, off the request path; the receipt itself is looked up at send time.
        receipt_mail.note_receipt(user.id, cycle_id, pot_id)
    return stored.receipt


@dataclass(frozen=True)
class MyBallot:
    receipt: str
    version: int
    cast_at: dt.datetime
    content: dict


async def my_ballot(user: CurrentUser, cycle_id: int, pot_id: int) -> MyBallot | None:
    """The caller's own current ballot in a pot (found by the keyed HMAC; S14)."""
    await get_pot(cycle_id, pot_id)
    key = voter_key(get_settings().secret_key, user.id, pot_id)
    row = (
        await Ballot.select(Ballot.receipt, Ballot.version, Ballot.cast_at, Ballot.content)
        .where((Ballot.pot == pot_id) & (Ballot.voter_key == key))
        .first()
    )
    if row is None:
        return None
    return MyBallot(row["receipt"], row["version"], row["cast_at"], json.loads(row["content"]))


async def pots_voted(user: CurrentUser, cycle_id: int) -> set[int]:
    """The pots of a cycle the user has a ballot in, found by the keyed HMAC (no voter rows)."""
    secret = get_settings().secret_key
    keys = {
        voter_key(secret, user.id, pot["id"]): pot["id"]
        for pot in await pots_of(cycle_id)
        if may_vote_in(user, pot)
    }
    if not keys:
        return set()
    pots = sorted(set(keys.values()))
    rows = await raw(
        f"SELECT voter_key FROM pb_ballot WHERE pot IN ({', '.join('{}' for _ in pots)}) "  # noqa: S608
        f"AND voter_key IN ({', '.join('{}' for _ in keys)})",
        *pots,
        *keys,
    )
    return {keys[r["voter_key"]] for r in rows}


@dataclass(frozen=True)
class PotReceipts:
    """A pot's receipts: the counted ones sorted (the order says nothing about who or when), and those
    fraud screening set aside pending review (their holders can see that, and only that)."""

    counted: list[str]
    set_aside: frozenset[str]


async def receipts_of(cycle_id: int, pot_id: int) -> PotReceipts:
    rows = await Ballot.select(Ballot.receipt, Ballot.voter_key).where(Ballot.pot == pot_id)
    counted, set_aside = await signals.split_quarantined(cycle_id, rows)
    return PotReceipts(
        sorted(r["receipt"] for r in counted), frozenset(r["receipt"] for r in set_aside)
    )
