"""A real ``hangang serve`` subprocess on 127.0.0.1 with its own database, for end-to-end tests.

Used by the browser journeys, the schema fuzzing and the crash tests: they need a
real HTTP server (and sometimes a process to SIGKILL), not the in-process client.
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database_url(work_dir: Path) -> str:
    """A new empty database on the engine this test run uses (a file, or a new PostgreSQL database)."""
    base = os.environ.get("HANGANG_DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{work_dir / 'live.sqlite3'}"
    import asyncio

    import asyncpg

    parts = urlparse(base)
    name = f"hangang_live_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(
            host=parts.hostname, port=parts.port, user=parts.username, password=parts.password, database=parts.path.lstrip("/")
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    # In a thread of its own: Playwright's sync API may already run an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create()).result()
    return parts._replace(path=f"/{name}").geturl()


class LiveServer:
    """Start ``hangang serve`` in a subprocess; ``url`` is its address."""

    def __init__(self, *, demo: bool = False, workers: int = 1, database_url: str | None = None, env: dict[str, str] | None = None):
        self.work_dir = Path(tempfile.mkdtemp(prefix="hangang-live-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url or fresh_database_url(self.work_dir)
        self.demo = demo
        self.workers = workers
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = self.work_dir / "server.log"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HANGANG_DATABASE_URL=self.database_url,
            HANGANG_VAR_DIR=str(self.work_dir / "var"),
            HANGANG_ENV="development",
            HANGANG_BASE_URL=self.url,
            **self.extra_env,
        )
        return env

    def start(self, timeout: float = 60) -> LiveServer:
        args = [sys.executable, "-m", "portal.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        if self.demo:
            args.append("--demo")
        log = self.log_path.open("ab")
        # Started from the temp dir on purpose: the portal must not depend on the working directory.
        self.process = subprocess.Popen(
            args, cwd=self.work_dir, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches uvicorn's workers too
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hangang serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"hangang serve did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and its workers: no clean shutdown, as in a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
