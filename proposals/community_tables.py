"""Citizens around proposals (issue #14): supports (공감), the shortlist a support phase draws, and
discussion threads with reports and moderation.

Kept apart from ``tables.py`` (the proposals themselves). A comment names its target by kind and id
(``"proposal"``, ``"project"``, ...), so any page can show a thread (``proposals.services.comments``).
"""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from portal.tables import User
from proposals.tables import Proposal
from voting.tables import Cycle, Pot


class ProposalSupport(Table, tablename="pb_proposal_support"):
    """One resident supports one proposal (unique per pair). Never shown with who supported."""

    proposal = ForeignKey(Proposal, index=True)
    supporter = ForeignKey(User, index=True)
    created_at = Timestamptz()


class ShortlistEntry(Table, tablename="pb_shortlist"):
    """A proposal's supports when its cycle's support phase ended, and whether it went to review."""

    proposal = ForeignKey(Proposal, unique=True)
    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot)
    supports = Integer(default=0)
    shortlisted = Boolean(default=False)
    decided_at = Timestamptz()


COMMENT_STATES = ("visible", "hidden")


class Comment(Table, tablename="pb_comment"):
    """A comment (or a reply: ``parent`` is the comment it answers) on a target, in plain text."""

    target_kind = Varchar(length=20)
    target_id = Integer()
    parent = Integer(null=True, default=None)  # the top-level comment answered; one level of replies
    author = ForeignKey(User, index=True)
    body = Text()
    status = Varchar(length=10, default="visible")
    hidden_reason = Text(default="")
    moderated_by = ForeignKey(User, null=True, default=None)
    moderated_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(index=True)


class CommentReport(Table, tablename="pb_comment_report"):
    """A resident reports a comment to the moderators (once per person and comment)."""

    comment = ForeignKey(Comment, index=True)
    reporter = ForeignKey(User)
    reason = Varchar(length=300, default="")
    created_at = Timestamptz()
    resolved_at = Timestamptz(null=True, default=None)  # when a moderator hid, restored or kept it
