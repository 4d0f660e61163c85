"""Announcing an event to the followers of a cycle: ``--followers`` accounts (default 20,000) follow it,
some with daily digests or kinds switched off; prints the seconds ``portal.notifications.announce`` takes
(the time the announcing step's transaction is held) and the rows it wrote. No assertions: figures only.

    .venv/bin/python bench/notify_fanout.py                       # a fresh SQLite file
    HANGANG_DATABASE_URL=postgresql://... .venv/bin/python bench/notify_fanout.py --followers 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


async def main(followers: int) -> None:
    from portal.commands import migrate
    from portal.db import close_pool, prepare_sqlite, raw, start_pool
    from portal.notifications import announce
    from portal.tables import MailOutboxItem, Notification

    await migrate()
    await prepare_sqlite()
    await start_pool()
    try:
        await raw(
            "INSERT INTO portal_user (email, display_name, password_hash, language, roles, created_at, "
            "session_generation, totp_enabled, totp_last_step, residency_verified) "
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {}) "
            "SELECT 'bench' || i || '@example.kr', 'bench', 'x', 'ko', 'citizen', CURRENT_TIMESTAMP, 0, FALSE, 0, FALSE FROM c",
            followers,
        )
        await raw('INSERT INTO portal_follow ("user", target_kind, target_id, created_at) SELECT id, \'cycle\', 1, CURRENT_TIMESTAMP FROM portal_user')
        await raw(
            'INSERT INTO portal_notification_setting ("user", app_off, mail_off, mail_mode, updated_at) '
            "SELECT id, CASE WHEN id % 10 = 0 THEN 'voting-opens' ELSE '' END, '', "
            "CASE WHEN id % 3 = 0 THEN 'daily' ELSE 'immediate' END, CURRENT_TIMESTAMP FROM portal_user"
        )
        started = time.perf_counter()
        await announce(
            "bench:voting-opens", "voting-opens", "Voting has opened in %(cycle)s. It closes on %(closes)s.",
            targets=[("cycle", 1), ("pot", 1), ("pot", 2)], params={"cycle": "Seoul PB", "closes": "2027-03-31 18:00 KST"},
        )
        seconds = time.perf_counter() - started
        print(f"{followers:,} followers: announce {seconds:.2f} s, "
              f"{await Notification.count():,} notices, {await MailOutboxItem.count():,} mails")
    finally:
        await close_pool()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=20_000)
    args = parser.parse_args()
    if not os.environ.get("HANGANG_DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="hangang-bench-")
        os.environ["HANGANG_DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ.setdefault("HANGANG_VAR_DIR", folder)
    asyncio.run(main(args.followers))
