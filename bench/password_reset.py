"""Password-reset timing: the request path for a known and an unknown address (issue 10, item 4).

Prints the time of ``POST /password-reset`` through the app (in process, SQLite in a temp folder) for
addresses with and without an account, alternating, each from its own client address so the rate
limit does not interfere. Run: .venv/bin/python bench/password_reset.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
_TMP = Path(tempfile.mkdtemp(prefix="hangang-bench-reset-"))
os.environ["HANGANG_DATABASE_URL"] = f"sqlite:///{_TMP / 'bench.sqlite3'}"
os.environ["HANGANG_VAR_DIR"] = str(_TMP / "var")
os.environ["HANGANG_ENV"] = "development"

import httpx  # noqa: E402


async def main(rounds: int) -> None:
    from portal import accounts, password_reset
    from portal.app import create_app
    from portal.commands import migrate

    await migrate()
    await accounts.create_user("known@example.kr", "a long and quiet river walk at dawn", ["citizen"])
    app = create_app(run_background_tasks=False)
    logging.disable(logging.INFO)  # figures only
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for number in range(rounds):
        for kind in ("known", "unknown"):
            email = "known@example.kr" if kind == "known" else f"nobody{number}@example.kr"
            transport = httpx.ASGITransport(app=app, client=(f"10.0.{number // 250}.{number % 250 + 1}", 1000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await client.get("/healthz")
                token = client.cookies.get("csrftoken")
                if number % password_reset.RESET_PER_EMAIL == 0:
                    await accounts.LoginThrottle.delete(force=True)  # keep the per-address limit out of the figures
                started = time.perf_counter()
                response = await client.post("/password-reset", data={"email": email, "_csrf_token": token})
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.status_code
        await password_reset.deliver_password_resets()
    for kind, values in timings.items():
        values = values[2:]  # warm-up
        print(
            f"{kind:8s} n={len(values)} median={statistics.median(values):.2f} ms "
            f"min={min(values):.2f} max={max(values):.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
