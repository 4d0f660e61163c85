"""Ballot casting under load: ``hangang serve --workers 2`` on SQLite, then on PostgreSQL.

For each engine: migrate a fresh database, create a few thousand verified voters with ready
sessions (inserted directly, so 3,000 argon2 logins do not dominate the set-up), start the real
server, then drive 32 concurrent voters casting and replacing ballots for 20 seconds from a
separate, light load-generator process (raw HTTP/1.1 keep-alive on uvloop), and finally hit
``/healthz`` the same way as the stack's ceiling. Prints casts/s, p50, p99 and errors.

    .venv/bin/python bench/vote_load.py                 # both engines
    .venv/bin/python bench/vote_load.py --engines sqlite --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WARM_UP_SECONDS = 2.0
PYTHON = sys.executable
HANGANG = str(Path(PYTHON).parent / "hangang")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the load generator (its own process)


class Conn:
    """One keep-alive HTTP/1.1 connection with just enough parsing for these replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body


async def drive(port: int, plan: dict, seconds: float, concurrency: int, path_kind: str) -> dict:
    """Run ``concurrency`` workers for ``seconds``; return latencies (ms) and error counts."""
    token = plan["csrf"]
    sessions, projects = plan["sessions"], plan["projects"]
    url = f"/api/v1/pb/cycles/{plan['cycle']}/pots/{plan['pot']}/ballot"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    warm_until = (
        time.perf_counter() + WARM_UP_SECONDS
    )  # first requests of each worker are not measured
    deadline = warm_until + seconds

    def cast_request() -> bytes:
        chosen = random.sample(projects, random.randint(1, 5))
        body = json.dumps({"project_ids": chosen}).encode()
        cookie = f"hangang_session={random.choice(sessions)}; csrftoken={token}"
        return (
            f"PUT {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nx-csrftoken: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def me_request() -> bytes:
        """A signed-in read (session and account lookups only): the floor under every cast."""
        return f"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: hangang_session={random.choice(sessions)}\r\n\r\n".encode()

    async def worker() -> None:
        conn = Conn(*await asyncio.open_connection("127.0.0.1", port))
        while time.perf_counter() < deadline:
            raw = (
                cast_request()
                if path_kind == "cast"
                else me_request()
                if path_kind == "me"
                else health
            )
            started = time.perf_counter()
            try:
                status, _ = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                conn = Conn(*await asyncio.open_connection("127.0.0.1", port))
                continue
            if started < warm_until:
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
        conn.writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - warm_until
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0.0

    return {
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1] if latencies else 0.0,
        "errors": errors,
    }


# ---------------------------------------------------------------- orchestration


def start_postgres() -> tuple[str, str]:
    out = subprocess.run(
        [str(REPO / "scripts" / "pg-temp.sh"), "start"], check=True, capture_output=True, text=True
    ).stdout
    values = dict(part.split("=", 1) for part in out.replace("export ", "").split())
    return values["PG_TEMP_DIR"], values["PG_TEMP_URL"]


def stop_postgres(folder: str) -> None:
    subprocess.run([str(REPO / "scripts" / "pg-temp.sh"), "stop", folder], check=False)


def stop_everything(server: subprocess.Popen | None, pg_dir: str | None, var: str) -> None:
    """Stop the portal's server (its whole process group), the throwaway cluster and the data folder."""
    if server is not None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    if pg_dir:
        stop_postgres(pg_dir)
    shutil.rmtree(var, ignore_errors=True)


def wait_healthy(port: int, timeout: float = 60) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become healthy")


def csrf_token(port: int) -> str:
    import httpx

    response = httpx.get(f"http://127.0.0.1:{port}/healthz")
    return response.cookies["csrftoken"]


def run_engine(engine: str, args: argparse.Namespace) -> dict:
    var = Path(tempfile.mkdtemp(prefix=f"hangang-bench-{engine}-"))
    pg_dir = None
    env = dict(
        os.environ,
        HANGANG_VAR_DIR=str(var),
        HANGANG_ENV="development",
        HANGANG_SECRET_KEY="bench-" + "k" * 40,
    )
    env.pop("HANGANG_DATABASE_URL", None)
    server = None
    try:
        if engine == "postgres":
            pg_dir, url = start_postgres()
            env["HANGANG_DATABASE_URL"] = url
        subprocess.run([HANGANG, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
        seeded = subprocess.run(
            [PYTHON, __file__, "--seed", str(args.voters)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = free_port()
        log = open(var / "server.log", "w")
        server = subprocess.Popen(
            [
                HANGANG,
                "serve",
                "--workers",
                os.environ.get("BENCH_WORKERS", "2"),
                "--port",
                str(port),
            ],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_healthy(port)
        plan["csrf"] = csrf_token(port)
        plan_file = var / "plan.json"
        plan_file.write_text(json.dumps(plan))
        results = {}
        for kind, seconds in (
            ("cast", args.seconds),
            ("me", min(args.seconds, 10)),
            ("healthz", min(args.seconds, 10)),
        ):
            out = subprocess.run(
                [
                    PYTHON,
                    __file__,
                    "--drive",
                    str(plan_file),
                    "--port",
                    str(port),
                    "--kind",
                    kind,
                    "--seconds",
                    str(seconds),
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        counts = subprocess.run(
            [
                PYTHON,
                "-c",
                "import asyncio, portal; from portal.db import raw; print(asyncio.run(raw('SELECT COUNT(*) AS n FROM pb_ballot'))[0]['n'])",
            ],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        results["ballots_stored"] = int(counts.stdout.strip().splitlines()[-1])
        return results
    finally:
        stop_everything(server, pg_dir, var)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--voters", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="cast", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        sys.path.insert(0, str(REPO))
        from voting.testing import seed_load

        print(json.dumps(asyncio.run(seed_load(args.seed, 20))))
        return 0
    if args.drive:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        plan = json.loads(Path(args.drive).read_text())
        print(
            json.dumps(
                asyncio.run(drive(args.port, plan, args.seconds, args.concurrency, args.kind))
            )
        )
        return 0
    targets = {"sqlite": (200, 300), "postgres": (500, 150)}
    print(
        f"{args.concurrency} concurrent voters, {args.voters} verified voters, {args.seconds:.0f} s per engine, 2 workers"
    )
    for engine in args.engines.split(","):
        r = run_engine(engine, args)
        cast, health, me = r["cast"], r["healthz"], r["me"]
        rate_target, p99_target = targets[engine]
        verdict = (
            "meets"
            if cast["rate"] >= rate_target and cast["p99"] < p99_target and not cast["errors"]
            else "misses"
        )
        print(
            f"{engine:9} casts {cast['rate']:7.1f}/s  p50 {cast['p50']:6.1f} ms  p99 {cast['p99']:6.1f} ms  "
            f"max {cast['max']:6.0f} ms  errors {sum(cast['errors'].values())} {cast['errors'] or ''}  ({cast['requests']} casts, "
            f"{r['ballots_stored']} ballots stored)  | GET /api/v1/me {me['rate']:6.1f}/s p99 {me['p99']:6.1f} ms  | /healthz {health['rate']:7.1f}/s p99 {health['p99']:5.1f} ms"
            f"  -> {verdict} target >= {rate_target}/s, p99 < {p99_target} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
