"""Checking a resident in at a voting station, then a tablet ballot or a paper ballot for them.

The poll worker finds the person by the resident register (the salted identifier hash) or by their
portal account, types the birth date from the ID card (never stored), and sees whether they may vote:
a district with something on the ballot, old enough for the cycle, not yet voted in any channel. A
tablet ballot is a one-time code (only its hash is stored) that carries the station and the district,
never the person; the participation row is written here, at check-in, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from portal import audit, clock
from portal.accounts import resident_identifier_hash
from portal.db import raw, write_transaction
from portal.errors import Conflict, DomainError, InvalidInput, NotAllowed
from portal.identity import CurrentUser
from portal.settings import get_settings
from portal.tables import ResidentHash, User
from voting.compute.rules import SEOUL, new_receipt
from voting.compute.statistics import age_band
from voting.services.cycles import get_cycle, phase_of, pots_of
from voting.services.participation import (
    Facts,
    account_person,
    already_voted_message,
    participation_channel,
    person_key,
    register_person,
    take_part_once,
)
from voting.services.stations import StationView, station_for_worker

ACTIONS = ("check", "station", "paper")  # look only; open a tablet ballot; hand out a paper ballot


@dataclass(frozen=True)
class CheckInForm:
    """What the poll worker typed: the register identifier or the account's email, and the birth date."""

    identifier: str = ""
    email: str = ""
    birth_date: str = ""


@dataclass(frozen=True)
class Person:
    person: str  # register hash or "user:<id>": only ever stored as a keyed HMAC
    district_code: str
    by: str  # "register" or "account"


@dataclass(frozen=True)
class CheckInResult:
    """What the poll worker sees: who may vote where, and the tablet code when one was opened."""

    action: str
    district_code: str
    pots: tuple[dict[str, Any], ...]
    kiosk_code: str | None = None
    expires_at: dt.datetime | None = None


def kiosk_code_hash(code: str) -> str:
    """The stored form of a tablet code: SHA-256 of the code without spaces, dashes or case."""
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(f"pb-kiosk|{normalised}".encode()).hexdigest()


def parse_birth_date(text: str) -> dt.date:
    """A birth date as typed from the ID card (YYYY-MM-DD or YYYYMMDD)."""
    digits = text.strip().replace("-", "").replace(".", "").replace("/", "")
    try:
        born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) if len(digits) == 8 else None
    except ValueError:
        born = None
    if born is None or not digits.isdigit():
        raise InvalidInput("Enter the birth date from the ID card, like 2008-03-15.", field="birth_date")
    return born


def age_on(born: dt.date, today: dt.date) -> int:
    """Whole years of age on ``today``."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _check_age(cycle: dict[str, Any], text: str, now: dt.datetime) -> str:
    """Refuse a birth date that is not plausible or under the cycle's age; the age band for the statistics."""
    today = now.astimezone(SEOUL).date()
    born = parse_birth_date(text)
    if born > today or age_on(born, today) > 130:
        raise InvalidInput("Enter the birth date from the ID card, like 2008-03-15.", field="birth_date")
    if age_on(born, today) < cycle["min_voting_age"]:
        raise NotAllowed(
            "This person is under the minimum voting age of this cycle (%(age)s).",
            field="birth_date",
            age=cycle["min_voting_age"],
        )
    return age_band(age_on(born, today))


async def find_person(form: CheckInForm) -> Person:
    """The person by register identifier (preferred) or by account email; 422 beside the field."""
    if form.identifier.strip():
        digest = resident_identifier_hash(form.identifier.strip())
        rows = await raw("SELECT district_code FROM portal_resident_hash WHERE identifier_hash = {}", digest)
        if not rows:
            raise InvalidInput("This identifier is not in the resident register.", field="identifier")
        return Person(register_person(digest), rows[0]["district_code"], "register")
    if not form.email.strip():
        raise InvalidInput("Enter the resident's identifier or the email address of their account.", field="identifier")
    user = await User.select(User.id, User.district_code, User.residency_verified).where(
        User.email == form.email.strip().lower()
    ).first()
    if user is None:
        raise InvalidInput("No account with this email address.", field="email")
    claimed = await ResidentHash.select(ResidentHash.identifier_hash, ResidentHash.district_code).where(
        ResidentHash.claimed_by == user["id"]
    ).first()
    if claimed is not None:
        return Person(register_person(claimed["identifier_hash"]), claimed["district_code"], "account")
    if not user["residency_verified"] or not user["district_code"]:
        raise NotAllowed("This account is not a verified resident. Check the person in by the resident register.", field="email")
    return Person(account_person(user["id"]), user["district_code"], "account")


async def _ballot_pots(cycle_id: int, district_code: str) -> tuple[dict[str, Any], ...]:
    """The pots a resident of ``district_code`` votes in: city-wide and their district's (with money)."""
    pots = tuple(
        p for p in await pots_of(cycle_id) if p["amount"] > 0 and p["district_code"] in (None, district_code)
    )
    if not pots:
        raise NotAllowed("There is nothing to vote on for this person's district in this cycle.", field="identifier")
    return pots


async def _open_station(worker: CurrentUser, station_id: int, now: dt.datetime) -> tuple[StationView, dict[str, Any]]:
    station = await station_for_worker(worker, station_id)
    cycle = await get_cycle(station.cycle)
    if phase_of(cycle, now) != "voting":
        raise Conflict("Voting is not open in this cycle.")
    if not station.is_open(now):
        raise Conflict("This station is not open now (see its opening hours).")
    return station, cycle


async def check_in(worker: CurrentUser, station_id: int, form: CheckInForm, action: str) -> CheckInResult:
    """Check a person in; ``station`` opens a tablet ballot, ``paper`` records a paper ballot handed out.

    Refusals (unknown person, under age, already voted) raise with the field they belong to; a
    refusal because the person already voted is audited too (for the fraud report).
    """
    if action not in ACTIONS:
        raise InvalidInput("Choose what to do for this person.")
    now = clock.now()
    station, cycle = await _open_station(worker, station_id, now)
    person = await find_person(form)
    band = _check_age(cycle, form.birth_date, now)
    pots = await _ballot_pots(cycle["id"], person.district_code)
    key = person_key(get_settings().secret_key, cycle["id"], person.person)
    try:
        if action == "check":
            earlier = await participation_channel(cycle["id"], key)
            if earlier is not None:
                raise Conflict(already_voted_message(earlier), field="person")
            return CheckInResult(action, person.district_code, pots)
        facts = Facts(person.district_code, band, station.id)
        return await _record(worker, station, cycle["id"], key, person, pots, action, now, facts)
    except Conflict as exc:
        if exc.field != "person":
            raise
        await _refused(worker, station, person, exc)
        # Beside the field the person was found by.
        raise Conflict(exc.message, field="identifier" if person.by == "register" else "email") from None


async def _record(
    worker: CurrentUser,
    station: StationView,
    cycle_id: int,
    key: str,
    person: Person,
    pots: tuple[dict[str, Any], ...],
    channel: str,
    now: dt.datetime,
    facts: Facts,
) -> CheckInResult:
    code = expires_at = None
    # Plain statements: a desk checks people in all day (bench/vote_day.py).
    async with write_transaction():
        await take_part_once(cycle_id, key, channel, now, facts)  # the unique index refuses a racing second
        if channel == "station":
            await raw("DELETE FROM pb_kiosk_ballot WHERE expires_at < {}", now)  # unused codes leave no trace
            code = new_receipt()
            expires_at = now + dt.timedelta(minutes=get_settings().kiosk_ballot_minutes)
            await raw(
                "INSERT INTO pb_kiosk_ballot (token_hash, station, district_code, expires_at) VALUES ({}, {}, {}, {})",
                kiosk_code_hash(code), station.id, person.district_code, expires_at,
            )
            await raw(
                "UPDATE pb_station_count SET tablet_ballots = tablet_ballots + 1 WHERE station = {}", station.id
            )
        else:
            await raw("UPDATE pb_station_count SET paper_ballots = paper_ballots + 1 WHERE station = {}", station.id)
        # Officials see who checked people in, where, when and for which channel and district; never whom.
        await audit.record_unlinked(
            "pb.station.check_in",
            actor_id=worker.id,
            subject=f"pb-station:{station.id}",
            channel=channel,
            district=person.district_code,
            found_by=person.by,
        )
    return CheckInResult(channel, person.district_code, pots, code, expires_at)


async def _refused(worker: CurrentUser, station: StationView, person: Person, exc: DomainError) -> None:
    """Audit a check-in refused because the person already voted (a second-vote attempt)."""
    async with write_transaction():
        await audit.record_unlinked(
            "pb.station.check_in_refused",
            actor_id=worker.id,
            subject=f"pb-station:{station.id}",
            reason=exc.message,
            district=person.district_code,
        )
