"""The ballot mixer's bulk path: the whole ballot table rebuilt at once, in a random order.

Rewriting a pot row by row (:func:`voting.mixer.mix_pot`) keeps every index up to date as it goes:
each row lands at a random place in four B-trees (random ids, receipts and voter keys) and has its
pot checked, which at a million ballots costs most of a minute. Here the table is emptied, its
indexes and foreign keys are set aside, every ballot is written back under a new random id in the
order of that id, and the indexes are built afterwards by sorting, in the same transaction:

* PostgreSQL: ``TRUNCATE`` gives the table a fresh, empty file (the old one is unlinked at commit,
  so no old row version stays behind for ``pageinspect``); the constraints and indexes are taken
  from the catalog (``pg_get_constraintdef``, ``pg_get_indexdef``), dropped and created again under
  the same names, so the schema is the same before and after; the table keeps its identity
  (grants, the ``pb_ballot`` name everywhere). Every row gets the rebuild's transaction id.
* SQLite: the table is dropped (``secure_delete`` zeroes the freed pages) and created again from
  its own SQL in ``sqlite_master``, its indexes after the rows; the rows are stored in the order of
  their new ids, which is also the order of the table's B-tree (``id`` is the rowid), so the
  file's order is that random order.

Readers and writers of ballots wait for the rebuild (PostgreSQL: ``ACCESS EXCLUSIVE``; SQLite:
the one writer lock, and readers see the old snapshot until the commit).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from portal.db import is_postgres, raw, write_transaction

MIX_CACHE_KIB = (
    256 * 1024
)  # SQLite page cache of the mixing connection (per connection, freed with it)
REBUILD_MIN_BALLOTS = 20_000  # below this, rewriting the changed pots is as quick and locks less
REBUILD_SHARE = 4  # rebuild when the changed pots hold at least a quarter of all ballots


async def ballots_per_pot() -> dict[int, int]:
    rows = await raw("SELECT pot, COUNT(*) AS n FROM pb_ballot GROUP BY pot")
    return {int(r["pot"]): int(r["n"]) for r in rows}


def wants_rebuild(pending: list[int], counts: dict[int, int]) -> bool:
    """Whether rebuilding the whole table beats rewriting the ``pending`` pots one by one."""
    changed = sum(counts.get(pot, 0) for pot in pending)
    return changed >= REBUILD_MIN_BALLOTS and changed * REBUILD_SHARE >= sum(counts.values())


@contextlib.asynccontextmanager
async def large_page_cache() -> AsyncIterator[None]:
    """SQLite: a 256 MB page cache for the rewrite, back to the default after (pooled connection).

    Random-order inserts into four indexes thrash the default 2 MB cache: with 256 MB the mix of
    100,000 ballots took 4.9-5.1 s of CPU instead of 7.9-8.3 s.
    """
    if is_postgres():
        yield
        return
    await raw(f"PRAGMA cache_size = -{MIX_CACHE_KIB}")
    try:
        yield
    finally:
        await raw("PRAGMA cache_size = -2000")  # SQLite's default; frees the pages above it


async def rebuild_ballots(pending: list[int]) -> dict[int, int]:
    """Rewrite every ballot of every pot in one transaction; returns ballots per pot of ``pending``."""
    async with write_transaction():
        if is_postgres():
            await raw("LOCK TABLE pb_ballot IN ACCESS EXCLUSIVE MODE")
            await raw("SET LOCAL maintenance_work_mem = '256MB'")  # index builds sort in memory
        else:
            await raw("PRAGMA secure_delete = ON")  # zero the old rows' bytes in the file
        signatures = {
            int(r["pot"]): (int(r["n"]), int(r["v"]))
            for r in await raw(
                "SELECT pot, COUNT(*) AS n, SUM(version) AS v FROM pb_ballot GROUP BY pot"
            )
        }
        async with large_page_cache():
            await _copy_out()
            schema = await (_set_aside_postgres() if is_postgres() else _set_aside_sqlite())
            await raw(
                "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, channel, version, cast_at) "
                "SELECT id, pot, voter_key, receipt, content, channel, version, cast_at FROM pb_mix ORDER BY id"
            )
            for statement in schema:
                await raw(statement)
            if not is_postgres():
                await raw("DROP TABLE temp.pb_mix")
        # The turnout counts were last written by some cast's transaction: rewrite them too.
        await raw("UPDATE pb_voter_record SET voters = voters")
        for pot, (count, versions) in signatures.items():
            await raw(
                "INSERT INTO pb_ballot_mix (pot, ballots, versions) VALUES ({}, {}, {}) "
                "ON CONFLICT (pot) DO UPDATE SET ballots = excluded.ballots, versions = excluded.versions",
                pot,
                count,
                versions,
            )
    return {pot: signatures[pot][0] for pot in pending if pot in signatures}


async def _copy_out() -> None:
    """Every ballot into a temporary table under a new random id (drawn by the database), then none left."""
    postgres = is_postgres()
    random_id = (
        "(floor(random() * 9223372036854775806))::bigint + 1"
        if postgres
        else "(random() & 9223372036854775807)"
    )
    await raw(
        f"CREATE TEMP TABLE pb_mix {'ON COMMIT DROP ' if postgres else ''}AS "  # noqa: S608 - no values
        f"SELECT {random_id} AS id, pot, voter_key, receipt, content, channel, version, cast_at FROM pb_ballot"
    )
    if postgres:
        await raw("TRUNCATE pb_ballot")


async def _set_aside_postgres() -> list[str]:
    """Drop the ballot table's keys, foreign keys and indexes; returns the statements that restore them."""
    constraints = await raw(
        "SELECT conname, contype, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = 'pb_ballot'::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype = 'f', conname"
    )
    indexes = await raw(
        "SELECT c.relname, pg_get_indexdef(c.oid) AS definition FROM pg_index x "
        "JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'pb_ballot'::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) ORDER BY c.relname"
    )
    for row in sorted(constraints, key=lambda r: r["contype"] != "f"):  # foreign keys first
        await raw(f'ALTER TABLE pb_ballot DROP CONSTRAINT "{row["conname"]}"')
    for row in indexes:
        await raw(f'DROP INDEX "{row["relname"]}"')
    keys = [r for r in constraints if r["contype"] != "f"]
    foreign = [r for r in constraints if r["contype"] == "f"]
    return (
        [f'ALTER TABLE pb_ballot ADD CONSTRAINT "{r["conname"]}" {r["definition"]}' for r in keys]
        + [r["definition"] for r in indexes]
        + [
            f'ALTER TABLE pb_ballot ADD CONSTRAINT "{r["conname"]}" {r["definition"]}'
            for r in foreign
        ]
    )


async def _set_aside_sqlite() -> list[str]:
    """Drop the ballot table and make it again, empty, from its own SQL; returns the statements that
    create its indexes (and any trigger) again.

    Dropping frees the pages at once (zeroed under ``secure_delete``) where a ``DELETE`` would
    remove a million rows one by one from every index (three times slower).
    """
    table = await raw("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'pb_ballot'")
    others = await raw(
        "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'pb_ballot' "
        "AND sql IS NOT NULL ORDER BY type, name"
    )
    await raw("DROP TABLE pb_ballot")
    await raw(table[0]["sql"])
    return [row["sql"] for row in others]
