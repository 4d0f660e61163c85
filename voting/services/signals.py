"""Fraud screening signals: keyed client addresses and devices per minute, recorded off the request path.

A request only appends to an in-process list (no I/O, so it never slows or fails a cast); a loop writes
the list every ``FLUSH_SECONDS`` in one transaction, so signal rows are written in batches that do not
sit next to any one cast's transaction. Addresses and User-Agents exist only in that list, then only as
HMACs under a key per cycle (docs/pb.md, "Fraud screening"). A crash loses at most one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections import Counter
from dataclasses import dataclass

from portal import clock
from portal.client_screening import client_keys as keyed_client
from portal.db import raw, write_transaction
from portal.settings import get_settings
from voting.compute.rules import voter_key
from voting.tables import Cycle, Quarantine

log = logging.getLogger("hangang.voting")
FLUSH_SECONDS = 1.0
MAX_PENDING = 100_000  # beyond this a flood is dropped rather than held in memory
SIGN_UP_KINDS = frozenset({"signup", "verification"})


@dataclass(frozen=True)
class _Pending:
    kind: str
    cycle_id: int | None  # None: a sign-up or verification, noted for every uncertified cycle
    address: str
    user_agent: str
    minute: dt.datetime
    ballot_tag: str = ""


_pending: list[_Pending] = []


def _hmac(text: str) -> str:
    return hmac.new(get_settings().secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()


def client_keys(cycle_id: int, address: str, user_agent: str) -> tuple[str, str]:
    """(address key, device key) of a client in a cycle: keyed per cycle, so cycles do not join."""
    return keyed_client(get_settings().secret_key, f"pb-screen|{cycle_id}", address, user_agent)


def ballot_tag(ballot_voter_key: str) -> str:
    """The keyed tag of a ballot (of its voter key) a cast link and a quarantine hold."""
    return _hmac(f"pb-screen-ballot|{ballot_voter_key}")


def _minute() -> dt.datetime:
    return clock.now().replace(second=0, microsecond=0)


def _append(item: _Pending) -> None:
    if len(_pending) < MAX_PENDING:
        _pending.append(item)


def note_cast(cycle_id: int, pot_id: int, user_id: int, address: str, user_agent: str) -> None:
    """Note an online cast after it committed (no I/O; the user id is not kept, only the ballot's tag)."""
    try:
        tag = ballot_tag(voter_key(get_settings().secret_key, user_id, pot_id))
        _append(_Pending("cast", cycle_id, address, user_agent, _minute(), tag))
    except Exception:  # the ballot is stored: screening never turns its reply into an error
        log.warning("screening signal not noted", extra={"kind": "cast"})


def note_signal(kind: str, address: str, user_agent: str) -> None:
    """Note a sign-up or an identity verification (the portal calls this as ``pb.note_signal``)."""
    if kind in SIGN_UP_KINDS:
        _append(_Pending(kind, None, address, user_agent, _minute()))


def discard_pending() -> None:
    """Forget the noted signals not yet written (tests and benchmarks that reset the database)."""
    _pending.clear()


async def flush_signals() -> int:
    """Write the noted signals as per-minute counts (and the cast links); returns how many were noted."""
    global _pending
    taken, _pending = _pending, []
    if not taken:
        return 0
    uncertified = {r["id"] for r in await Cycle.select(Cycle.id).where(Cycle.state != "approved")}
    counts: Counter[tuple[int, str, str, str, dt.datetime]] = Counter()
    links: list[tuple[str, int, str, str, dt.datetime]] = []
    for item in taken:
        for cycle_id in uncertified if item.cycle_id is None else [item.cycle_id]:
            if cycle_id not in uncertified:
                continue  # certified (or gone) meanwhile: its signals are no longer kept
            address_key, device_key = client_keys(cycle_id, item.address, item.user_agent)
            counts[(cycle_id, item.kind, address_key, device_key, item.minute)] += 1
            if item.ballot_tag:
                links.append((item.ballot_tag, cycle_id, address_key, device_key, item.minute))
    rows = [
        (c, k, a, d, m, n)
        for (c, k, a, d, m), n in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][4], kv[0][2], kv[0][3])
        )
    ]
    if rows:
        # Plain multi-row inserts: building a Piccolo object per cast cost ~5% of a worker's CPU.
        async with write_transaction():
            await _insert_rows(
                "pb_screen_signal (cycle, kind, address_key, device_key, minute, events)", rows
            )
            links.sort()  # by ballot tag: no order of arrival
            await _insert_rows(
                "pb_screen_cast (ballot_tag, cycle, address_key, device_key, minute)", links
            )
    return len(taken)


async def _insert_rows(into: str, rows: list[tuple], chunk: int = 500) -> None:
    """INSERT INTO ``into`` VALUES ``rows``, ``chunk`` rows a statement (only placeholders are formatted in)."""
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        values = ", ".join("(" + ", ".join("{}" for _ in row) + ")" for row in part)
        await raw(f"INSERT INTO {into} VALUES {values}", *(v for row in part for v in row))  # noqa: S608


async def signal_flush_loop(stop: asyncio.Event) -> None:
    """Write the noted signals every ``FLUSH_SECONDS``."""
    while not stop.is_set():
        try:
            await flush_signals()
        except Exception:  # a busy database must not kill the worker; the signals are best effort
            log.exception("screening signals not written")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=FLUSH_SECONDS)


async def quarantined_tags(cycle_id: int) -> set[str]:
    """The tags of the cycle's quarantined ballots (left out of the count)."""
    rows = await Quarantine.select(Quarantine.ballot_tags).where(Quarantine.cycle == cycle_id)
    return {tag for r in rows for tag in json.loads(r["ballot_tags"] or "[]")}


async def set_aside_count(cycle_id: int) -> int:
    """How many of the cycle's ballots are quarantined (the results pages say so beside the turnout)."""
    rows = await Quarantine.select(Quarantine.ballots).where(Quarantine.cycle == cycle_id)
    return sum(r["ballots"] for r in rows)


async def grouped_ballots(
    cycle_id: int, pot_id: int, kinds: tuple[str, ...] | None = None
) -> list[tuple[str, str, int]]:
    """(channel, content, how many) of a pot's counted ballots: quarantined ones left out.

    Identical ballots come back as one row with their count (grouped by the database), so a count
    reads and parses each distinct content once; ``kinds``: only these ballot channels.
    """
    where, args = "pot = {}", [pot_id]
    if kinds is not None:
        if not kinds:
            return []
        where += " AND channel IN (" + ", ".join("{}" for _ in kinds) + ")"
        args += list(kinds)
    quarantined = await quarantined_tags(cycle_id)
    if not quarantined:
        rows = await raw(
            f"SELECT channel, content, COUNT(*) AS n FROM pb_ballot WHERE {where} GROUP BY channel, content",  # noqa: S608
            *args,
        )
        return [(r["channel"], r["content"], int(r["n"])) for r in rows]
    rows = await raw(f"SELECT channel, content, voter_key FROM pb_ballot WHERE {where}", *args)  # noqa: S608
    counted = Counter(
        (r["channel"], r["content"]) for r in rows if ballot_tag(r["voter_key"]) not in quarantined
    )
    return [(channel, content, n) for (channel, content), n in counted.items()]


async def split_quarantined(cycle_id: int, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Ballot rows (each with its ``voter_key``) as (counted, set aside by a quarantine pending review)."""
    quarantined = await quarantined_tags(cycle_id)
    if not quarantined:
        return rows, []
    counted, set_aside = [], []
    for row in rows:
        (set_aside if ballot_tag(row["voter_key"]) in quarantined else counted).append(row)
    return counted, set_aside
