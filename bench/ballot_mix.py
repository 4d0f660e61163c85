"""How long the ballot mixer holds the writers of a pot: one mix of N ballots, on a fresh database.

Casts to every pot wait while a pot is mixed (PostgreSQL: a table lock; SQLite: the one writer
lock), so this is the pause the mixer adds every ``HANGANG_BALLOT_MIX_SECONDS`` when a pot changed.

    .venv/bin/python bench/ballot_mix.py                          # SQLite, 11,067 ballots (Mokotów)
    HANGANG_DATABASE_URL=postgresql://... .venv/bin/python bench/ballot_mix.py --ballots 50000

On PostgreSQL the URL's database is used as it is: give it an empty, throw-away database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time


async def main(ballots: int, rounds: int) -> None:
    from portal.canonical import canonical_json
    from portal.commands import migrate
    from portal.db import is_postgres, raw
    from voting.compute.rules import ballot_day, new_ballot_id, new_receipt
    from voting.mixer import mix_pot
    from voting.testing import build_cycle

    await migrate()
    built = await build_cycle(None)
    pot, ids = built.city_pot, built.projects[built.city_pot]
    day = ballot_day(time_now())
    for start in range(0, ballots, 200):
        chunk = range(start, min(ballots, start + 200))
        values = ", ".join("({}, {}, {}, {}, {}, 1, {})" for _ in chunk)
        args: list[object] = []
        for i in chunk:
            content = canonical_json({"project_ids": sorted(ids[: i % 5 + 1])})
            args += [new_ballot_id(), pot, secrets.token_hex(32), new_receipt(), content, day]
        await raw(
            f"INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at) VALUES {values}",  # noqa: S608
            *args,
        )
    engine = "postgres" if is_postgres() else "sqlite"
    for n in range(rounds):
        began = time.perf_counter()
        mixed = await mix_pot(pot, force=True)
        print(
            f"{engine}: mixed {mixed} ballots in {time.perf_counter() - began:.3f} s (round {n + 1})"
        )


def time_now():
    from portal import clock

    return clock.now()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=11_067)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="hangang-mix-")
    os.environ.setdefault("HANGANG_DATABASE_URL", f"sqlite:///{folder}/mix.sqlite3")
    os.environ.setdefault("HANGANG_VAR_DIR", f"{folder}/var")
    import portal  # noqa: F401  (sets PICCOLO_CONF from the environment)

    asyncio.run(main(options.ballots, options.rounds))
