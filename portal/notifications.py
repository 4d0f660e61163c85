"""Follow and notify (issue #14): follows, announcements once per event and reader, and each reader's choices.

Domains call ``announce`` when something happens (voting opens, a proposal is funded, ...). It records, in
the caller's transaction when there is one, one in-portal notification and one outbox mail per reader:
the followers of the event's targets plus any reader named directly. A unique index on
(event_key, user) in both tables makes a re-run (a retried transaction, a scheduled check that fires
again) record nothing new. Texts are stored as a message id and parameters and rendered in the reader's
language when read or mailed. Mails leave through ``portal.notification_mail``.

The core imports no domain: what a target is called and where it lives is asked of the domain that
declares ``follow.<kind>`` in its manifest ``provides``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from portal import clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError
from portal.manifest import domain_service
from portal.piccolo_conf import DB
from portal.settings import get_settings
from portal.tables import Follow, MailOutboxItem, Notification, NotificationSetting


@dataclass(frozen=True)
class Kind:
    """A kind of notification a reader can switch on or off (label and subject are message ids)."""

    key: str
    label: str
    subject: str


KINDS = (
    Kind("voting-opens", "Voting opens", "Voting has opened"),
    Kind("voting-closing", "Voting closes soon", "Voting closes soon"),
    Kind("results-published", "Results are published", "Results are published"),
    Kind("proposal-reviewed", "A proposal I follow is reviewed", "A proposal you follow was reviewed"),
    Kind("proposal-merged", "A proposal I follow is merged", "A proposal you follow was merged"),
    Kind("proposal-funded", "A proposal I follow is funded", "A proposal you follow is funded"),
    Kind("delivery-status", "A funded project I follow changes delivery status", "News on a project you follow"),
    Kind("comment-reply", "Replies to my comments", "Someone replied to your comment"),
)
KINDS_BY_KEY = {kind.key: kind for kind in KINDS}
# What can be followed; each is described by the domain service ``follow.<kind>``.
FOLLOW_KINDS = ("cycle", "pot", "proposal", "project")
MAIL_MODES = ("immediate", "daily")
CHUNK = 200  # rows per INSERT: far below SQLite's limit on bound parameters


@dataclass(frozen=True)
class FollowTarget:
    """What a domain says about something followed: its name and its page."""

    title: str
    link: str


# ---------------------------------------------------------------- follows


async def describe_target(kind: str, target_id: int) -> FollowTarget:
    """The target's title and page, from the domain that owns it; 404 when there is no such thing."""
    if kind not in FOLLOW_KINDS:
        raise InvalidInput("Choose something to follow.", field="target_kind")
    try:
        describe = domain_service(f"follow.{kind}")
    except LookupError:
        raise NotFoundError("We could not find that page.") from None
    found = await describe(target_id)
    if found is None:
        raise NotFoundError("We could not find that page.")
    return found


async def follow(user_id: int, kind: str, target_id: int) -> None:
    """Follow a cycle, pot or proposal (following twice is following once)."""
    await describe_target(kind, target_id)
    async with write_transaction():
        await Follow.insert(
            Follow(user=user_id, target_kind=kind, target_id=target_id, created_at=clock.now())
        ).on_conflict(action="DO NOTHING")


async def unfollow(user_id: int, kind: str, target_id: int) -> None:
    if kind not in FOLLOW_KINDS:
        raise InvalidInput("Choose something to follow.", field="target_kind")
    async with write_transaction():
        await Follow.delete().where(
            (Follow.user == user_id) & (Follow.target_kind == kind) & (Follow.target_id == target_id)
        )


async def followed_among(user_id: int | None, targets: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of ``targets`` the person follows (for the follow buttons of a page)."""
    wanted = set(targets)
    if user_id is None or not wanted:
        return set()
    rows = await Follow.select(Follow.target_kind, Follow.target_id).where(
        (Follow.user == user_id) & _targets_condition(wanted)
    )
    return {(r["target_kind"], r["target_id"]) for r in rows}


@dataclass(frozen=True)
class Followed:
    kind: str
    target_id: int
    title: str
    link: str


async def follows_of(user_id: int) -> list[Followed]:
    """Everything the person follows, newest first, with titles (things since deleted are left out)."""
    rows = await Follow.select().where(Follow.user == user_id).order_by(Follow.id, ascending=False)
    found = []
    for row in rows:
        try:
            target = await describe_target(row["target_kind"], row["target_id"])
        except (NotFoundError, InvalidInput):
            continue
        found.append(Followed(row["target_kind"], row["target_id"], target.title, target.link))
    return found


def _targets_condition(targets: Iterable[tuple[str, int]]) -> Any:
    by_kind: dict[str, list[int]] = {}
    for kind, target_id in targets:
        by_kind.setdefault(kind, []).append(int(target_id))
    condition = None
    for kind, ids in by_kind.items():
        part = (Follow.target_kind == kind) & Follow.target_id.is_in(ids)
        condition = part if condition is None else condition | part
    return condition


# ---------------------------------------------------------------- reader's choices


@dataclass(frozen=True)
class Preferences:
    """The kinds a reader switched off, per channel, and when mail goes out."""

    app_off: frozenset[str] = frozenset()
    mail_off: frozenset[str] = frozenset()
    mail_mode: str = "immediate"

    def wants_app(self, kind: str) -> bool:
        return kind not in self.app_off

    def wants_mail(self, kind: str) -> bool:
        return kind not in self.mail_off


def _kinds(text: str) -> frozenset[str]:
    return frozenset(k for k in text.split(",") if k in KINDS_BY_KEY)


def _preferences(row: dict[str, Any] | None) -> Preferences:
    if row is None:
        return Preferences()
    mode = row["mail_mode"] if row["mail_mode"] in MAIL_MODES else "immediate"
    return Preferences(_kinds(row["app_off"]), _kinds(row["mail_off"]), mode)


async def preferences_of(user_id: int) -> Preferences:
    row = await NotificationSetting.select().where(NotificationSetting.user == user_id).first()
    return _preferences(row)


async def save_preferences(user_id: int, app_on: Iterable[str], mail_on: Iterable[str], mail_mode: str) -> None:
    """Keep the reader's choices; mails already waiting follow the new choice (a kind switched off is
    not mailed, a change between immediate and daily moves them)."""
    if mail_mode not in MAIL_MODES:
        raise InvalidInput("Choose when mail is sent.", field="mail_mode")
    app_off = ",".join(k.key for k in KINDS if k.key not in set(app_on))
    mail_off = ",".join(k.key for k in KINDS if k.key not in set(mail_on))
    now = clock.now()
    async with write_transaction():
        values = {"app_off": app_off, "mail_off": mail_off, "mail_mode": mail_mode, "updated_at": now}
        columns = {getattr(NotificationSetting, name): value for name, value in values.items()}
        updated = await NotificationSetting.update(columns).where(NotificationSetting.user == user_id).returning(
            NotificationSetting.id
        )
        if not updated:
            await NotificationSetting.insert(NotificationSetting(user=user_id, **values))
        waiting = (MailOutboxItem.user == user_id) & (MailOutboxItem.status == "pending")
        if mail_off:
            await MailOutboxItem.update({MailOutboxItem.status: "cancelled"}).where(
                waiting & MailOutboxItem.kind.is_in(mail_off.split(","))
            )
        daily = mail_mode == "daily"
        await MailOutboxItem.update(
            {MailOutboxItem.digest: daily, MailOutboxItem.due_at: next_digest_at(now) if daily else now}
        ).where(waiting & (MailOutboxItem.digest == (not daily)))


def next_digest_at(now: dt.datetime) -> dt.datetime:
    """The next daily digest: the configured hour in Seoul, today if it is still ahead, else tomorrow."""
    local = now.astimezone(clock.SEOUL)
    at = local.replace(hour=get_settings().digest_hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at += dt.timedelta(days=1)
    return at.astimezone(dt.UTC)


# ---------------------------------------------------------------- announcements


async def announce(
    event_key: str,
    kind: str,
    message: str,
    *,
    targets: Sequence[tuple[str, int]] = (),
    users: Iterable[int] = (),
    exclude: Iterable[int] = (),
    params: dict[str, Any] | None = None,
    link: str = "",
) -> None:
    """Tell the followers of ``targets`` and the ``users`` named that ``event_key`` happened.

    Records at most one notification and one mail per reader and event, whatever the number of calls;
    inside the caller's transaction when there is one (so the notice commits or rolls back with the
    event), in a transaction of its own otherwise.

    Args:
        event_key: names the event once and for all, e.g. ``"cycle-12:voting-opens"``.
        kind: one of ``KINDS`` (the reader's switch).
        message: a message id with ``%(name)s`` parameters, translated for each reader.
        targets: what the event is about, e.g. ``[("cycle", 12), ("pot", 3)]``.
        users: readers told whether or not they follow (the author of a comment replied to).
        exclude: readers told some other way (the author of a proposal gets their own notice).
    """
    if kind not in KINDS_BY_KEY:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not 1 <= len(event_key) <= 200:
        raise ValueError("an event key has 1 to 200 characters")
    if DB.transaction_exists():
        await _record(event_key, kind, message, targets, users, exclude, params or {}, link)
        return
    async with write_transaction():
        await _record(event_key, kind, message, targets, users, exclude, params or {}, link)


async def announced(event_key: str) -> bool:
    """Whether anybody was told of ``event_key`` already (in the portal or by mail)."""
    return await Notification.exists().where(Notification.event_key == event_key) or await MailOutboxItem.exists().where(
        MailOutboxItem.event_key == event_key
    )


async def _preferences_for(readers: list[int]) -> dict[int, Preferences]:
    found: dict[int, Preferences] = {}
    for start in range(0, len(readers), CHUNK):
        rows = await NotificationSetting.select().where(
            NotificationSetting.user.is_in(readers[start : start + CHUNK])
        )
        found.update({row["user"]: _preferences(row) for row in rows})
    return found


async def _record(
    event_key: str,
    kind: str,
    message: str,
    targets: Sequence[tuple[str, int]],
    users: Iterable[int],
    exclude: Iterable[int],
    params: dict[str, Any],
    link: str,
) -> None:
    """The readers named one by one here; the followers of ``targets`` in two set-based statements."""
    from portal.notification_fanout import tell_followers

    now = clock.now()
    digest_at = next_digest_at(now)
    left_out = {int(u) for u in exclude}
    readers = sorted({int(u) for u in users} - left_out)
    choices = await _preferences_for(readers)
    notes, mails = [], []
    for reader in readers:
        prefs = choices.get(reader, Preferences())
        if prefs.wants_app(kind):
            notes.append(
                Notification(
                    user=reader, message=message, params=params, link=link, created_at=now,
                    kind=kind, event_key=event_key,
                )
            )
        if prefs.wants_mail(kind):
            daily = prefs.mail_mode == "daily"
            mails.append(
                MailOutboxItem(
                    user=reader, event_key=event_key, kind=kind, message=message, params=params, link=link,
                    digest=daily, due_at=digest_at if daily else now, status="pending", created_at=now,
                )
            )
    for table, rows in ((Notification, notes), (MailOutboxItem, mails)):
        for start in range(0, len(rows), CHUNK):
            await table.insert(*rows[start : start + CHUNK]).on_conflict(action="DO NOTHING")
    if targets:
        await tell_followers(event_key, kind, message, targets, left_out, params, link, now, digest_at)


# ---------------------------------------------------------------- the reader's list


@dataclass(frozen=True)
class NotificationItem:
    id: int
    text: str
    link: str
    created_at: dt.datetime
    read: bool


@dataclass(frozen=True)
class NotificationPage:
    items: list[NotificationItem]
    page: int
    pages: int
    unread: int


PAGE_SIZE = 20


async def notifications_page(user_id: int, language: str, page: int = 1) -> NotificationPage:
    """One page of the reader's notifications, newest first, in their language."""
    from portal.accounts import notification_text

    total = await Notification.count().where(Notification.user == user_id)
    unread = await Notification.count().where((Notification.user == user_id) & Notification.read_at.is_null())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = (
        await Notification.select()
        .where(Notification.user == user_id)
        .order_by(Notification.id, ascending=False)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
        .output(load_json=True)
    )
    items = [
        NotificationItem(
            row["id"],
            notification_text(row["message"], row["params"] if isinstance(row["params"], dict) else {}, language),
            row["link"],
            row["created_at"],
            row["read_at"] is not None,
        )
        for row in rows
    ]
    return NotificationPage(items, page, pages, unread)


async def mark_read(user_id: int, notification_id: int | None = None) -> None:
    """Mark one of the reader's notifications as read, or all of them."""
    condition = (Notification.user == user_id) & Notification.read_at.is_null()
    if notification_id is not None:
        condition &= Notification.id == notification_id
    async with write_transaction():
        await Notification.update({Notification.read_at: clock.now()}).where(condition)
