"""Citizens in a challenge stage: the stage's citizen settings and blend weights, the drawn panel and its
scores, the public vote and its keyed client signals (docs/judging.md, "Citizens in a stage").

Kept apart from ``judging/tables.py``; a stage is a round (``challenge_round``). One score per panelist
per entry and one vote per resident per stage are unique keys (``score_key``, ``voter_key``), so two
concurrent attempts cannot both be stored on either engine.
"""

from __future__ import annotations

from piccolo.columns import JSON, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from judging.tables import Entry, Round
from portal.tables import User

CITIZEN_MODES = ("none", "panel", "public", "panel+public")


def has_panel(mode: str) -> bool:
    return mode in ("panel", "panel+public")


def has_public(mode: str) -> bool:
    return mode in ("public", "panel+public")


class CitizenMode:
    """``has_panel`` and ``has_public`` of anything with a citizen ``mode`` (settings, a stage's blend)."""

    __slots__ = ()
    mode: str

    @property
    def has_panel(self) -> bool:
        return has_panel(self.mode)

    @property
    def has_public(self) -> bool:
        return has_public(self.mode)


class CitizenStage(Table, tablename="challenge_citizen_stage"):
    """A stage's citizens (none, a drawn panel, a public vote or both) and its blend weights (summing to 100)."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, unique=True, index=True)
    mode = Varchar(length=20, default="none")  # CITIZEN_MODES
    panel_size = Integer(default=0)
    seed = Integer(default=0)  # published: the panel draw and the blend's last tie-break
    rubric = JSON(default="[]")  # the panel's short rubric, stored like a round's
    weight_expert = Integer(default=100)
    weight_panel = Integer(default=0)
    weight_public = Integer(default=0)
    updated_by = ForeignKey(User, on_delete=OnDelete.cascade, null=True, default=None)
    updated_at = Timestamptz(null=True, default=None)
    # The draw: the published eligible list (key,district,age_band) and its SHA-256.
    drawn_at = Timestamptz(null=True, default=None)
    eligible_csv = Text(default="")
    eligible_sha256 = Varchar(length=64, default="")
    # The public vote's anomaly report an official acknowledged (its SHA-256), before the decision.
    report_sha256 = Varchar(length=64, default="")
    report_acknowledged_by = ForeignKey(User, on_delete=OnDelete.cascade, null=True, default=None)
    report_acknowledged_at = Timestamptz(null=True, default=None)


class PanelMember(Table, tablename="challenge_panel_member"):
    """A drawn resident's seat on a stage's panel, with the entries they score."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    seat_key = Varchar(length=40, unique=True)  # "<round>:<user>": one seat per resident
    position = Integer()
    resident_key = Varchar(length=32)  # the key in the published eligible list
    district_code = Varchar(length=5)
    age_band = Varchar(length=10)
    entries = JSON(default="[]")  # entry ids
    drawn_at = Timestamptz()


class PanelScore(Table, tablename="challenge_panel_score"):
    """A panelist's rubric scores for an entry; ``total_centi`` is the weighted total times 100."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    panelist = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    score_key = Varchar(length=60, unique=True)  # "<round>:<entry>:<panelist>"
    scores = JSON(default="{}")
    total_centi = Integer()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class PublicVote(Table, tablename="challenge_public_vote"):
    """One resident's vote in a stage: the entry and a keyed voter key (no account id, no time)."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    voter_key = Varchar(length=64, unique=True)  # HMAC of stage and account: one vote each


class PublicVoteSignal(Table, tablename="challenge_public_vote_signal"):
    """One vote attempt from a keyed client address and device in a minute (rate limit, anomaly report)."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    address_key = Varchar(length=32, index=True)
    device_key = Varchar(length=32)
    minute = Timestamptz()
    events = Integer(default=1)
