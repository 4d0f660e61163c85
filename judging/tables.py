"""AI 50 Challenge tables: editions, rounds, organizations, entries, judges, conflicts, reviews, selections.

Startups write organizations, entries and attachments through ``judging/services/intake.py``,
``entries.py`` and ``attachments.py``; categories, sectors, sizes and gates (the stored values and their
labels) are in ``judging/categories.py``.
"""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete  # cascade everywhere: tests empty tables in any order
from piccolo.table import Table

from judging.categories import GATE_LABELS
from portal import storage
from portal.tables import User

ROUND_KINDS = ("screening", "evaluation", "final")
ENTRY_STATUSES = ("draft", "submitted", "withdrawn", "screened-in", "screened-out")
EDITION_STATES = ("open", "decided")
SELECTION_STATES = ("proposed", "stale", "approved", "superseded")
# A stage (a scoring round) moves setup -> reviewing -> decided (judging/services/stages.py).
STAGE_STATES = ("setup", "reviewing", "decided")
ADVANCE_MODES = ("count", "cut", "quotas")
CONFLICT_TYPES = ("employment", "investment", "family", "advisory", "other")
DETECTED_CONFLICT_TYPES = ("same-organization", "same-email-domain", "holding")
DEFAULT_GATES = tuple(GATE_LABELS)  # a new edition screens on every gate


class Edition(Table, tablename="challenge_edition"):
    """One year's challenge: intake window, number of winners, categories and quotas, the published seed."""

    name = Varchar(length=120)
    intake_opens_at = Timestamptz()
    intake_closes_at = Timestamptz()
    winners = Integer(default=50)
    categories = JSON(default="[]")
    # {"transportation": {"min": 5, "max": 12}, ...}
    quotas = JSON(default="{}")
    max_per_organization = Integer(default=1)
    gates = JSON(default="[]")
    seed = Integer(default=0)
    award_amount = Integer(default=0)  # whole KRW per winner
    blind_review = Boolean(default=True)
    created_by = ForeignKey(User, on_delete=OnDelete.cascade)
    created_at = Timestamptz()
    # open | decided (EDITION_STATES): decided when two officials approved the winners; then the
    # rules, screening, rounds, reviews and results no longer change.
    state = Varchar(length=12, default="open")
    decided_at = Timestamptz(null=True, default=None)
    # Judges with fewer reviews in a round are flagged on the calibration page (offset unreliable).
    calibration_min_reviews = Integer(default=3)


class Round(Table, tablename="challenge_round"):
    """A phase of an edition with its own deadline, judge pool and rubric."""

    edition = ForeignKey(Edition, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20)
    position = Integer(default=1)
    deadline = Timestamptz()
    judges_per_entry = Integer(default=3)
    judge_pool = JSON(default="[]")  # user ids
    rubric = JSON(default="[]")  # [{"key","name","weight","levels":{...}}]
    # ---- stages (issue #13; judging/services/stages.py): a scoring round is a stage of the funnel.
    name = Varchar(length=120, default="")  # the stage's own name ("서류 심사"); the kind's label if ""
    scale_min = Integer(default=1)  # every criterion of the rubric is scored from scale_min
    scale_max = Integer(default=10)  # to scale_max (whole numbers)
    # {} (everyone goes on, the last stage's winners come from a Selection) or
    # {"mode": "count", "count": 180} | {"mode": "cut", "cut": "7.50"} |
    # {"mode": "quotas", "count": 60, "categories": {"welfare": {"min": 5, "max": 12}}}
    advance_rule = JSON(default="{}")
    stage_state = Varchar(length=12, default="setup")  # STAGE_STATES


class Organization(Table, tablename="challenge_organization"):
    """A startup or SME, identified by its Korean business registration number."""

    name = Varchar(length=120)
    registration_number = Varchar(length=10, unique=True, index=True)
    size = Varchar(length=10)
    founding_year = Integer()
    created_by = ForeignKey(User, on_delete=OnDelete.cascade)
    created_at = Timestamptz()
    # An official's revocation (judging/services/onboarding.py): no new entries, members told.
    revoked_at = Timestamptz(null=True, default=None)
    revoked_reason = Text(default="")


class OrganizationMember(Table, tablename="challenge_organization_member"):
    """A startup account belonging to an organization."""

    organization = ForeignKey(Organization, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=10, default="member")  # owner | member
    joined_at = Timestamptz()


class OrganizationInvitation(Table, tablename="challenge_organization_invitation"):
    """An invitation by email; the invitee accepts it once signed in with that address."""

    organization = ForeignKey(Organization, on_delete=OnDelete.cascade, index=True)
    email = Varchar(length=254, index=True)
    invited_by = ForeignKey(User, on_delete=OnDelete.cascade)
    created_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)


class Entry(Table, tablename="challenge_entry"):
    """An organization's submission to an edition; frozen at the intake deadline."""

    edition = ForeignKey(Edition, on_delete=OnDelete.cascade, index=True)
    organization = ForeignKey(Organization, on_delete=OnDelete.cascade, index=True)
    created_by = ForeignKey(User, on_delete=OnDelete.cascade)
    title = Varchar(length=200)
    summary = Text(default="")
    problem = Text(default="")
    ai_approach = Text(default="")
    data_protection = Text(default="")
    target_users = Text(default="")
    category = Varchar(length=30)
    sector = Varchar(length=20)
    districts = JSON(default="[]")
    team = Text(default="")
    demo_url = Varchar(length=500, default="")
    status = Varchar(length=20, default="draft", index=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    submitted_at = Timestamptz(null=True, default=None)
    withdrawn_at = Timestamptz(null=True, default=None)


class Attachment(Table, tablename="challenge_attachment"):
    """An uploaded file of an entry: its bytes are in portal.storage, typed by their magic bytes."""

    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=10)  # pdf | png | jpeg
    original_name = Varchar(length=200)
    stored_name = Varchar(length=80, unique=True)  # the file's id in portal.storage
    size = Integer()
    sha256 = Varchar(length=64)
    uploaded_at = Timestamptz()


storage.references(Attachment.stored_name)


class ScreeningDecision(Table, tablename="challenge_screening_decision"):
    """One eligibility gate's pass or fail for an entry, with a reason."""

    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    gate = Varchar(length=60)
    passed = Boolean()
    reason = Text(default="")
    decided_by = ForeignKey(User, on_delete=OnDelete.cascade)
    decided_at = Timestamptz()


class JudgeProfile(Table, tablename="challenge_judge_profile"):
    """Affiliations, expertise categories and declared holdings (registration numbers) of a judge."""

    user = ForeignKey(User, on_delete=OnDelete.cascade, unique=True, index=True)
    affiliations = JSON(default="[]")
    expertise = JSON(default="[]")
    holdings = JSON(default="[]")
    updated_at = Timestamptz()


class Conflict(Table, tablename="challenge_conflict"):
    """A judge's declared conflict with an organization (automatic ones are computed, see services)."""

    judge = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    organization = ForeignKey(Organization, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20)
    note = Text(default="")
    declared_at = Timestamptz()


class Assignment(Table, tablename="challenge_assignment"):
    """A judge asked to review an entry in a round."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    judge = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    source = Varchar(length=10, default="auto")  # auto | manual
    created_at = Timestamptz()


class Review(Table, tablename="challenge_review"):
    """A judge's scores for an entry in a round; ``total_centi`` is the weighted total times 100."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    judge = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    scores = JSON(default="{}")
    comments = JSON(default="{}")
    private_comments = JSON(default="[]")  # criterion keys whose comment is not shown to the applicant
    confidence = Integer(default=3)
    total_centi = Integer()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Selection(Table, tablename="challenge_selection"):
    """A computed list of winners with its parameters, seed and borderline explanation."""

    edition = ForeignKey(Edition, on_delete=OnDelete.cascade, index=True)
    round = ForeignKey(Round, on_delete=OnDelete.cascade)
    method = Varchar(length=10, default="additive")
    seed = Integer()
    parameters = JSON(default="{}")
    result = JSON(default="{}")
    sheet_sha256 = Varchar(length=64)
    sheet_csv = Text(default="")  # the exact score sheet it was computed from (exports, replay)
    # SELECTION_STATES: proposed -> approved; proposed -> stale (rules or sheet changed since);
    # proposed | stale -> superseded (computed again).
    status = Varchar(length=12, default="proposed")
    stale_reason = Varchar(length=20, default="")  # rules | score-sheet
    computed_by = ForeignKey(User, on_delete=OnDelete.cascade)
    computed_at = Timestamptz()
    approved_at = Timestamptz(null=True, default=None)


class SelectionApproval(Table, tablename="challenge_selection_approval"):
    """One official's approval; two different officials make a selection final (V8)."""

    selection = ForeignKey(Selection, on_delete=OnDelete.cascade, index=True)
    official = ForeignKey(User, on_delete=OnDelete.cascade)
    approved_at = Timestamptz()


# ---------------------------------------------------------------- stages (issue #13)


class StageDecision(Table, tablename="challenge_stage_decision"):
    """Who advances from a stage to the next, with the score sheet, rule and seed it was computed from.

    Like a Selection: proposed -> approved (two officials); proposed -> stale (the sheet or the rule
    changed since); proposed | stale -> superseded (computed again). Approved decisions never change.
    """

    edition = ForeignKey(Edition, on_delete=OnDelete.cascade, index=True)
    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    method = Varchar(length=10, default="additive")
    seed = Integer()
    parameters = JSON(default="{}")  # rule, quotas document, scale, seed, method
    result = JSON(default="{}")  # ranking, advancing, borderline, entry_ids
    sheet_sha256 = Varchar(length=64)
    sheet_csv = Text(default="")
    status = Varchar(length=12, default="proposed")  # SELECTION_STATES
    stale_reason = Varchar(length=20, default="")
    computed_by = ForeignKey(User, on_delete=OnDelete.cascade)
    computed_at = Timestamptz()
    approved_at = Timestamptz(null=True, default=None)


class StageDecisionApproval(Table, tablename="challenge_stage_decision_approval"):
    """One official's approval of a stage decision; two different officials make it final."""

    decision = ForeignKey(StageDecision, on_delete=OnDelete.cascade, index=True)
    official = ForeignKey(User, on_delete=OnDelete.cascade)
    approved_at = Timestamptz()


# ---------------------------------------------------------------- judges: invitations, bids, discussion

BID_LEVELS = ("eager", "willing", "not-qualified")


class JudgeInvitation(Table, tablename="challenge_judge_invitation"):
    """An official's invitation to judge; accepted through the mailed link (the token proves the mailbox)."""

    email = Varchar(length=254, index=True)
    name = Varchar(length=80, default="")
    expertise = JSON(default="[]")
    organizations = JSON(default="[]")  # registration numbers the judge declares ties with
    token_hash = Varchar(length=64, unique=True)
    invited_by = ForeignKey(User, on_delete=OnDelete.cascade)
    created_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)
    accepted_by = ForeignKey(User, on_delete=OnDelete.cascade, null=True, default=None)


class Bid(Table, tablename="challenge_bid"):
    """A judge's wish to review an entry in a round (BID_LEVELS), given before assignment."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    judge = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    level = Varchar(length=15)
    updated_at = Timestamptz()


class ReviewComment(Table, tablename="challenge_review_comment"):
    """A message in the judges' discussion of an entry in a round (seen only after one's own review)."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    judge = ForeignKey(User, on_delete=OnDelete.cascade)
    body = Text()
    created_at = Timestamptz()


class FeedbackModeration(Table, tablename="challenge_feedback_moderation"):
    """An official's verdict on one comment meant for the applicant: approved, or hidden with a reason.

    One row per (review, criterion), changed in place; every change is audited."""

    review = ForeignKey(Review, on_delete=OnDelete.cascade, index=True)
    criterion = Varchar(length=40)
    status = Varchar(length=10)  # approved | hidden
    reason = Text(default="")
    moderated_by = ForeignKey(User, on_delete=OnDelete.cascade)
    moderated_at = Timestamptz()


class FeedbackRelease(Table, tablename="challenge_feedback_release"):
    """A stage's feedback released to the applicants (after its advancement is approved)."""

    round = ForeignKey(Round, on_delete=OnDelete.cascade, unique=True, index=True)
    released_by = ForeignKey(User, on_delete=OnDelete.cascade)
    released_at = Timestamptz()


class FeedbackFigures(Table, tablename="challenge_feedback_figures"):
    """An entry's feedback figures in a stage, computed once when the stage's advancement is approved.

    ``figures``: calibrated total, rank, rank band, outcome, cut and distance, the calibrated score per
    criterion and the stage's mean per criterion (``judging/compute/feedback.py`` ``stage_figures``).
    An approved decision never changes, so views read these rows and never recompute them.
    """

    round = ForeignKey(Round, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(Entry, on_delete=OnDelete.cascade, index=True)
    figures = JSON(default="{}")
    computed_at = Timestamptz()
