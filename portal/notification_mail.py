"""The notification mail outbox: claim, send, mark; one mail per row, or one daily digest per reader.

A worker claims due rows (``pending`` -> ``sending``) in a committed transaction, sends them outside any
transaction, then marks them ``sent``. A worker killed between the send and the mark leaves its rows
``sending``; after ``CLAIM_TIMEOUT`` they become ``unknown`` and are never sent again. That is at most
once: a crash can lose a notification mail (the notice stays on the reader's notifications page), it
never sends one twice. Exactly once is not possible over SMTP, which acknowledges after the fact; see
docs/operations.md. Log lines name the recipient and the subject only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from portal import clock, i18n, mail
from portal.accounts import notification_text
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.manifest import domain_service
from portal.notifications import KINDS_BY_KEY
from portal.settings import get_settings
from portal.tables import MailOutboxItem, User

log = logging.getLogger("hangang.notifications")
LOOP_SECONDS = 5.0
CLAIM_TIMEOUT = dt.timedelta(minutes=15)
RETRY_AFTER = dt.timedelta(minutes=5)  # when the mail server could not be reached at all
OUTBOX_LOCK = "portal-mail-outbox"
DIGEST_ITEMS = 50  # items listed in one digest; the rest are counted and linked
MARK_EVERY = 20  # sent mails are marked in groups: a crash leaves at most this many "unknown" (never resent)


@dataclass
class MailRound:
    """What one round of the worker did."""

    sent: int = 0
    digests: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    claimed: int = 0  # single mails taken this round (a full round means more are waiting)
    problems: list[str] = field(default_factory=list)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


async def expire_stale_claims() -> int:
    """Rows a dead worker left ``sending``: maybe sent, maybe not; mark them ``unknown``, never resend."""
    async with write_transaction(lock_key=OUTBOX_LOCK):
        rows = await MailOutboxItem.update(
            {MailOutboxItem.status: "unknown", MailOutboxItem.last_error: "worker stopped between claim and mark"}
        ).where(
            (MailOutboxItem.status == "sending") & (MailOutboxItem.claimed_at < clock.now() - CLAIM_TIMEOUT)
        ).returning(MailOutboxItem.id)
    if rows:
        log.warning("notification mail: %s mails left mid-send by a stopped worker are marked unknown", len(rows))
    return len(rows)


async def _claim(condition: Any, worker: str, limit: int) -> list[dict[str, Any]]:
    """Take due pending rows for this worker; committed before anything is sent."""
    now = clock.now()
    async with write_transaction(lock_key=OUTBOX_LOCK):
        due = (
            await MailOutboxItem.select(MailOutboxItem.id)
            .where((MailOutboxItem.status == "pending") & (MailOutboxItem.due_at <= now) & condition)
            .order_by(MailOutboxItem.id)
            .limit(limit)
        )
        if not due:
            return []
        claimed = (
            await MailOutboxItem.update(
                {MailOutboxItem.status: "sending", MailOutboxItem.claimed_at: now, MailOutboxItem.claimed_by: worker}
            )
            .where(MailOutboxItem.id.is_in([r["id"] for r in due]) & (MailOutboxItem.status == "pending"))
            .returning(*MailOutboxItem.all_columns())
        )
    return sorted(claimed, key=lambda r: r["id"])


async def _mark(ids: list[int], worker: str, status: str, error: str | None = None) -> None:
    """Record the outcome of a send, for the rows this worker still holds."""
    values: dict[Any, Any] = {MailOutboxItem.status: status, MailOutboxItem.last_error: error}
    if status == "sent":
        values[MailOutboxItem.sent_at] = clock.now()
    if status == "pending":  # the server was not reached: try again later
        values[MailOutboxItem.due_at] = clock.now() + RETRY_AFTER
    async with write_transaction(lock_key=OUTBOX_LOCK):
        await MailOutboxItem.update(values).where(
            MailOutboxItem.id.is_in(ids)
            & (MailOutboxItem.status == "sending")
            & (MailOutboxItem.claimed_by == worker)
        )


async def queue_mails(kind: str, message: str, rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Queue mails of a kind a domain composes at send time (``mail.<kind>`` in its manifest), one per
    ``(account, params)``, due now, in one transaction. Not a notification: no reader setting stops them."""
    if not rows:
        return
    now = clock.now()
    async with write_transaction():
        for start in range(0, len(rows), 200):
            part = rows[start : start + 200]
            values = ", ".join("({}, {}, {}, {}, '', {}, {}, 'pending', {})" for _ in part)
            args: list[Any] = []
            for user, params in part:
                args += [user, kind, message, canonical_json(params), False, now, now]
            await raw(
                "INSERT INTO portal_mail_outbox (\"user\", kind, message, params, link, digest, due_at, status, "  # noqa: S608
                f"created_at) VALUES {values}",
                *args,
            )


_composers: dict[str, Any] = {}


def _composer(kind: str) -> Any:
    """The domain's composer of a mail kind that is not a notification (``mail.<kind>``), or None."""
    if kind in KINDS_BY_KEY:
        return None
    if kind not in _composers:
        try:
            _composers[kind] = domain_service(f"mail.{kind}")
        except LookupError:
            _composers[kind] = None
    return _composers[kind]


def _params(row: dict[str, Any]) -> dict[str, Any]:
    import json

    value = row["params"]
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return value if isinstance(value, dict) else {}


def _item_text(row: dict[str, Any], language: str) -> str:
    text = notification_text(row["message"], _params(row), language)
    return text + (f"\n{get_settings().base_url}{row['link']}" if row["link"] else "")


def _footer(language: str) -> str:
    return "\n\n-- \n" + i18n.translate(
        "You get this mail because of your notification settings. Change them on your account page: %(url)s",
        language,
        url=get_settings().base_url + "/account#notification-settings",
    )


def _message_id(first: int, last: int) -> str:
    host = urlsplit(get_settings().base_url).hostname or "hangang.local"
    return f"<hangang-notice-{first}-{last}@{host}>"


def single_mail(row: dict[str, Any], reader: dict[str, Any]) -> mail.OutgoingMail:
    """One notification as a mail in the reader's language."""
    language = reader["language"]
    subject = i18n.translate(KINDS_BY_KEY[row["kind"]].subject, language) if row["kind"] in KINDS_BY_KEY else ""
    return mail.OutgoingMail(
        to=reader["email"],
        subject=subject or i18n.translate("Hangang Portal notification", language),
        body=_item_text(row, language) + _footer(language),
        message_id=_message_id(row["id"], row["id"]),
    )


def digest_mail(rows: list[dict[str, Any]], reader: dict[str, Any]) -> mail.OutgoingMail:
    """A reader's waiting notifications as one mail, oldest first."""
    language = reader["language"]
    lines = [f"- {_item_text(row, language)}" for row in rows[:DIGEST_ITEMS]]
    if len(rows) > DIGEST_ITEMS:
        lines.append(
            i18n.translate(
                "%(n)s more on your notifications page: %(url)s",
                language,
                n=len(rows) - DIGEST_ITEMS,
                url=get_settings().base_url + "/account/notifications",
            )
        )
    return mail.OutgoingMail(
        to=reader["email"],
        subject=i18n.translate("Your Hangang Portal notifications: %(n)s new", language, n=len(rows)),
        body="\n\n".join(lines) + _footer(language),
        message_id=_message_id(rows[0]["id"], rows[-1]["id"]),
    )


async def _readers(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The e-mail address and language of each row's reader, in one statement."""
    ids = sorted({r["user"] for r in rows})
    if not ids:
        return {}
    found = await User.select(User.id, User.email, User.language).where(User.id.is_in(ids))
    return {r["id"]: r for r in found}


async def _compose_singles(
    rows: list[dict[str, Any]], readers: dict[int, dict[str, Any]]
) -> dict[int, mail.OutgoingMail | None]:
    """The mail of each claimed single row whose reader exists: notifications rendered here, other kinds by
    their domain's composer, all rows of a kind at once (None: the composer has nothing to tell any more)."""
    out: dict[int, mail.OutgoingMail | None] = {}
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        reader = readers.get(row["user"])
        if reader is None:
            continue
        if _composer(row["kind"]) is None:
            out[row["id"]] = single_mail(row, reader)
        else:
            by_kind.setdefault(row["kind"], []).append(row)
    for kind, kind_rows in by_kind.items():
        composed = await _composer(kind)([(r["user"], _params(r), readers[r["user"]]["language"]) for r in kind_rows])
        for row, parts in zip(kind_rows, composed, strict=True):
            out[row["id"]] = None if parts is None else mail.OutgoingMail(
                to=readers[row["user"]]["email"], subject=parts[0], body=parts[1], message_id=_message_id(row["id"], row["id"])
            )
    return out


@dataclass
class _Marks:
    """Sent rows waiting for their mark, written in groups (``MARK_EVERY``)."""

    worker: str
    sent: list[int] = field(default_factory=list)

    async def add(self, ids: list[int]) -> None:
        self.sent += ids
        if len(self.sent) >= MARK_EVERY:
            await self.flush()

    async def flush(self) -> None:
        if self.sent:
            ids, self.sent = self.sent, []
            await _mark(ids, self.worker, "sent")


async def _send(
    rows: list[dict[str, Any]],
    reader: dict[str, Any] | None,
    marks: _Marks,
    report: MailRound,
    composed: dict[int, mail.OutgoingMail | None] | None = None,
) -> None:
    """Send claimed rows of one reader (one composed single mail, or a digest when ``composed`` is None)."""
    if reader is None:
        outgoing = None
    elif composed is None:
        outgoing = digest_mail(rows, reader)
    else:
        outgoing = composed.get(rows[0]["id"])
    if outgoing is None:
        await _unsendable(rows, reader, marks, report)
        return
    await _record_outcome([r["id"] for r in rows], outgoing, (await mail.deliver_many([outgoing]))[0], marks, report,
                          digest=composed is None)


async def _send_singles(
    rows: list[dict[str, Any]],
    readers: dict[int, dict[str, Any]],
    composed: dict[int, mail.OutgoingMail | None],
    marks: _Marks,
    report: MailRound,
) -> None:
    """Send claimed single rows in one delivery (one SMTP session for the round, not one per mail)."""
    outgoing: list[tuple[dict[str, Any], mail.OutgoingMail]] = []
    for row in rows:
        reader = readers.get(row["user"])
        composed_mail = composed.get(row["id"]) if reader is not None else None
        if composed_mail is None:
            await _unsendable([row], reader, marks, report)
        else:
            outgoing.append((row, composed_mail))
    errors = await mail.deliver_many([m for _, m in outgoing])
    for (row, composed_mail), error in zip(outgoing, errors, strict=True):
        await _record_outcome([row["id"]], composed_mail, error, marks, report, digest=False)


async def _unsendable(rows: list[dict[str, Any]], reader: dict[str, Any] | None, marks: _Marks, report: MailRound) -> None:
    reason = "no such account" if reader is None else "nothing to tell any more"
    await _mark([r["id"] for r in rows], marks.worker, "failed", reason)
    report.failed += len(rows)


async def _record_outcome(
    ids: list[int], outgoing: mail.OutgoingMail, error: Exception | None, marks: _Marks, report: MailRound, digest: bool
) -> None:
    if isinstance(error, mail.MailNotSent):
        log.warning("notification mail to=%s subject=%s not sent, will retry: %s", outgoing.to, outgoing.subject, error)
        await _mark(ids, marks.worker, "pending", str(error)[:200])
        report.retrying += len(ids)
        return
    if error is not None:  # the server may have taken it: never send again (at most once)
        log.error("notification mail to=%s subject=%s failed: %s", outgoing.to, outgoing.subject, type(error).__name__)
        await _mark(ids, marks.worker, "failed", type(error).__name__)
        report.failed += len(ids)
        return
    await marks.add(ids)
    if digest:
        report.digests += 1
    report.sent += len(ids)


async def send_due_mail(worker: str | None = None, limit: int = 100) -> MailRound:
    """One round: expire dead claims, send due single mails, then due digests (one per reader)."""
    worker = worker or worker_name()
    report = MailRound(unknown=await expire_stale_claims())
    marks = _Marks(worker)
    try:
        singles = await _claim(MailOutboxItem.digest.eq(False), worker, limit)
        report.claimed = len(singles)
        readers = await _readers(singles)
        composed = await _compose_singles(singles, readers)
        await _send_singles(singles, readers, composed, marks, report)
        await marks.flush()
        now = clock.now()
        waiting = (
            await MailOutboxItem.select(MailOutboxItem.user)
            .where(
                (MailOutboxItem.status == "pending") & MailOutboxItem.digest.eq(True) & (MailOutboxItem.due_at <= now)
            )
            .distinct()
            .limit(limit)
        )
        for reader in waiting:
            rows = await _claim(MailOutboxItem.digest.eq(True) & (MailOutboxItem.user == reader["user"]), worker, 1000)
            if rows:
                await _send(rows, (await _readers(rows)).get(reader["user"]), marks, report)
    finally:
        await marks.flush()
    return report


async def outbox_counts() -> dict[str, int]:
    """How many notification mails are in each state (``hangang mail-outbox``)."""
    from piccolo.query.functions.aggregate import Count

    rows = await MailOutboxItem.select(MailOutboxItem.status, Count(alias="n")).group_by(MailOutboxItem.status)
    return {row["status"]: row["n"] for row in rows}


async def requeue_unknown() -> int:
    """An operator's decision, once the mail server's log shows that the ``unknown`` mails never left:
    send them again (same Message-ID). Audited; returns how many."""
    from portal import audit

    async with write_transaction(lock_key=OUTBOX_LOCK):
        rows = await MailOutboxItem.update(
            {MailOutboxItem.status: "pending", MailOutboxItem.due_at: clock.now(), MailOutboxItem.claimed_by: None}
        ).where(MailOutboxItem.status == "unknown").returning(MailOutboxItem.id)
        if rows:
            await audit.record("notifications.mail_requeued", subject="mail-outbox", count=len(rows))
    return len(rows)


ROUND_LIMIT = 100


async def notification_mail_loop(stop: asyncio.Event) -> None:
    """Send notification mail every few seconds until the server stops; at once again after a full round."""
    while not stop.is_set():
        full = False
        try:
            report = await send_due_mail(limit=ROUND_LIMIT)
            full = report.claimed >= ROUND_LIMIT  # more are due (receipts on a voting day)
            if report.sent or report.failed or report.unknown:
                log.info(
                    "notification mail: sent %s (%s digests), retrying %s, failed %s, unknown %s",
                    report.sent, report.digests, report.retrying, report.failed, report.unknown,
                )
        except Exception:  # a busy database must not kill the worker; rows stay where they were
            log.exception("notification mail round failed; will retry")
        if full:
            await asyncio.sleep(0)
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=LOOP_SECONDS)
