"""The station tablet's one-time ballot (kiosk mode): no account, one use, a few minutes.

The code opened at check-in leads to the pots of the person's district; casting deletes the code's
row in the ballots' transaction, so a code works once and nothing records when it was used. The
ballots get a random voter key (nothing can find them again, so they cannot be replaced) and
``channel = "station"``; the person's participation was recorded at check-in, apart from them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from portal import clock
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.errors import DomainError, InvalidInput, NotFoundError
from voting.compute.rules import (
    BallotChoice,
    BallotRules,
    ballot_day,
    new_ballot_id,
    new_receipt,
    validate_ballot,
)
from voting.projects import pot_projects
from voting.services.ballot_writer import cast_context
from voting.services.check_in import kiosk_code_hash
from voting.services.cycles import get_cycle, pots_of, rules_of

EXPIRED = "This tablet ballot has expired or was already used. Please ask the poll worker."


@dataclass(frozen=True)
class KioskPot:
    pot: dict[str, Any]
    projects: tuple[Any, ...]


@dataclass(frozen=True)
class KioskBallotView:
    """What the tablet shows: the cycle, its rules and the pots of the person's district."""

    cycle: dict[str, Any]
    rules: BallotRules
    station_name: str
    expires_at: dt.datetime
    pots: tuple[KioskPot, ...]


@dataclass(frozen=True)
class KioskReceipt:
    pot: dict[str, Any]
    receipt: str


async def _kiosk_row(code: str, now: dt.datetime) -> dict[str, Any]:
    rows = await raw(  # a plain statement: every tablet request asks it (bench/vote_day.py)
        "SELECT k.station, k.district_code, k.expires_at, s.cycle AS cycle, s.name AS station_name "
        "FROM pb_kiosk_ballot k JOIN pb_station s ON s.id = k.station WHERE k.token_hash = {}",
        kiosk_code_hash(code),
    )
    if not rows or rows[0]["expires_at"] <= now:
        raise NotFoundError(EXPIRED, field="code")
    return dict(rows[0])


async def _pots(cycle_id: int, district_code: str) -> list[dict[str, Any]]:
    return [p for p in await pots_of(cycle_id) if p["amount"] > 0 and p["district_code"] in (None, district_code)]


async def open_kiosk_ballot(code: str) -> KioskBallotView:
    """The ballot a valid, unused tablet code opens (404 beside the code field otherwise)."""
    if not code.strip():
        raise InvalidInput("Enter the ballot code the poll worker gave you.", field="code")
    row = await _kiosk_row(code, clock.now())
    cycle = await get_cycle(row["cycle"])
    pots = []
    for pot in await _pots(cycle["id"], row["district_code"]):
        pots.append(KioskPot(pot, tuple(await pot_projects(pot["id"]))))
    return KioskBallotView(cycle, rules_of(cycle), row["station_name"], row["expires_at"], tuple(pots))


async def cast_kiosk_ballot(code: str, choices: dict[int, BallotChoice]) -> list[KioskReceipt]:
    """Store the tablet's ballots (one per pot chosen) and use up the code, in one transaction.

    A ballot that breaks the rules raises beside its pot (``pot-<id>``) and leaves the code usable.
    """
    now = clock.now()
    async with write_transaction():
        row = await _kiosk_row(code, now)
        deleted = await raw(
            "DELETE FROM pb_kiosk_ballot WHERE token_hash = {} RETURNING id", kiosk_code_hash(code)
        )
        if not deleted:  # a racing cast with the same code took it first
            raise NotFoundError(EXPIRED, field="code")
        contents = []
        for pot in await _pots(row["cycle"], row["district_code"]):
            choice = choices.get(pot["id"])
            if choice is None or not (choice.project_ids or choice.points):
                continue
            cycle, pot_row, costs = await cast_context(row["cycle"], pot["id"], now)
            try:
                content = validate_ballot(rules_of(cycle), pot_row["amount"], costs, choice)
            except DomainError as exc:
                raise type(exc)(exc.message, field=f"pot-{pot['id']}", **exc.params) from None
            contents.append((pot, canonical_json(content)))
        if not contents:
            raise InvalidInput("Choose projects on at least one ballot.")
        return [await _store(row, pot, content, now) for pot, content in contents]


async def _store(row: dict[str, Any], pot: dict[str, Any], content: str, now: dt.datetime) -> KioskReceipt:
    """One station ballot and one more voter in its district's turnout count."""
    receipt = new_receipt()
    await raw(
        "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, channel, version, cast_at) "
        "VALUES ({}, {}, {}, {}, {}, 'station', 1, {})",
        new_ballot_id(),
        pot["id"],
        secrets.token_hex(32),  # random: nothing can find this ballot again, or link it to anyone
        receipt,
        content,
        ballot_day(now),
    )
    await raw(
        "INSERT INTO pb_voter_record (cycle, pot, district_code, voters) VALUES ({}, {}, {}, 1) "
        "ON CONFLICT (pot, district_code) DO UPDATE SET voters = pb_voter_record.voters + 1",
        row["cycle"],
        pot["id"],
        row["district_code"],
    )
    return KioskReceipt(pot, receipt)

