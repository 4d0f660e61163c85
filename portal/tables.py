"""Accounts, sessions, audit log, throttling and notifications."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

ROLES = ("citizen", "startup", "judge", "official", "admin", "poll_worker", "committee")
PRIVILEGED_ROLES = ("judge", "official", "admin", "poll_worker")  # TOTP required


class User(Table, tablename="portal_user"):
    """A person with an account. ``roles`` is a comma-separated subset of ``ROLES``."""

    email = Varchar(length=254, unique=True, index=True)
    display_name = Varchar(length=80)
    password_hash = Varchar(length=256)
    language = Varchar(length=2, default="ko")
    district_code = Varchar(length=5, null=True, default=None)
    roles = Varchar(length=100, default="citizen")
    residency_verified = Boolean(default=False)
    residency_verified_at = Timestamptz(null=True, default=None)
    totp_secret = Varchar(length=64, null=True, default=None)
    totp_enabled = Boolean(default=False)
    totp_last_step = Integer(default=0)
    # Bumped on password change and logout-everywhere: sessions carry it and die when it moves.
    session_generation = Integer(default=0)
    created_at = Timestamptz()
    # Phone identity verification (docs/identity.md); the person key only as a keyed HMAC, one account each.
    verified_name = Varchar(length=80, null=True, default=None)
    birth_date = Date(null=True, default=None)
    phone_number = Varchar(length=20, null=True, default=None)
    person_key_hash = Varchar(length=64, null=True, default=None)
    identity_verified_at = Timestamptz(null=True, default=None)


class SessionRecord(Table, tablename="portal_session"):
    """Server-side session data shared by every worker and host."""

    key = Varchar(length=128, unique=True, index=True)
    data = Bytea()
    expires_at = Timestamptz(index=True)
    # The account signed in with it (the "uid" inside ``data``), so one statement reads session and account.
    uid = Integer(null=True, default=None)


class StoredFile(Table, tablename="portal_file"):
    """An uploaded file's bytes, written in the transaction of the row that owns it (see docs/storage.md)."""

    file_id = Varchar(length=80, unique=True, index=True)  # random; the owning row keeps it
    owner = Varchar(length=100, index=True)  # e.g. "challenge-entry:12", for operators
    kind = Varchar(length=10)  # a kind of portal.storage.FILE_TYPES, detected from the content
    size = Integer()
    sha256 = Varchar(length=64)
    content = Bytea()
    created_at = Timestamptz()


class AuditEvent(Table, tablename="portal_audit_event"):
    """One link of the append-only, hash-chained audit log (A1)."""

    occurred_at = Timestamptz()
    actor_id = Integer(null=True, default=None)
    action = Varchar(length=80, index=True)
    subject = Varchar(length=200, default="")
    details = JSON(default="{}")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)
    # 1: unkeyed SHA-256 (events written before the audit key existed); 2: HMAC under HANGANG_AUDIT_KEY.
    chain_version = Integer(default=1)


class PasswordResetToken(Table, tablename="portal_password_reset"):
    """A one-time reset link; only the token's hash is stored."""

    user = ForeignKey(User)
    token_hash = Varchar(length=64, unique=True, index=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class PasswordResetRequest(Table, tablename="portal_password_reset_request"):
    """A queued reset request: the request path writes the same row for known and unknown addresses
    (no timing difference, S5); a background loop mails the link to known ones and deletes the row."""

    email = Varchar(length=254)
    requested_at = Timestamptz()


class LoginThrottle(Table, tablename="portal_login_throttle"):
    """Failure counters per account and per address, in the database so all workers agree."""

    key = Varchar(length=300, unique=True, index=True)
    failures = Integer(default=0)
    blocked_until = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class Notification(Table, tablename="portal_notification"):
    """An in-app message. The text is stored as a message id plus parameters, rendered in the reader's language.

    Announced events (``portal.notifications.announce``) carry their ``event_key``: one row per event and
    reader, kept so by a unique index on (event_key, user); direct notices leave it NULL.
    """

    user = ForeignKey(User, index=True)
    message = Text()
    params = JSON(default="{}")
    link = Varchar(length=300, default="")
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)
    kind = Varchar(length=30, null=True, default=None)  # a kind of portal.notifications.KINDS
    event_key = Varchar(length=200, null=True, default=None)


class Follow(Table, tablename="portal_follow"):
    """A person follows something (a PB cycle, pot or proposal) to hear about it; one row per pair."""

    user = ForeignKey(User, index=True)
    target_kind = Varchar(length=20)  # a kind of portal.notifications.FOLLOW_KINDS
    target_id = Integer()
    created_at = Timestamptz()


class NotificationSetting(Table, tablename="portal_notification_setting"):
    """A person's choices: the kinds they do not want in the portal or by mail, and mail now or daily."""

    user = ForeignKey(User, unique=True, index=True)
    app_off = Varchar(length=400, default="")  # comma-separated kinds
    mail_off = Varchar(length=400, default="")
    mail_mode = Varchar(length=10, default="immediate")  # immediate | daily
    updated_at = Timestamptz()


class MailOutboxItem(Table, tablename="portal_mail_outbox"):
    """A notification mail to send, written in the transaction of the event it tells (docs/operations.md).

    Sent by ``portal.notifications`` claim-then-send: ``pending`` -> ``sending`` (committed) -> ``sent``;
    a row left ``sending`` by a crash becomes ``unknown`` and is never sent again (at most once).
    """

    user = ForeignKey(User, index=True)
    event_key = Varchar(length=200, null=True, default=None)  # unique with user (a raw index)
    kind = Varchar(length=30)
    message = Text()
    params = JSON(default="{}")
    link = Varchar(length=300, default="")
    digest = Boolean(default=False)  # sent in the reader's daily digest rather than alone
    due_at = Timestamptz(index=True)
    status = Varchar(length=10, default="pending", index=True)  # pending sending sent unknown failed
    claimed_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=64, null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz()


class ResidentHash(Table, tablename="portal_resident_hash"):
    """A verified resident from the city's register, keyed by a salted identifier hash."""

    identifier_hash = Varchar(length=64, unique=True, index=True)
    district_code = Varchar(length=5)
    imported_at = Timestamptz()
    claimed_by = ForeignKey(User, null=True, default=None)
