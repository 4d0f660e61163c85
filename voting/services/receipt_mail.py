"""The ballot receipt mail, off the cast's request path, through the durable mail outbox.

A committed cast only notes ``(account, cycle, pot)`` in an in-process list (no I/O: it cannot slow or
fail the cast). ``flush_receipt_mails`` (every worker, every second, beside the screening signals) turns
the list into ``portal_mail_outbox`` rows in one transaction, sorted by account: the rows hold no
receipt and no ballot, and they are written apart from any cast's transaction, so neither their content
nor their transaction order joins an account to a ballot. The notification mail loop then sends them;
``compose_receipt_mails`` (the manifest service ``mail.ballot-receipt``) looks the receipt up at send time
through the voter's keyed HMAC, as the voter's own "my ballot" page does. The receipt thus never rests
anywhere beside the account (not in the outbox, not in a log). A worker that crashes loses at most one
second of notes: those voters still have the receipt on screen and on their ballot page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from portal import i18n
from portal.db import raw
from portal.notification_mail import queue_mails
from portal.settings import get_settings
from voting.compute.rules import voter_key
from voting.services.cycles import pot_name

log = logging.getLogger("hangang.voting")
KIND = "ballot-receipt"
SUBJECT = "Your ballot receipt"
BODY = (
    "Your ballot in %(cycle)s (%(pot)s) was stored. Your receipt is %(receipt)s. After voting closes, find it in "
    "the published list of receipts to check that your ballot was counted."
)
FLUSH_SECONDS = 1.0
MAX_PENDING = 100_000  # beyond this a flood is dropped rather than held in memory (the receipt is on screen)

_pending: list[tuple[int, int, int]] = []


def note_receipt(user_id: int, cycle_id: int, pot_id: int) -> None:
    """Note that a changed ballot's receipt is to be mailed (no I/O; called after COMMIT)."""
    if len(_pending) < MAX_PENDING:
        _pending.append((user_id, cycle_id, pot_id))


def discard_pending() -> None:
    """Forget the notes not yet written (tests and benchmarks that reset the database)."""
    _pending.clear()


async def flush_receipt_mails() -> int:
    """Write the noted receipt mails to the outbox (one per account and pot); returns how many rows."""
    global _pending
    taken, _pending = _pending, []
    wanted = sorted(set(taken))  # by account: nothing of the order of arrival; a recast within a second mails once
    if not wanted:
        return 0
    accounts = sorted({user for user, _, _ in wanted})
    marks = ", ".join("{}" for _ in accounts)
    found = {r["id"] for r in await raw(f"SELECT id FROM portal_user WHERE id IN ({marks})", *accounts)}  # noqa: S608
    rows = [(user, {"cycle": cycle, "pot": pot}) for user, cycle, pot in wanted if user in found]
    await queue_mails(KIND, BODY, rows)
    return len(rows)


async def compose_receipt_mails(items: list[tuple[int, dict[str, Any], str]]) -> list[tuple[str, str] | None]:
    """(subject, body) of each ``(account, params, language)`` receipt mail, with the voter's current receipt;
    None where the voter has no ballot in that pot (any more). Two statements per pot, whatever the count."""
    secret = get_settings().secret_key
    by_pot: dict[tuple[int, int], list[int]] = {}
    for index, (_, params, _) in enumerate(items):
        by_pot.setdefault((int(params["cycle"]), int(params["pot"])), []).append(index)
    out: list[tuple[str, str] | None] = [None] * len(items)
    for (cycle_id, pot_id), indexes in by_pot.items():
        pots = await raw(
            "SELECT p.district_code, c.name FROM pb_pot p JOIN pb_cycle c ON c.id = p.cycle WHERE p.id = {} AND p.cycle = {}",
            pot_id,
            cycle_id,
        )
        if not pots:
            continue
        keys = {index: voter_key(secret, items[index][0], pot_id) for index in indexes}
        marks = ", ".join("{}" for _ in keys)
        receipts = {
            r["voter_key"]: r["receipt"]
            for r in await raw(
                f"SELECT voter_key, receipt FROM pb_ballot WHERE pot = {{}} AND voter_key IN ({marks})",  # noqa: S608
                pot_id,
                *keys.values(),
            )
        }
        for index, key in keys.items():
            if key in receipts:
                language = items[index][2]
                body = i18n.translate(
                    BODY, language, cycle=pots[0]["name"], pot=pot_name(pots[0], language), receipt=receipts[key]
                )
                out[index] = (i18n.translate(SUBJECT, language), body)
    return out


async def receipt_mail_loop(stop: asyncio.Event) -> None:
    """Write the noted receipt mails every ``FLUSH_SECONDS``."""
    try:
        while not stop.is_set():
            await _flush_logged()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=FLUSH_SECONDS)
    except asyncio.CancelledError:
        await _flush_logged()  # a stopping worker writes what it holds before its pool closes
        raise
    await _flush_logged()


async def _flush_logged() -> None:
    try:
        await flush_receipt_mails()
    except Exception:  # a busy database must not kill the worker; the receipt is on screen
        log.exception("receipt mails not queued")
