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
    """An in-app message. The text is stored as a message id plus parameters, rendered in the reader's language."""

    user = ForeignKey(User, index=True)
    message = Text()
    params = JSON(default="{}")
    link = Varchar(length=300, default="")
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)


class ResidentHash(Table, tablename="portal_resident_hash"):
    """A verified resident from the city's register, keyed by a salted identifier hash."""

    identifier_hash = Varchar(length=64, unique=True, index=True)
    district_code = Varchar(length=5)
    imported_at = Timestamptz()
    claimed_by = ForeignKey(User, null=True, default=None)
