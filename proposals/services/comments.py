"""Discussion threads: signed-in residents comment and reply in plain text, report comments, and
officials hide (with a reason shown in place of the text) or restore them. Every action is audited.

A thread belongs to a target named by kind and id. ``TARGETS`` says how each kind is found (its title,
its page, whether it exists for the reader); a new kind (e.g. a funded ``"project"`` page) adds a resolver
there and renders ``templates/proposals/_comments.html`` with ``thread()``; other rooms reach the
functions through the manifest services ``pb.comment_thread`` and ``pb.post_comment``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFoundError, TooManyAttempts
from portal.identity import CurrentUser
from portal.notifications import announce
from proposals.community_tables import Comment, CommentReport
from proposals.compute.text import Piece, pieces
from proposals.services import browsing

MAX_LENGTH = 2000
RATE_LIMIT = 5  # comments per account ...
RATE_WINDOW = dt.timedelta(minutes=1)  # ... in this window
MAX_THREAD = 500
QUEUE_PAGE = 30


@dataclass(frozen=True)
class Target:
    """What a thread is about."""

    kind: str
    id: int
    title: str
    link: str


async def _proposal_target(target_id: int, viewer: CurrentUser | None) -> Target:
    found = await browsing.get(target_id, viewer)
    return Target("proposal", found.id, found.title, f"/pb/proposals/{found.id}")


TARGETS: dict[str, Callable[[int, CurrentUser | None], Awaitable[Target]]] = {
    "proposal": _proposal_target,
}


async def target_of(kind: str, target_id: int, viewer: CurrentUser | None = None) -> Target:
    resolver = TARGETS.get(kind)
    if resolver is None:
        raise NotFoundError("We could not find that discussion.")
    return await resolver(target_id, viewer)


@dataclass
class CommentView:
    """One comment as a thread shows it: hidden ones show their reason, never their text."""

    id: int
    author_name: str
    created_at: dt.datetime
    hidden: bool
    hidden_reason: str
    pieces: list[Piece]
    mine: bool
    replies: list[CommentView] = field(default_factory=list)


@dataclass(frozen=True)
class Thread:
    target: Target
    comments: list[CommentView]
    count: int  # visible comments and replies


def _name(display_name: str | None) -> str:
    """The author's display name ("" when the account has none: pages say "a resident")."""
    return (display_name or "").strip()


def _view(row: dict, viewer: CurrentUser | None) -> CommentView:
    hidden = row["status"] == "hidden"
    return CommentView(
        id=row["id"],
        author_name=_name(row["author.display_name"]),
        created_at=row["created_at"],
        hidden=hidden,
        hidden_reason=row["hidden_reason"] if hidden else "",
        pieces=[] if hidden else pieces(row["body"]),
        mine=bool(viewer and viewer.id == row["author"]),
    )


async def thread(kind: str, target_id: int, viewer: CurrentUser | None = None) -> Thread:
    """A target's comments, oldest first, each with its replies."""
    target = await target_of(kind, target_id, viewer)
    rows = await Comment.select(
        Comment.all_columns(exclude=[Comment.moderated_by]), Comment.author.display_name
    ).where((Comment.target_kind == kind) & (Comment.target_id == target_id)).order_by(
        Comment.id
    ).limit(MAX_THREAD)
    top: dict[int, CommentView] = {}
    for row in rows:
        view = _view(row, viewer)
        if row["parent"] is None:
            top[row["id"]] = view
        elif row["parent"] in top:
            top[row["parent"]].replies.append(view)
    count = sum(1 for row in rows if row["status"] == "visible")
    return Thread(target, list(top.values()), count)


def checked_body(body: str) -> str:
    """Plain text of 1 to 2,000 characters (NUL and other control characters dropped)."""
    body = "".join(ch for ch in body if ch in "\n\t" or ch >= " ").strip()
    if not body:
        raise InvalidInput("Write something before posting.", field="body")
    if len(body) > MAX_LENGTH:
        raise InvalidInput(
            "A comment can have at most %(limit)s characters; this one has %(count)s.",
            field="body",
            limit=f"{MAX_LENGTH:,}",
            count=f"{len(body):,}",
        )
    return body


async def _parent_of(kind: str, target_id: int, parent_id: int | None) -> int | None:
    """The top-level comment a reply belongs to (a reply to a reply joins its thread)."""
    if parent_id is None:
        return None
    row = await Comment.select(Comment.id, Comment.parent).where(
        (Comment.id == parent_id) & (Comment.target_kind == kind) & (Comment.target_id == target_id)
    ).first()
    if row is None:
        raise InvalidInput("The comment you replied to is gone.", field="body")
    return row["parent"] or row["id"]


async def _check_rate(user_id: int, now: dt.datetime) -> None:
    recent = await Comment.count().where(
        (Comment.author == user_id) & (Comment.created_at > now - RATE_WINDOW)
    )
    if recent >= RATE_LIMIT:
        raise TooManyAttempts(
            "You can post at most %(limit)s comments a minute. Wait a moment, then post again.",
            retry_after=int(RATE_WINDOW.total_seconds()),
            field="body",
            limit=RATE_LIMIT,
        )


async def post_comment(
    user: CurrentUser, kind: str, target_id: int, body: str, parent_id: int | None = None
) -> int:
    """A signed-in resident comments, or replies to a comment, on a target."""
    target = await target_of(kind, target_id, user)
    if not user.residency_verified:
        raise NotAllowed(
            "Only verified residents can comment. Verify your residency on your account page.",
            field="body",
        )
    body = checked_body(body)
    parent = await _parent_of(kind, target.id, parent_id)
    async with write_transaction(lock_key=f"pb-comments-by-{user.id}"):
        now = clock.now()
        await _check_rate(user.id, now)
        rows = await Comment.insert(
            Comment(
                target_kind=kind,
                target_id=target.id,
                parent=parent,
                author=user.id,
                body=body,
                created_at=now,
            )
        ).returning(Comment.id)
        await audit.record(
            "pb.comment.posted",
            actor_id=user.id,
            subject=f"pb-comment:{rows[0]['id']}",
            target=f"{kind}:{target.id}",
            reply_to=parent,
        )
        if parent_id is not None:
            await _tell_replied_to(parent_id, rows[0]["id"], user, target)
    return rows[0]["id"]


async def _tell_replied_to(parent_id: int, reply_id: int, user: CurrentUser, target: Target) -> None:
    """The author of the comment replied to hears of it, once (inside the reply's transaction)."""
    replied = await Comment.select(Comment.author).where(Comment.id == parent_id).first()
    if replied is None or replied["author"] == user.id:
        return
    await announce(
        f"pb-comment-{reply_id}:reply",
        "comment-reply",
        '%(name)s replied to your comment on "%(title)s".',
        users=[replied["author"]],
        exclude=[user.id],
        params={"name": user.display_name, "title": target.title},
        link=f"{target.link}#comment-{reply_id}",
    )


async def _comment(comment_id: int) -> dict:
    row = await Comment.select().where(Comment.id == comment_id).first()
    if row is None:
        raise NotFoundError("We could not find that comment.")
    return row


async def report_comment(user: CurrentUser, comment_id: int, reason: str = "") -> None:
    """Ask the moderators to look at a comment (once per person and comment)."""
    row = await _comment(comment_id)
    reason = reason.strip()
    if len(reason) > 300:
        raise InvalidInput("The reason can have at most 300 characters.", field="reason")
    if row["author"] == user.id:
        raise Conflict("You cannot report your own comment.", field="reason")
    try:
        async with write_transaction():
            done = (CommentReport.comment == comment_id) & (CommentReport.reporter == user.id)
            if await CommentReport.exists().where(done):
                raise Conflict("You have already reported this comment.", field="reason")
            await CommentReport.insert(
                CommentReport(
                    comment=comment_id, reporter=user.id, reason=reason, created_at=clock.now()
                )
            )
            await audit.record(
                "pb.comment.reported", actor_id=user.id, subject=f"pb-comment:{comment_id}"
            )
    except (sqlite3.IntegrityError, asyncpg.UniqueViolationError) as exc:
        raise Conflict("You have already reported this comment.", field="reason") from exc


async def _moderate(official_id: int, comment_id: int, values: dict, action: str, **details) -> None:
    await _comment(comment_id)
    async with write_transaction():
        now = clock.now()
        await Comment.update(
            {**values, Comment.moderated_by: official_id, Comment.moderated_at: now}
        ).where(Comment.id == comment_id)
        await CommentReport.update({CommentReport.resolved_at: now}).where(
            (CommentReport.comment == comment_id) & CommentReport.resolved_at.is_null()
        )
        await audit.record(action, actor_id=official_id, subject=f"pb-comment:{comment_id}", **details)


async def hide_comment(official_id: int, comment_id: int, reason: str) -> None:
    """Hide a comment; its reason is shown in place of the text."""
    reason = reason.strip()
    if not 5 <= len(reason) <= 500:
        raise InvalidInput("Give a reason of 5 to 500 characters.", field="reason")
    await _moderate(
        official_id,
        comment_id,
        {Comment.status: "hidden", Comment.hidden_reason: reason},
        "pb.comment.hidden",
        reason=reason,
    )


async def restore_comment(official_id: int, comment_id: int) -> None:
    """Show a hidden comment again."""
    row = await _comment(comment_id)
    if row["status"] != "hidden":
        raise Conflict("This comment is not hidden.")
    await _moderate(
        official_id,
        comment_id,
        {Comment.status: "visible", Comment.hidden_reason: ""},
        "pb.comment.restored",
        was=row["hidden_reason"],
    )


async def keep_comment(official_id: int, comment_id: int) -> None:
    """Close a comment's reports and leave it as it is."""
    await _moderate(official_id, comment_id, {}, "pb.comment.reports_closed")


@dataclass(frozen=True)
class QueueItem:
    id: int
    target_kind: str
    target_id: int
    author_name: str
    body: str
    created_at: dt.datetime
    hidden: bool
    hidden_reason: str
    open_reports: int
    report_reasons: list[str]


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    page: int
    pages: int


async def moderation_queue(page: int = 1) -> Queue:
    """Comments with open reports first (most reported first), then every comment, newest first."""
    reports = await CommentReport.select(CommentReport.comment, CommentReport.reason).where(
        CommentReport.resolved_at.is_null()
    )
    open_reports: dict[int, list[str]] = {}
    for report in reports:
        open_reports.setdefault(report["comment"], []).append(report["reason"])
    reported = sorted(open_reports, key=lambda c: (-len(open_reports[c]), -c))
    others_total = await Comment.count().where(Comment.id.not_in(reported or [0]))
    pages = max(1, -(-(len(reported) + others_total) // QUEUE_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * QUEUE_PAGE
    ids = reported[start : start + QUEUE_PAGE]
    more = QUEUE_PAGE - len(ids)
    columns = (Comment.all_columns(exclude=[Comment.moderated_by]), Comment.author.display_name)
    rows = await Comment.select(*columns).where(Comment.id.is_in(ids)) if ids else []
    if more > 0:
        offset = max(0, start - len(reported))
        rows += await Comment.select(*columns).where(
            Comment.id.not_in(reported or [0])
        ).order_by(Comment.id, ascending=False).offset(offset).limit(more)
    order = {c: i for i, c in enumerate(ids)}
    rows.sort(key=lambda r: (order.get(r["id"], len(order)), -r["id"]))
    items = [
        QueueItem(
            id=r["id"],
            target_kind=r["target_kind"],
            target_id=r["target_id"],
            author_name=_name(r["author.display_name"]),
            body=r["body"],
            created_at=r["created_at"],
            hidden=r["status"] == "hidden",
            hidden_reason=r["hidden_reason"],
            open_reports=len(open_reports.get(r["id"], [])),
            report_reasons=[x for x in open_reports.get(r["id"], []) if x],
        )
        for r in rows
    ]
    return Queue(items, page, pages)


async def comment_target(comment_id: int) -> tuple[str, int]:
    row = await _comment(comment_id)
    return row["target_kind"], row["target_id"]
