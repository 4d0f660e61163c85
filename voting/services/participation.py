"""One person, one vote across channels: who a person is in a cycle, and that they took part.

A person is their claimed resident-register entry (the salted identifier hash) when they have one,
else their account (``user:<id>``). ``Participation`` stores only a keyed HMAC of the person and the
cycle (like the ballot's voter key), never the person, and nothing that points at a ballot: the unique
(cycle, person_key) index lets the database refuse a second channel, even for racing requests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from portal.db import is_postgres, raw
from portal.errors import Conflict
from voting.compute.rules import ballot_day


@dataclass(frozen=True)
class Facts:
    """What the statistics count a participation by (voting.compute.statistics): never who it was."""

    district_code: str | None = None
    age_band: str | None = None
    station: int | None = None


FACT_COLUMNS = "cycle, person_key, channel, recorded_on, district_code, age_band, station"

# Why a second vote is refused, by the channel the person already used (message ids, translated).
ALREADY_VOTED = {
    "online": "This person already voted online in this cycle. There is no second ballot.",
    "station": "This person already voted on a station tablet in this cycle. There is no second ballot.",
    "paper": "This person already received a paper ballot in this cycle. There is no second ballot.",
}
ALREADY_VOTED_ELSEWHERE = "This person already voted in this cycle through another channel. There is no second ballot."
# What an online voter reads when they already voted in person.
VOTED_IN_PERSON = "You already voted at a voting station in this cycle, so you cannot vote online as well."


def person_key(secret: str, cycle_id: int, person: str) -> str:
    """The participation key: a keyed HMAC, so the table alone names no one."""
    return hmac.new(secret.encode(), f"pb-person|{cycle_id}|{person}".encode(), hashlib.sha256).hexdigest()


def register_person(identifier_hash: str) -> str:
    """A person found in the resident register (checked in by identifier, or an account that claimed it)."""
    return identifier_hash


def account_person(user_id: int) -> str:
    """A person known only by their portal account."""
    return f"user:{user_id}"


async def persons_of_accounts(user_ids: list[int]) -> dict[int, str]:
    """Each account's person: its claimed register entry when it has one, else the account."""
    persons = {user_id: account_person(user_id) for user_id in user_ids}
    if user_ids:
        accounts = sorted(set(user_ids))
        marks = ", ".join("{}" for _ in accounts)
        rows = await raw(
            f"SELECT claimed_by, identifier_hash FROM portal_resident_hash WHERE claimed_by IN ({marks})",  # noqa: S608
            *accounts,
        )
        for row in rows:
            persons[row["claimed_by"]] = register_person(row["identifier_hash"])
    return persons


def already_voted_message(channel: str) -> str:
    return ALREADY_VOTED.get(channel, ALREADY_VOTED_ELSEWHERE)


async def take_part(
    cycle_id: int, keys: list[str], channel: str, now: dt.datetime, facts: dict[str, Facts] | None = None
) -> dict[str, str]:
    """Record that these persons take part through ``channel`` (inside the caller's transaction).

    Returns the channel each key is recorded with afterwards: ``channel`` for new rows and for
    persons who already took part the same way, their earlier channel otherwise.
    """
    if not keys:
        return {}
    unique = sorted(set(keys))
    day = ballot_day(now)  # no time finer than the day
    values = ", ".join("({}, {}, {}, {}, {}, {}, {})" for _ in unique)
    args: list[object] = []
    for key in unique:
        fact = (facts or {}).get(key, Facts())
        args += [cycle_id, key, channel, day, fact.district_code, fact.age_band, fact.station]
    marks = ", ".join("{}" for _ in unique)
    insert = f"INSERT INTO pb_participation ({FACT_COLUMNS}) VALUES {values} ON CONFLICT (cycle, person_key) DO NOTHING"  # noqa: S608
    select = f"SELECT person_key, channel FROM pb_participation WHERE cycle = {{}} AND person_key IN ({marks})"  # noqa: S608
    if is_postgres():
        # One round trip: the new rows come back from the insert, the earlier ones from the select (which
        # does not see this statement's own inserts). A row another transaction committed while this one
        # waited on it is in neither: those few keys are read again below.
        rows = await raw(
            f"WITH added AS ({insert} RETURNING person_key, channel) "  # noqa: S608
            f"SELECT person_key, channel FROM added UNION ALL {select}",
            *args,
            cycle_id,
            *unique,
        )
        found = {r["person_key"]: r["channel"] for r in rows}
        missing = [key for key in unique if key not in found]
        if not missing:
            return found
        again = ", ".join("{}" for _ in missing)
        rows = await raw(
            f"SELECT person_key, channel FROM pb_participation WHERE cycle = {{}} AND person_key IN ({again})",  # noqa: S608
            cycle_id,
            *missing,
        )
        return found | {r["person_key"]: r["channel"] for r in rows}
    await raw(insert, *args)
    rows = await raw(select, cycle_id, *unique)
    return {r["person_key"]: r["channel"] for r in rows}


async def take_part_once(cycle_id: int, key: str, channel: str, now: dt.datetime, facts: Facts = Facts()) -> None:
    """Record a new participation, refusing (409) anyone who already took part in the cycle."""
    rows = await raw(
        f"INSERT INTO pb_participation ({FACT_COLUMNS}) "  # noqa: S608
        "VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (cycle, person_key) DO NOTHING RETURNING channel",
        cycle_id,
        key,
        channel,
        ballot_day(now),
        facts.district_code,
        facts.age_band,
        facts.station,
    )
    if not rows:
        earlier = await participation_channel(cycle_id, key)
        raise Conflict(already_voted_message(earlier or ""), field="person")


async def participation_channel(cycle_id: int, key: str) -> str | None:
    """The channel a person took part through in a cycle, or None."""
    rows = await raw(
        "SELECT channel FROM pb_participation WHERE cycle = {} AND person_key = {}", cycle_id, key
    )
    return rows[0]["channel"] if rows else None
