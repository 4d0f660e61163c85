"""A vote day on ``hangang serve --workers 2``: online casts, station check-ins, tablet ballots and paper
batches at once, on SQLite and on PostgreSQL (a throwaway cluster from scripts/pg-temp.sh).

For each engine: migrate a fresh database; seed (directly, not through argon2 logins) a cycle in voting,
verified online voters with ready sessions, ``--stations`` open Gangnam-gu stations with two poll workers
each (signed in, two-step done) and residents in the register; start the real server; then, from a
separate load-generator process, for ``--seconds``:

- ``--online`` voters at a time cast and replace online ballots (PUT /api/v1/pb/.../ballot), each sending
  its next cast as soon as the last is answered (a closed loop: the online rate is what the server
  sustains). A voter connects, casts ``--casts-per-connection`` times (4: a cast and a few changes of
  mind) and leaves, and the next voter connects, as browsers do; so the kernel hands new connections to
  whichever worker accepts first, as it does on a real voting day. (Thirty-two connections held for the
  whole run instead stay where they were accepted, often 24 on one worker and 8 on the other, and the
  figure then measures that split.)
- at each station one desk checks residents in (POST /pb/stations/{id}/check-in), alternating a tablet
  ballot (then the tablet casts it: POST /pb/kiosk/ballot) and a paper ballot handed out;
- at each station a paper desk opens a batch of 20 sheets, keys it twice (two workers) and counts it.

The station desks are people: by default a desk checks a resident in every ``--check-in-every`` seconds
(2 s: a real check-in with an ID card takes half a minute or more) and a paper desk opens, double-keys and
counts a batch of 20 sheets every ``--batch-every`` seconds (10 s: two people keying 20 sheets each take
minutes), so ten stations do the work of well over a hundred real ones. ``--flat-out`` drops the pacing:
every desk sends its next request as soon as the last is answered, which measures the stations' own
capacity (their requests then take CPU from the online casts, and the online rate falls accordingly).

After the warm-up the PostgreSQL database is analyzed once, as autovacuum would have done on a live
database within a minute (plans made on the empty ballot and participation tables scan them whole).

Prints requests/s, p50 and p99 per channel and errors; then the CPU the two workers, PostgreSQL and the
load generator used over the measured window and what stayed idle (a figure with idle CPU left waited
on something; one without is CPU-bound), and the mail outbox's states when the load stopped (every
changed ballot queues a receipt mail; pending ones are sent once the load falls). No assertions:
figures only. The wall-clock figures need the machine to itself, and even then runs of the same code
differ by up to 15 % (docs/pb.md, "Fourth round"): run it several times. ``--py-spy FILE`` records
each worker (raw stacks in FILE.<pid>).

    .venv/bin/python bench/vote_day.py                      # both engines
    .venv/bin/python bench/vote_day.py --engines sqlite --seconds 10 --stations 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "bench"))  # after the rooms: bench/judging.py must not shadow judging

from cast_cost import children, cpu_seconds, postgres_cpu, psql  # noqa: E402  (CPU of the workers and PostgreSQL)
from vote_load import (  # noqa: E402  (a sibling script: the HTTP connection and the server plumbing)
    HANGANG,
    PYTHON,
    Conn,
    csrf_token,
    free_port,
    start_postgres,
    stop_everything,
    wait_healthy,
)

WARM_UP_SECONDS = 2.0
SHEETS_PER_BATCH = 20
KIOSK_CODE = re.compile(rb'id="kiosk-code">([A-Z0-9-]+)<')
LOCATION = re.compile(rb"/paper/batches/(\d+)")
CHANNELS = ("online cast", "check-in", "tablet cast", "paper keying")


# ---------------------------------------------------------------- seeding (in a subprocess with the engine's env)


async def seed(voters: int, stations: int, residents_per_station: int) -> dict:
    """The cycle, online voters' sessions, stations with two signed-in poll workers, register entries."""
    import datetime as dt
    import secrets

    from portal import clock
    from portal.accounts import resident_identifier_hash
    from portal.db import write_transaction
    from portal.tables import ResidentHash, SessionRecord, User
    from voting.tables import Station, StationCount, StationWorker
    from voting.testing import seed_load

    plan = await seed_load(voters, 20)
    pots = await _pots(plan["cycle"])
    now = clock.now()
    stamp = int(now.timestamp())
    out = []
    async with write_transaction():
        for s in range(stations):
            row = await Station.insert(
                Station(cycle=plan["cycle"], district_code="11680", name=f"Station {s + 1}", address="Hakdong-ro",
                        opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(hours=12), created_at=now)
            ).returning(Station.id)
            station = row[0]["id"]
            await StationCount.insert(StationCount(station=station))
            sessions = []
            for w in range(2):
                user = await User.insert(
                    User(email=f"worker{s}-{w}@load.hangang.kr", display_name=f"Worker {s}-{w}", password_hash="x",
                         language="en", roles="poll_worker", totp_secret="JBSWY3DPEHPK3PXP", totp_enabled=True,
                         created_at=now)
                ).returning(User.id)
                await StationWorker.insert(StationWorker(station=station, user=user[0]["id"]))
                key = secrets.token_hex(32)
                data = {"uid": user[0]["id"], "gen": 0, "stage": "full", "created": stamp, "seen": stamp}
                await SessionRecord.insert(
                    SessionRecord(key=key, data=json.dumps(data).encode(), expires_at=now + dt.timedelta(hours=2),
                                  uid=user[0]["id"])
                )
                sessions.append(key)
            identifiers = [f"{900101 + s:06d}-1{i:06d}" for i in range(residents_per_station)]
            await ResidentHash.insert(
                *[ResidentHash(identifier_hash=resident_identifier_hash(x), district_code="11680", imported_at=now)
                  for x in identifiers]
            )
            out.append({"id": station, "sessions": sessions, "identifiers": identifiers})
    plan["stations"] = out
    plan["pots"] = pots
    return plan


async def _pots(cycle_id: int) -> dict[str, list[int]]:
    """Each pot a Gangnam-gu resident votes in, with its projects (the tablet form's fields)."""
    from voting.projects import pot_projects
    from voting.tables import Pot

    rows = await Pot.select(Pot.id).where(
        (Pot.cycle == cycle_id) & (Pot.district_code.is_null() | (Pot.district_code == "11680"))
    )
    return {str(r["id"]): [p.id for p in await pot_projects(r["id"])] for r in rows}


# ---------------------------------------------------------------- the load generator (its own process)


def _request(method: str, path: str, session: str, token: str, body: bytes, kind: str = "form") -> bytes:
    content = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: hangang_session={session}; csrftoken={token}\r\n"
        f"x-csrftoken: {token}\r\nContent-Type: {content}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _form(pairs: list[tuple[str, object]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode([(k, str(v)) for k, v in pairs]).encode()


class HeadConn(Conn):
    """A connection that keeps the last reply's head (the new batch's address is in its Location), and
    connects again when the server closed it while a paced desk was idle (uvicorn's keep-alive is 5 s)."""

    port = 0

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.reader.at_eof() or self.writer.is_closing():
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(raw)
        try:
            self.head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):  # closed just as the request left: once more
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(raw)
            self.head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in self.head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return int(self.head[9:12]), (await self.reader.readexactly(length) if length else b"")


class Load:
    """Latencies (ms) and errors per channel, measured after the warm-up."""

    def __init__(
        self, port: int, plan: dict, seconds: float, check_in_every: float, batch_every: float, casts_per_connection: int
    ) -> None:
        self.port, self.plan, self.token = port, plan, plan["csrf"]
        self.casts_per_connection = casts_per_connection
        self.check_in_every, self.batch_every = check_in_every, batch_every  # 0: flat out
        self.warm_until = time.perf_counter() + WARM_UP_SECONDS
        self.deadline = self.warm_until + seconds
        self.latencies: dict[str, list[float]] = {c: [] for c in CHANNELS}
        self.errors: dict[str, dict[str, int]] = {c: {} for c in CHANNELS}

    async def connect(self) -> HeadConn:
        conn = HeadConn(*await asyncio.open_connection("127.0.0.1", self.port))
        conn.port = self.port
        return conn

    async def timed(
        self, conn: Conn, channel: str, raw: bytes, ok: tuple[int, ...] = (200,), started: float | None = None
    ) -> tuple[int, bytes]:
        started = started or time.perf_counter()
        status, body = await conn.request(raw)
        if started >= self.warm_until:
            self.latencies[channel].append((time.perf_counter() - started) * 1000)
            if status not in ok:
                self.errors[channel][str(status)] = self.errors[channel].get(str(status), 0) + 1
        return status, body

    async def online(self) -> None:
        """Voter after voter: each connects (a browser), casts ``casts_per_connection`` times and leaves."""
        url = f"/api/v1/pb/cycles/{self.plan['cycle']}/pots/{self.plan['pot']}/ballot"
        while time.perf_counter() < self.deadline:
            started: float | None = time.perf_counter()  # the first cast's time includes the connection
            conn = await self.connect()
            session = random.choice(self.plan["sessions"])
            for _ in range(self.casts_per_connection):
                if time.perf_counter() >= self.deadline:
                    break
                body = json.dumps({"project_ids": random.sample(self.plan["projects"], random.randint(1, 5))}).encode()
                await self.timed(conn, "online cast", _request("PUT", url, session, self.token, body, "json"), started=started)
                started = None
            conn.writer.close()

    async def pace(self, every: float, started: float, n: int) -> None:
        """Wait for the desk's next slot (``every`` seconds apart from ``started``); nothing when flat out."""
        if every:
            wake = min(started + n * every, self.deadline)  # never past the end of the run
            await asyncio.sleep(max(0.0, wake - time.perf_counter()))

    async def desk(self, station: dict) -> None:
        """Check residents in, in turn to a tablet ballot (then cast on the tablet) and a paper ballot."""
        conn, session = await self.connect(), station["sessions"][0]
        started = time.perf_counter() + random.uniform(0, self.check_in_every)  # desks out of step
        for n, identifier in enumerate(station["identifiers"]):
            await self.pace(self.check_in_every, started, n)
            if time.perf_counter() >= self.deadline:
                break
            action = "station" if n % 2 == 0 else "paper"
            form = _form([("identifier", identifier), ("birth_date", "1990-01-01"), ("action", action)])
            _, body = await self.timed(conn, "check-in", _request("POST", f"/pb/stations/{station['id']}/check-in", session, self.token, form))
            code = KIOSK_CODE.search(body)
            if action == "station" and code:
                pairs: list[tuple[str, object]] = [("code", code.group(1).decode())]
                for pot, projects in self.plan["pots"].items():
                    pairs += [(f"project_ids-{pot}", p) for p in random.sample(projects, min(2, len(projects)))]
                await self.timed(conn, "tablet cast", _request("POST", "/pb/kiosk/ballot", "none", self.token, _form(pairs)))
        conn.writer.close()

    async def paper_desk(self, station: dict) -> None:
        """Open a batch, key it by both workers (the same sheets), count it; again until the end."""
        conn = await self.connect()
        first, second = station["sessions"]
        base = f"/pb/stations/{station['id']}/paper/batches"
        number = 0
        started = time.perf_counter() + random.uniform(0, self.batch_every)
        while True:
            await self.pace(self.batch_every, started, number)
            if time.perf_counter() >= self.deadline:
                break
            number += 1
            opened = _form([("pot", self.plan["pot"]), ("number", number)])
            status, _ = await self.timed(conn, "paper keying", _request("POST", base, first, self.token, opened), (303,))
            found = LOCATION.search(conn.head)
            if found is None:
                continue
            head_batch = int(found.group(1))
            sheets: list[tuple[str, object]] = [("rows", SHEETS_PER_BATCH)]
            for row in range(1, SHEETS_PER_BATCH + 1):
                sheets += [(f"s{row}-sheet", row), (f"s{row}-marks", random.choice(self.plan["projects"]))]
            for session in (first, second):
                await self.timed(conn, "paper keying", _request("POST", f"{base}/{head_batch}/keying", session, self.token, _form(sheets)), (200, 303))
            await self.timed(conn, "paper keying", _request("POST", f"{base}/{head_batch}/count", first, self.token, b""), (200, 303))
        conn.writer.close()


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


async def drive(
    port: int, plan: dict, seconds: float, online: int, check_in_every: float, batch_every: float, casts_per_connection: int
) -> dict:
    load = Load(port, plan, seconds, check_in_every, batch_every, casts_per_connection)
    tasks = [load.online() for _ in range(online)]
    tasks += [load.desk(s) for s in plan["stations"]] + [load.paper_desk(s) for s in plan["stations"]]
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - load.warm_until
    report = {}
    for channel, values in load.latencies.items():
        values.sort()
        report[channel] = {"requests": len(values), "rate": len(values) / elapsed,
                           "p50": percentile(values, 0.5), "p99": percentile(values, 0.99),
                           "errors": load.errors[channel]}
    return report


# ---------------------------------------------------------------- orchestration


def _idle() -> float:
    """Seconds all CPUs of the machine spent idle since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def run_engine(engine: str, args: argparse.Namespace) -> dict:
    var = Path(tempfile.mkdtemp(prefix=f"hangang-voteday-{engine}-"))
    env = dict(os.environ, HANGANG_VAR_DIR=str(var), HANGANG_ENV="development",
               HANGANG_SECRET_KEY="bench-" + "k" * 40)
    env.pop("HANGANG_DATABASE_URL", None)
    pg_dir = server = None
    try:
        if engine == "postgres":
            pg_dir, env["HANGANG_DATABASE_URL"] = start_postgres()
        subprocess.run([HANGANG, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
        residents = int(args.seconds * 40) + 50  # more than a desk can check in
        seeded = subprocess.run(
            [PYTHON, __file__, "--seed", f"{args.voters},{args.stations},{residents}"],
            env=env, check=True, capture_output=True, text=True, cwd=REPO,
        )
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = free_port()
        log = open(var / "server.log", "w")
        server = subprocess.Popen(
            [HANGANG, "serve", "--workers", "2", "--port", str(port)],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_healthy(port)
        plan["csrf"] = csrf_token(port)
        plan_file = var / "plan.json"
        plan_file.write_text(json.dumps(plan))
        driver = subprocess.Popen(
            [PYTHON, __file__, "--drive", str(plan_file), "--port", str(port), "--seconds", str(args.seconds),
             "--online", str(args.online), "--check-in-every", str(args.check_in_every),
             "--batch-every", str(args.batch_every), "--casts-per-connection", str(args.casts_per_connection)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        workers = children(server.pid)
        time.sleep(WARM_UP_SECONDS + 0.5)  # the driver's own start-up and warm-up
        if pg_dir:
            # A live database has statistics: autovacuum analyzes a table within a minute of its first 50
            # changed rows. This run is shorter than that, and a plan made while the ballot and
            # participation tables were empty scans them whole; analyze once, as autovacuum would have.
            psql(pg_dir, env["HANGANG_DATABASE_URL"], "ANALYZE")
        before = [cpu_seconds(p) for p in workers], postgres_cpu(pg_dir), time.perf_counter(), cpu_seconds(driver.pid), _idle()
        spies = [
            subprocess.Popen(["py-spy", "record", "-p", str(p), "-f", "raw", "-o", f"{args.py_spy}.{p}", "-r", "200",
                              "-d", str(int(args.seconds) - 1), "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for p in workers
        ] if args.py_spy else []
        time.sleep(args.seconds - 0.5)
        after = [cpu_seconds(p) for p in workers], postgres_cpu(pg_dir), time.perf_counter(), cpu_seconds(driver.pid), _idle()
        stdout, stderr = driver.communicate()
        for spy in spies:
            spy.wait()
        if driver.returncode:
            raise SystemExit(f"the load generator failed:\n{stderr}")
        report = json.loads(stdout.strip().splitlines()[-1])
        mails = subprocess.run([HANGANG, "mail-outbox"], env=env, capture_output=True, text=True, cwd=REPO)
        report["mail"] = " ".join(mails.stdout.split())  # receipt mails by state when the load stopped
        wall = after[2] - before[2]
        report["cpu"] = {"workers": [(a - b) / wall for a, b in zip(after[0], before[0], strict=True)],
                         "postgres": (after[1] - before[1]) / wall, "load": (after[3] - before[3]) / wall,
                         "idle": (after[4] - before[4]) / wall}
        return report
    finally:
        stop_everything(server, pg_dir, var)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="postgres,sqlite")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--voters", type=int, default=3000)
    parser.add_argument("--online", type=int, default=32, help="concurrent online voters")
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--check-in-every", type=float, default=2.0, help="seconds between a desk's check-ins")
    parser.add_argument("--batch-every", type=float, default=10.0, help="seconds between a paper desk's batches")
    parser.add_argument("--casts-per-connection", type=int, default=4,
                        help="casts an online voter sends on one connection before the next voter connects")
    parser.add_argument("--flat-out", action="store_true", help="station desks without pacing (closed loop)")
    parser.add_argument("--py-spy", dest="py_spy", help="record each worker with py-spy to FILE.<pid> (raw)")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flat_out:
        args.check_in_every = args.batch_every = 0.0
    if args.seed:
        voters, stations, residents = (int(x) for x in args.seed.split(","))
        print(json.dumps(asyncio.run(seed(voters, stations, residents))))
        return 0
    if args.drive:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        plan = json.loads(Path(args.drive).read_text())
        print(json.dumps(asyncio.run(drive(args.port, plan, args.seconds, args.online, args.check_in_every, args.batch_every,
                                         args.casts_per_connection))))
        return 0
    pace = ("flat out" if args.flat_out else
            f"a check-in every {args.check_in_every:g} s, a batch every {args.batch_every:g} s per station")
    print(f"vote day: {args.online} online voters ({args.voters} accounts), {args.stations} stations "
          f"(a check-in desk and a paper desk each, {SHEETS_PER_BATCH} sheets a batch; {pace}), "
          f"{args.seconds:.0f} s, 2 workers")
    for engine in args.engines.split(","):
        report = run_engine(engine, args)
        for channel in CHANNELS:
            r = report[channel]
            print(f"{engine:9} {channel:13} {r['rate']:7.1f}/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
                  f"({r['requests']} requests, errors {sum(r['errors'].values())} {r['errors'] or ''})")
        cpu = report["cpu"]
        requests = sum(report[c]["rate"] for c in CHANNELS)
        print(f"{engine:9} CPU: workers {' + '.join(f'{w:.2f}' for w in cpu['workers'])} cores, "
              f"database {cpu['postgres']:.2f}, load generator {cpu['load']:.2f}, idle {cpu['idle']:.2f} cores; per request (all channels) "
              f"{1000 * sum(cpu['workers']) / requests:.2f} ms in the workers, {1000 * cpu['postgres'] / requests:.2f} ms in the database")
        print(f"{engine:9} mail outbox when the load stopped: {report['mail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
