"""Item 9 / A2: SIGKILL a real ``hangang serve`` during a ballot storm, restart, check the database.

Every acknowledged ballot is stored (or replaced by a later cast of the same voter), no voter has
two ballots, and the database passes its integrity check. Runs on the engine of the suite: a
fresh SQLite file, or a fresh database on the suite's PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
HANGANG = str(Path(sys.executable).parent / "hangang")
VOTERS = 120

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``hangang serve`` as a real process group on its own database."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.folder / "server.log", "a")
        self.process = subprocess.Popen(
            [HANGANG, "serve", "--port", str(self.port), "--workers", "2"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(
            "the server did not start: " + (self.folder / "server.log").read_text()[-2000:]
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)


async def _create_postgres_database(url: str) -> str:
    import asyncpg

    name = f"hangang_crash_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return urlparse(url)._replace(path=f"/{name}").geturl()


async def _drop_postgres_database(url: str, database_url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            f'DROP DATABASE IF EXISTS "{urlparse(database_url).path.lstrip("/")}" WITH (FORCE)'
        )
    finally:
        await connection.close()


async def _storm(
    port: int,
    plan: dict,
    token: str,
    stop: asyncio.Event,
    acked: dict[str, list[dict]],
    statuses: dict[str, int],
) -> None:
    """Each voter casts again and again, one request at a time, recording what was acknowledged."""
    url = f"http://127.0.0.1:{port}/api/v1/pb/cycles/{plan['cycle']}/pots/{plan['pot']}/ballot"

    async def voter(session: str) -> None:
        client = httpx.AsyncClient(timeout=5)
        client.cookies.update({"hangang_session": session, "csrftoken": token})
        async with client:
            while not stop.is_set():
                body = {"project_ids": random.sample(plan["projects"], random.randint(1, 5))}
                try:
                    response = await client.put(url, json=body, headers={"x-csrftoken": token})
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(0.05)
                    continue
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
                assert response.status_code < 500 or stop.is_set(), response.text
                if response.status_code == 200:
                    acked.setdefault(session, []).append(
                        {**response.json(), "project_ids": sorted(body["project_ids"])}
                    )

    await asyncio.gather(*(voter(s) for s in plan["sessions"][:40]))


async def test_sigkill_during_a_ballot_storm_loses_no_acknowledged_ballot():
    suite_url = os.environ["HANGANG_DATABASE_URL"]
    folder = Path(tempfile.mkdtemp(prefix="hangang-crash-"))
    env = dict(os.environ, HANGANG_VAR_DIR=str(folder / "var"), HANGANG_ENV="development")
    env["HANGANG_BALLOT_MIX_SECONDS"] = "1"  # the mixer rewrites the pot during the storm
    postgres = suite_url.startswith(("postgres://", "postgresql://"))
    database_url = (
        await _create_postgres_database(suite_url)
        if postgres
        else f"sqlite:///{folder / 'crash.sqlite3'}"
    )
    env["HANGANG_DATABASE_URL"] = database_url
    server = Server(env, folder)
    try:
        subprocess.run([HANGANG, "migrate"], env=env, cwd=REPO, check=True, capture_output=True)
        seeded = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import asyncio, json; from voting.testing import seed_load; print(json.dumps(asyncio.run(seed_load({VOTERS}, 8))))",
            ],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])
        server.start()
        token = httpx.get(f"http://127.0.0.1:{server.port}/healthz").cookies["csrftoken"]
        acked: dict[str, list[dict]] = {}
        statuses: dict[str, int] = {}
        stop = asyncio.Event()
        storm = asyncio.create_task(_storm(server.port, plan, token, stop, acked, statuses))
        deadline = time.monotonic() + 20
        while sum(len(v) for v in acked.values()) < 150 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.to_thread(server.kill)  # SIGKILL mid-storm
        stop.set()
        await storm
        assert sum(len(v) for v in acked.values()) >= 150, (
            f"too few acknowledged casts to mean anything: {statuses}"
        )

        server.start()  # restart on the same database
        async with httpx.AsyncClient(timeout=10) as client:
            for session, casts in acked.items():
                client.cookies.set("hangang_session", session)
                response = await client.get(
                    f"http://127.0.0.1:{server.port}/api/v1/pb/cycles/{plan['cycle']}/pots/{plan['pot']}/ballot"
                )
                assert response.status_code == 200, response.text
                stored = response.json()
                last = casts[-1]
                # The last acknowledged cast is stored, or a later one that committed just before the kill.
                assert stored["version"] >= last["version"]
                if stored["version"] == last["version"]:
                    assert (
                        stored["receipt"] == last["receipt"]
                        and stored["project_ids"] == last["project_ids"]
                    )
        server.kill(signal.SIGTERM)
        counts = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import asyncio, json; from portal.db import raw\n"
                    "async def main():\n"
                    "    b = await raw('SELECT COUNT(*) AS n, COUNT(DISTINCT voter_key) AS k FROM pb_ballot')\n"
                    # Turnout counts (no per-voter rows since issue 10) must add up to the ballots.
                    "    v = await raw('SELECT COALESCE(SUM(voters), 0) AS n FROM pb_voter_record')\n"
                    "    print(json.dumps([b[0]['n'], b[0]['k'], v[0]['n']]))\n"
                    "asyncio.run(main())"
                ),
            ],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        ballots, distinct_voters, records = json.loads(counts.stdout.strip().splitlines()[-1])
        assert ballots == distinct_voters == records >= len(acked)
        if postgres:
            import asyncpg

            connection = await asyncpg.connect(database_url)
            try:
                await connection.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
                indexes = await connection.fetch(
                    "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am a ON a.oid = c.relam "
                    "WHERE t.relname LIKE 'pb_%' AND a.amname = 'btree'"
                )
                assert indexes
                for index in indexes:
                    await connection.execute(
                        "SELECT bt_index_check($1::regclass, true)", index["relname"]
                    )
            finally:
                await connection.close()
        else:
            connection = sqlite3.connect(folder / "crash.sqlite3")
            try:
                assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            finally:
                connection.close()
    finally:
        server.kill()
        if postgres:
            await _drop_postgres_database(suite_url, database_url)
