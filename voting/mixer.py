"""The ballot mixer: rewrites a pot's ballots in one transaction in shuffled order.

Rows written together share a transaction id (PostgreSQL ``xmin``) and sit next to each other
(``ctid``; SQLite's ``rowid``), so a fresh ballot can be joined to whatever else its request
wrote, or was written just before or after it. Rewriting all of a pot's ballots at once, in a
random order and under new random ids, gives them one transaction id and a physical order
that says nothing about when, or in which request, each was cast. The pot's turnout counts are
rewritten in the same transaction so their transaction ids point at no cast either.

Every worker runs :func:`ballot_mixer_loop`; a pot is mixed when its ballots changed since its
last mix (count or sum of versions differs from ``pb_ballot_mix``), every
``HANGANG_BALLOT_MIX_SECONDS`` (default 60). Results are counted only after a final mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portal.db import is_postgres, raw, write_transaction
from portal.settings import get_settings
from voting.mixer_rebuild import ballots_per_pot, large_page_cache, rebuild_ballots, wants_rebuild

log = logging.getLogger("hangang.voting.mixer")


async def _signature(pot_id: int) -> tuple[int, int]:
    rows = await raw(
        "SELECT COUNT(*) AS n, COALESCE(SUM(version), 0) AS v FROM pb_ballot WHERE pot = {}",
        pot_id,
    )
    return int(rows[0]["n"]), int(rows[0]["v"])


async def pots_to_mix(pot_ids: list[int] | None = None) -> list[int]:
    """Pots whose ballots changed since their last mix (all pots, or only ``pot_ids``)."""
    rows = await raw(
        "SELECT b.pot AS pot, COUNT(*) AS n, SUM(b.version) AS v, m.ballots AS mn, m.versions AS mv "
        "FROM pb_ballot b LEFT JOIN pb_ballot_mix m ON m.pot = b.pot "
        "GROUP BY b.pot, m.ballots, m.versions"
    )
    wanted = None if pot_ids is None else set(pot_ids)
    return sorted(
        r["pot"]
        for r in rows
        if (wanted is None or r["pot"] in wanted)
        and (r["mn"] is None or (int(r["n"]), int(r["v"])) != (int(r["mn"]), int(r["mv"])))
    )


async def mix_pot(pot_id: int, *, force: bool = False) -> int:
    """Rewrite one pot's ballots in shuffled order with new random ids; returns how many.

    Skips the pot (returns 0) when nothing changed since its last mix, unless ``force``.
    """
    async with write_transaction():
        if is_postgres():
            # Casts wait for the few milliseconds of the rewrite; reads go on.
            await raw("LOCK TABLE pb_ballot IN SHARE ROW EXCLUSIVE MODE")
        else:
            await raw("PRAGMA secure_delete = ON")  # zero the old rows' bytes in the file
        signature = await _signature(pot_id)
        last = await raw("SELECT ballots, versions FROM pb_ballot_mix WHERE pot = {}", pot_id)
        if not force and last and (int(last[0]["ballots"]), int(last[0]["versions"])) == signature:
            return 0
        async with large_page_cache():
            await _rewrite(pot_id, signature)
    return signature[0]


async def _rewrite(pot_id: int, signature: tuple[int, int]) -> None:
    """The pot's ballots rewritten under new ids in random order (inside the mixer's transaction)."""
    # The shuffle and the new ids are drawn by the database (its own random source): no row
    # crosses into Python, so the pause stays short for large pots.
    postgres = is_postgres()
    drop = "ON COMMIT DROP " if postgres else ""
    random_id = (
        "(floor(random() * 9223372036854775806))::bigint + 1"
        if postgres
        else "(random() & 9223372036854775807)"
    )
    # New ids drawn here and the order drawn below are independent of each other.
    await raw(
        f"CREATE TEMP TABLE pb_mix {drop}AS "  # noqa: S608 - no values interpolated
        f"SELECT {random_id} AS id, voter_key, receipt, content, channel, version, cast_at "
        "FROM pb_ballot WHERE pot = {}",
        pot_id,
    )
    await raw("DELETE FROM pb_ballot WHERE pot = {}", pot_id)
    await raw(
        "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, channel, version, cast_at) "
        "SELECT id, {}, voter_key, receipt, content, channel, version, cast_at FROM pb_mix "
        "ORDER BY random()",
        pot_id,
    )
    if not postgres:
        await raw("DROP TABLE temp.pb_mix")
    # The turnout counts were last written by some cast's transaction: rewrite them too.
    await raw("UPDATE pb_voter_record SET voters = voters WHERE pot = {}", pot_id)
    await raw(
        "INSERT INTO pb_ballot_mix (pot, ballots, versions) VALUES ({}, {}, {}) "
        "ON CONFLICT (pot) DO UPDATE SET ballots = excluded.ballots, versions = excluded.versions",
        pot_id,
        *signature,
    )


async def mix_pending(pot_ids: list[int] | None = None) -> dict[int, int]:
    """Mix every pot (or every listed pot) whose ballots changed; returns ballots per mixed pot.

    Many changed ballots (the close of a large cycle, the first round after a bulk load) are mixed
    by rebuilding the whole ballot table at once (:func:`voting.mixer_rebuild.rebuild_ballots`);
    a few by rewriting their pots.
    """
    pending = await pots_to_mix(pot_ids)
    if pending and wants_rebuild(pending, await ballots_per_pot()):
        return await rebuild_ballots(pending)
    mixed = {}
    for pot_id in pending:
        count = await mix_pot(pot_id)
        if count:
            mixed[pot_id] = count
    return mixed


async def forget_write_order() -> None:
    """SQLite: empty the WAL file, whose page images keep the casts' commit order until then.

    Best effort: a reader that holds an old snapshot open makes the checkpoint stop short.
    """
    if not is_postgres():
        await raw("PRAGMA wal_checkpoint(TRUNCATE)")


async def ballot_mixer_loop(stop: asyncio.Event, interval: float | None = None) -> None:
    """Mix pots with new or replaced ballots every ``interval`` seconds until the server stops."""
    interval = interval or get_settings().ballot_mix_seconds
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            break
        try:
            mixed = await mix_pending()
            if mixed:
                await forget_write_order()
                # Counts only: which pot and how many ballots, never which ones.
                log.info("ballot mixer rewrote %s pots", len(mixed))
        except Exception:  # a busy database must not kill the worker
            log.exception("ballot mixer failed; will retry")
