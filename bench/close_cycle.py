"""Closing a Seoul-scale cycle: a city-wide pot and 25 district pots, ``--ballots`` ballots (default
1,000,000) across the online, station, paper and committee channels, plus the district assembly's counts,
under weighted channels (Seoul 2019: online 50, committee 30, assembly 10, stations 10).

The ballots are inserted in bulk beforehand (not timed). Then, in a fresh process, the cycle closes:
the close itself (the mixer shuffles every pot, the official rule and its comparison are counted and
stored), every result rule computed on every pot with its explanation, and the exports written to files
(results CSV/XLSX/JSON, turnout CSV, one Pabulib file per pot). Prints per step the wall clock, the
closing process's CPU and (PostgreSQL) the database's CPU, the totals, and the closing process's peak
memory (``resource.getrusage`` maxrss). No assertions: figures only. On a shared machine compare the CPU
columns: the wall clock swings with other load (docs/pb.md, "Performance", has the measured figures).

    .venv/bin/python bench/close_cycle.py                              # SQLite, 1,000,000 ballots
    .venv/bin/python bench/close_cycle.py --ballots 100000 --engines sqlite,postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WEIGHTS = '{"assembly":10,"committee":30,"online":50,"stations":10}'
CHANNEL_MIX = (("online", 0.70), ("station", 0.18), ("paper", 0.10), ("committee", 0.02))
CITY_PROJECTS, DISTRICT_PROJECTS = 60, 20
ROWS_PER_INSERT = 1000


# ---------------------------------------------------------------- seeding (not timed)


async def seed(ballots: int) -> dict:
    """The cycle in voting, its projects, the ballots of every pot and the assembly's counts."""
    from portal import clock
    from portal.commands import migrate
    from portal.db import write_transaction
    from portal.districts import DISTRICTS
    from voting.compute.rules import BallotRules, ballot_day
    from voting.tables import AssemblyCount, Cycle, VoterRecord
    from voting.testing import add_projects, build_cycle

    await migrate()
    rules = BallotRules(ballot_kind="approval", min_projects=1, max_projects=5, results_rule="weighted-channels",
                        channel_weights=WEIGHTS, stations_with_online=False)
    codes = tuple(d.code for d in DISTRICTS)
    built = await build_cycle(None, rules=rules, districts=(), city_amount=50_000_000_000,
                              district_total=75_000_000_000, district_floor=2_000_000_000, name="Seoul PB 2027 (bench)")
    rng = random.Random(2027)
    pots = {built.city_pot: await add_projects(built.id, built.city_pot, [rng.randrange(3, 60) * 100_000_000 for _ in range(CITY_PROJECTS)])}
    for code in codes:
        pot = built.pots[code]
        pots[pot] = await add_projects(built.id, pot, [rng.randrange(1, 12) * 100_000_000 for _ in range(DISTRICT_PROJECTS)], prefix=f"{code}")
    # Half the ballots in the city-wide pot, half spread over the districts (each voter fills both).
    day = ballot_day(clock.now())
    plan = [(built.city_pot, ballots // 2)] + [
        (built.pots[code], (ballots - ballots // 2) // len(codes) + (1 if i < (ballots - ballots // 2) % len(codes) else 0))
        for i, code in enumerate(codes)
    ]
    for pot, count in plan:
        async with write_transaction():  # one commit per pot, not per thousand rows
            await _insert_ballots(pot, pots[pot], count, rng, day)
        await AssemblyCount.insert(*[
            AssemblyCount(cycle=built.id, pot=pot, project=pid, approvals=rng.randrange(0, 300), entered_at=clock.now())
            for pid in pots[pot]
        ])
    await VoterRecord.insert(*[
        VoterRecord(cycle=built.id, pot=pot, district_code=code, voters=count)
        for (pot, count), code in zip(plan[1:], codes, strict=True)
    ])
    # Voting ended yesterday: the dates move past the close (the close itself is the timed step).
    import datetime as dt

    from voting.testing import schedule_for

    ended = schedule_for("voting", clock.now() - dt.timedelta(days=10))
    await Cycle.update({getattr(Cycle, k): v for k, v in ended.items()}).where(Cycle.id == built.id)
    return {"cycle": built.id, "pots": len(pots), "ballots": ballots}


async def _insert_ballots(pot: int, ids: list[int], count: int, rng: random.Random, day: object) -> None:
    """``count`` approval ballots of one pot, a thousand rows a statement, channels in CHANNEL_MIX shares."""
    from portal.canonical import canonical_json
    from portal.db import raw
    from voting.compute.rules import new_ballot_id, new_receipt

    channels = [c for c, _ in CHANNEL_MIX]
    shares = [s for _, s in CHANNEL_MIX]
    popular = ids[: len(ids) // 3]  # some projects are far more popular, as in real votes
    for start in range(0, count, ROWS_PER_INSERT):
        n = min(ROWS_PER_INSERT, count - start)
        args: list[object] = []
        for _ in range(n):
            k = rng.randint(1, 5)
            chosen = set(rng.sample(popular, min(k, len(popular)))[: rng.randint(0, k)]) | set(rng.sample(ids, k))
            args += [new_ballot_id(), pot, secrets.token_hex(32), new_receipt(),
                     canonical_json({"project_ids": sorted(chosen)[:5]}), rng.choices(channels, shares)[0], day]
        values = ", ".join("({}, {}, {}, {}, {}, {}, 1, {})" for _ in range(n))
        await raw(f"INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, channel, version, cast_at) VALUES {values}",  # noqa: S608
                  *args)


# ---------------------------------------------------------------- the close (timed, its own process)


class Steps:
    """Seconds per step: wall clock, this process's CPU and (PostgreSQL) the database backends' CPU.

    On a shared machine the wall clock swings with other load; the CPU seconds much less.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.app_cpu: dict[str, float] = {}
        self.db_cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        wall, cpu, db = time.perf_counter(), time.process_time(), database_cpu()
        yield
        self.seconds[name] = time.perf_counter() - wall
        self.app_cpu[name] = time.process_time() - cpu
        self.db_cpu[name] = database_cpu() - db


def database_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL cluster's live processes (0 for SQLite)."""
    pid_file = os.environ.get("BENCH_POSTMASTER_PID")
    if not pid_file:
        return 0.0
    postmaster = Path(pid_file).read_text().split()[0]
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def close(cycle_id: int, out_dir: Path) -> dict:
    from portal import db
    from voting.compute import results as results_mod
    from voting.compute.rules import RESULT_RULES
    from voting.exports import build_export
    from voting.mixer import mix_pending
    from voting.projects import pot_projects
    from voting.services.cycles import get_cycle, pots_of
    from voting.services.lifecycle import advance_cycle
    from voting.services.results import current_runs, pot_input

    await db.start_pool()  # as in the server
    steps = Steps()
    with steps.step("mixer: every pot's ballots shuffled"):  # the close's first step, timed apart
        await mix_pending([p["id"] for p in await pots_of(cycle_id)])
    with steps.step("close: official rule and comparison stored"):
        state = await advance_cycle(cycle_id)  # closes, counts the official rule and its comparison
        runs = await current_runs(cycle_id)

    with steps.step("every other rule on every pot, with explanations"):
        cycle = await get_cycle(cycle_id)
        lines = 0
        for pot in await pots_of(cycle_id):
            data, _ = await pot_input(cycle, pot)
            titles = {p.id: p.title for p in await pot_projects(pot["id"])}
            for rule in RESULT_RULES:
                if rule == "weighted-channels":
                    continue  # counted with the assembly and committee channels by the close above
                _, outcome = results_mod.run_rule(rule, data)
                lines += len(results_mod.explanation_lines(outcome, titles, lambda m: m))

    with steps.step("exports written"):
        names = ["results.csv", "results.xlsx", "results.json", "turnout.csv"]
        names += [f"pot-{p['id']}.pb" for p in await pots_of(cycle_id)]
        written = 0
        for name in names:
            file_name, _, body = await build_export(cycle_id, name)
            (out_dir / file_name).write_bytes(body)
            written += len(body)
    await db.close_pool()
    return {"state": state, "runs": len(runs), "explanation_lines": lines, "files": len(names),
            "bytes": written, "steps": steps.seconds, "app_cpu": steps.app_cpu, "db_cpu": steps.db_cpu,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ---------------------------------------------------------------- orchestration


def run_engine(engine: str, ballots: int) -> dict:
    sys.path.append(str(REPO / "bench"))  # after the rooms: bench/judging.py must not shadow judging
    from vote_load import start_postgres, stop_postgres

    var = Path(tempfile.mkdtemp(prefix=f"hangang-close-{engine}-"))
    env = dict(os.environ, HANGANG_VAR_DIR=str(var), HANGANG_ENV="development", HANGANG_SECRET_KEY="bench-" + "k" * 40)
    env.pop("HANGANG_DATABASE_URL", None)
    pg_dir = None
    try:
        if engine == "postgres":
            pg_dir, env["HANGANG_DATABASE_URL"] = start_postgres()
        began = time.perf_counter()
        seeded = subprocess.run([sys.executable, __file__, "--seed", str(ballots)], env=env, check=True,
                                capture_output=True, text=True, cwd=REPO)
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])
        plan["seed_seconds"] = time.perf_counter() - began
        (var / "exports").mkdir()
        began = time.perf_counter()
        if pg_dir:
            env["BENCH_POSTMASTER_PID"] = str(Path(pg_dir, "data", "postmaster.pid"))
        closed = subprocess.run([sys.executable, __file__, "--close", str(plan["cycle"]), "--out", str(var / "exports")],
                                env=env, check=True, capture_output=True, text=True, cwd=REPO)
        result = json.loads(closed.stdout.strip().splitlines()[-1])
        result["process_seconds"] = time.perf_counter() - began
        return plan | result
    finally:
        if pg_dir:
            stop_postgres(pg_dir)
        shutil.rmtree(var, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite")
    parser.add_argument("--ballots", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--close", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        print(json.dumps(asyncio.run(seed(args.seed))))
        return 0
    if args.close:
        print(json.dumps(asyncio.run(close(args.close, Path(args.out)))))
        return 0
    for engine in args.engines.split(","):
        r = run_engine(engine, args.ballots)
        total = sum(r["steps"].values())
        print(f"{engine}: {r['ballots']:,} ballots in {r['pots']} pots (bulk insert {r['seed_seconds']:.0f} s, not timed)")
        print(f"  {'step':52} {'wall':>9} {'app CPU':>9} {'db CPU':>9}")
        for step, seconds in r["steps"].items():
            print(f"  {step:52} {seconds:7.1f} s {r['app_cpu'][step]:7.1f} s {r['db_cpu'][step]:7.1f} s")
        print(f"  {'close total':52} {total:7.1f} s {sum(r['app_cpu'].values()):7.1f} s {sum(r['db_cpu'].values()):7.1f} s"
              f"   (process incl. start-up {r['process_seconds']:.1f} s)  "
              f"peak memory {r['peak_mb']:.0f} MB  state {r['state']}, {r['runs']} stored runs, "
              f"{r['explanation_lines']:,} explanation lines, {r['files']} files ({r['bytes'] / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
