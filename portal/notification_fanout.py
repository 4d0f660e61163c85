"""Telling every follower of an event's targets in two set-based statements (``portal.notifications.announce``).

One ``INSERT ... SELECT`` writes the in-portal notices and one the outbox mails, straight from the follows
and each reader's settings, each ``ON CONFLICT DO NOTHING`` against the unique (event_key, user) index:
no row per reader passes through Python, so a step followed by tens of thousands stays short inside the
caller's transaction. Only placeholders carry values into the SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from portal.db import is_postgres, raw


def _typed(pg_type: str) -> str:
    """A placeholder PostgreSQL must be told the type of (SQLite takes the value as it is)."""
    return f"CAST({{}} AS {pg_type})" if is_postgres() else "{}"


def _followers(targets: Sequence[tuple[str, int]], exclude: Iterable[int]) -> tuple[str, list[Any]]:
    """``SELECT DISTINCT "user"`` of the follows of ``targets``, less ``exclude``, and its arguments."""
    by_kind: dict[str, list[int]] = {}
    for kind, target_id in targets:
        by_kind.setdefault(kind, []).append(int(target_id))
    parts, args = [], []
    for kind, ids in by_kind.items():
        parts.append("(target_kind = {} AND target_id IN (" + ", ".join("{}" for _ in ids) + "))")
        args += [kind, *ids]
    sql = 'SELECT DISTINCT "user" FROM portal_follow WHERE (' + " OR ".join(parts) + ")"  # noqa: S608 - placeholders only
    left_out = [int(u) for u in exclude]
    if left_out:
        sql += ' AND "user" NOT IN (' + ", ".join("{}" for _ in left_out) + ")"
        args += left_out
    return sql, args


async def tell_followers(
    event_key: str,
    kind: str,
    message: str,
    targets: Sequence[tuple[str, int]],
    exclude: Iterable[int],
    params: dict[str, Any],
    link: str,
    now: dt.datetime,
    digest_at: dt.datetime,
) -> None:
    """Record the notice and the mail of every follower who has not switched ``kind`` off."""
    followers, follower_args = _followers(targets, exclude)
    switched_off = f"%,{kind},%"
    readers = (
        f"FROM ({followers}) AS f LEFT JOIN portal_notification_setting s ON s.\"user\" = f.\"user\" "
    )
    await raw(
        'INSERT INTO portal_notification ("user", message, params, link, created_at, kind, event_key) '
        f'SELECT f."user", {{}}, {_typed("JSON")}, {{}}, {_typed("TIMESTAMPTZ")}, {{}}, {{}} '
        + readers
        + "WHERE (',' || COALESCE(s.app_off, '') || ',') NOT LIKE {} ON CONFLICT DO NOTHING",
        message, json.dumps(params), link, now, kind, event_key, *follower_args, switched_off,
    )
    timestamp = _typed("TIMESTAMPTZ")
    await raw(
        'INSERT INTO portal_mail_outbox ("user", event_key, kind, message, params, link, digest, due_at, status, created_at) '
        f'SELECT f."user", {{}}, {{}}, {{}}, {_typed("JSON")}, {{}}, COALESCE(s.mail_mode = \'daily\', FALSE), '
        f"CASE WHEN s.mail_mode = 'daily' THEN {timestamp} ELSE {timestamp} END, 'pending', {timestamp} "
        + readers
        + "WHERE (',' || COALESCE(s.mail_off, '') || ',') NOT LIKE {} ON CONFLICT DO NOTHING",
        event_key, kind, message, json.dumps(params), link, digest_at, now, now, *follower_args, switched_off,
    )
