"""Account rules: registration, login with throttling and TOTP, password reset, residency, roles."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import hashlib
import hmac
import io
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyotp
import segno

from portal import audit, clock, i18n
from portal.db import write_transaction
from portal.districts import DISTRICTS_BY_CODE
from portal.errors import InvalidInput, NotFoundError, TooManyAttempts, Unauthenticated
from portal.mail import send_mail
from portal.passwords import (
    DUMMY_HASH,
    MAX_LENGTH,
    MIN_LENGTH,
    MIN_LENGTH_WITH_TOTP,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from portal.passwords import (
    normalise as normalise_password,
)
from portal.settings import get_settings
from portal.tables import (
    PRIVILEGED_ROLES,
    ROLES,
    LoginThrottle,
    Notification,
    PasswordResetRequest,
    PasswordResetToken,
    ResidentHash,
    User,
)

EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
RESET_TOKEN_MINUTES = 30
ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 30
MAX_BLOCK_SECONDS = 15 * 60
# A client's (IP address's) failures are forgotten this long after its last one: a shared network
# (a school, city hall's Wi-Fi) is not held back for a day by someone else's typos.
ADDRESS_FAILURE_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FAILURE_WINDOW = dt.timedelta(days=1)
# Reset requests: at most this many per email address and per client in RESET_WINDOW.
RESET_WINDOW = dt.timedelta(hours=1)
RESET_PER_EMAIL = 5
RESET_PER_CLIENT = 20
RESET_DELIVERY_SECONDS = 1.0
log = logging.getLogger("hangang.accounts")
GENERIC_LOGIN_FAILURE = "The email or password is not correct."


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = normalise_email(email)
    if not EMAIL_RE.match(email):
        raise InvalidInput("Enter a valid email address.", field="email")
    return email


def validate_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("The display name must have 1 to 80 characters.", field="display_name")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput("The display name contains characters that are not allowed.", field="display_name")
    return name


def validate_district(code: str | None) -> str | None:
    if code in (None, ""):
        return None
    if code not in DISTRICTS_BY_CODE:
        raise InvalidInput("Choose one of Seoul's 25 districts.", field="district_code")
    return code


def validate_language(language: str) -> str:
    if language not in i18n.LANGUAGES:
        raise InvalidInput("Choose Korean or English.", field="language")
    return language


def check_new_password(password: str, email: str, totp_enabled: bool = False, field: str = "password") -> None:
    problem = password_problem(password, email=email, totp_enabled=totp_enabled)
    if problem:
        raise InvalidInput(
            problem,
            field=field,
            min=MIN_LENGTH_WITH_TOTP if totp_enabled else MIN_LENGTH,
            max=MAX_LENGTH,
        )


@dataclass
class Registration:
    email: str
    password: str
    display_name: str
    district_code: str | None
    language: str


async def register(reg: Registration) -> int | None:
    """Create a citizen account. Returns the new id, or None when the email was taken.

    A taken email gets the same answer as a new one (no enumeration, S5); its owner is told by mail.
    """
    email = validate_email(reg.email)
    display_name = validate_display_name(reg.display_name)
    district = validate_district(reg.district_code)
    language = validate_language(reg.language)
    check_new_password(reg.password, email)
    password_hash = await hash_password(reg.password)
    async with write_transaction():
        existing = await User.select(User.id, User.language).where(User.email == email).first()
        if existing is None:
            user = User(
                email=email,
                display_name=display_name,
                password_hash=password_hash,
                language=language,
                district_code=district,
                roles="citizen",
                created_at=clock.now(),
            )
            await user.save()
            await audit.record("account.registered", actor_id=user.id, subject=f"user:{user.id}")
    if existing is not None:
        await send_mail(
            email,
            i18n.translate("Someone tried to register with your email", existing["language"]),
            i18n.translate(
                "Someone tried to create a Hangang Portal account with this address. If it was you, log in or reset your password instead.",
                existing["language"],
            ),
        )
        return None
    await send_mail(
        email,
        i18n.translate("Welcome to Hangang Portal", language),
        i18n.translate("Your account is ready. Log in at %(url)s", language, url=get_settings().base_url + "/login"),
    )
    return user.id


async def create_user(
    email: str,
    password: str,
    roles: list[str],
    *,
    display_name: str | None = None,
    district_code: str | None = None,
    verified: bool = False,
    language: str = "ko",
    totp_secret: str | None = None,
    check_password: bool = True,
) -> int:
    """Create an account with any roles (CLI and demo data)."""
    email = validate_email(email)
    for role in roles:
        if role not in ROLES:
            raise InvalidInput("Unknown role %(role)s.", field="role", role=role)
    if check_password:
        check_new_password(password, email)
    password_hash = await hash_password(password)
    async with write_transaction():
        if await User.exists().where(User.email == email):
            raise InvalidInput("An account with this email already exists.", field="email")
        user = User(
            email=email,
            display_name=validate_display_name(display_name or email.split("@")[0]),
            password_hash=password_hash,
            language=validate_language(language),
            district_code=validate_district(district_code),
            roles=",".join(sorted(set(roles))),
            residency_verified=verified,
            residency_verified_at=clock.now() if verified else None,
            totp_secret=totp_secret,
            totp_enabled=totp_secret is not None,
            created_at=clock.now(),
        )
        await user.save()
        await audit.record("account.created", subject=f"user:{user.id}", roles=sorted(set(roles)), verified=verified)
    return user.id


# ---------------------------------------------------------------- throttling (S4)


def _block_seconds(failures: int, free: int) -> int:
    if failures < free:
        return 0
    return min(2 ** (failures - free), MAX_BLOCK_SECONDS)


async def _throttle_state(key: str) -> dict[str, Any] | None:
    return await LoginThrottle.select().where(LoginThrottle.key == key).first()


async def check_throttle(email: str, address: str) -> None:
    """Refuse while the account or the address is cooling down; the same for unknown accounts."""
    now = clock.now()
    for key in (f"account:{email}", f"address:{address}"):
        state = await _throttle_state(key)
        if state and state["blocked_until"] and state["blocked_until"] > now:
            wait = int((state["blocked_until"] - now).total_seconds()) + 1
            raise TooManyAttempts(
                "Too many failed attempts. Try again in %(seconds)s seconds.", retry_after=wait, seconds=wait
            )


async def record_failure(email: str, address: str) -> None:
    now = clock.now()
    async with write_transaction():
        for key, free in ((f"account:{email}", ACCOUNT_FREE_FAILURES), (f"address:{address}", ADDRESS_FREE_FAILURES)):
            state = await _throttle_state(key)
            window = ACCOUNT_FAILURE_WINDOW if key.startswith("account:") else ADDRESS_FAILURE_WINDOW
            stale = state is not None and state["updated_at"] < now - window
            failures = (state["failures"] if state and not stale else 0) + 1
            block = _block_seconds(failures, free)
            blocked_until = now + dt.timedelta(seconds=block) if block else None
            if state:
                await LoginThrottle.update(
                    {LoginThrottle.failures: failures, LoginThrottle.blocked_until: blocked_until, LoginThrottle.updated_at: now}
                ).where(LoginThrottle.key == key)
            else:
                await LoginThrottle.insert(
                    LoginThrottle(key=key, failures=failures, blocked_until=blocked_until, updated_at=now)
                )
        await audit.record("login.failed", subject=f"account:{hashlib.sha256(email.encode()).hexdigest()[:16]}")


async def clear_account_failures(email: str) -> None:
    await LoginThrottle.delete().where(LoginThrottle.key == f"account:{email}")


# ---------------------------------------------------------------- login


async def authenticate(email: str, password: str, address: str) -> dict[str, Any]:
    """Check email and password; returns the user row. Same error for unknown user and wrong password (S5)."""
    email = normalise_email(email)[:254]
    await check_throttle(email, address)
    row = await User.select().where(User.email == email).first()
    if row is None:
        await verify_password(DUMMY_HASH, password)  # the same cost as a real check
        await record_failure(email, address)
        raise Unauthenticated(GENERIC_LOGIN_FAILURE)
    if not await verify_password(row["password_hash"], password):
        await record_failure(email, address)
        raise Unauthenticated(GENERIC_LOGIN_FAILURE)
    await clear_account_failures(email)
    if needs_rehash(row["password_hash"]):
        # Parameters moved on since this hash was made: upgrade it now that we know the password (S3).
        new_hash = await hash_password(password)
        await User.update({User.password_hash: new_hash}).where(User.id == row["id"])
        row["password_hash"] = new_hash
    if not row["totp_enabled"]:
        async with write_transaction():
            await audit.record("login.succeeded", actor_id=row["id"], subject=f"user:{row['id']}")
    return row


def _matching_step(secret: str, code: str) -> int | None:
    """The TOTP time step ``code`` belongs to (allowing one step of clock drift), or None."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for drift in (0, -1, 1):
        at = now + dt.timedelta(seconds=30 * drift)
        if hmac.compare_digest(totp.at(at), code):
            return int(at.timestamp()) // 30
    return None


async def verify_totp(user_id: int, code: str, address: str) -> dict[str, Any]:
    """Second step: the code must match and must not have been used before (S6)."""
    row = await User.select().where(User.id == user_id).first()
    if row is None or not row["totp_secret"]:
        raise Unauthenticated("Please log in to continue.")
    await check_throttle(row["email"], address)
    step = _matching_step(row["totp_secret"], code)
    async with write_transaction():
        fresh = await User.select(User.totp_last_step).where(User.id == user_id).first()
        if step is None or step <= fresh["totp_last_step"]:
            pass
        else:
            await User.update({User.totp_last_step: step}).where(User.id == user_id)
            await audit.record("login.succeeded", actor_id=user_id, subject=f"user:{user_id}", factor="totp")
            return row
    await record_failure(row["email"], address)
    raise InvalidInput("The code is not correct or was already used. Enter the current code.", field="totp")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_qr_data_uri(secret: str, email: str) -> str:
    """The enrolment QR code, rendered on the server as an SVG data URI (no script, no third party)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Hangang Portal")
    return segno.make(uri, error="m").svg_data_uri(scale=4)


async def _check_current_totp(row: dict[str, Any], current_code: str, address: str, field: str = "current_totp") -> int:
    """The code from the app in use now (re-binding and removal need it); returns its time step."""
    await check_throttle(row["email"], address)
    step = _matching_step(row["totp_secret"] or "", current_code or "")
    if step is None or step <= row["totp_last_step"]:
        await record_failure(row["email"], address)
        raise InvalidInput(
            "Enter the current code from the authenticator app you use now.", field=field
        )
    return step


async def enable_totp(user_id: int, secret: str, code: str, *, current_code: str = "", address: str = "") -> None:
    """Bind a new authenticator app. Replacing one already bound needs a current code from it."""
    row = await User.select().where(User.id == user_id).first()
    if row is None:
        raise Unauthenticated("Please log in to continue.")
    if row["totp_enabled"]:
        await _check_current_totp(row, current_code, address)
    step = _matching_step(secret, code)
    if step is None:
        raise InvalidInput("The code is not correct. Check the time on your phone and try again.", field="totp")
    async with write_transaction():
        await User.update(
            {User.totp_secret: secret, User.totp_enabled: True, User.totp_last_step: step}
        ).where(User.id == user_id)
        await audit.record(
            "totp.replaced" if row["totp_enabled"] else "totp.enabled", actor_id=user_id, subject=f"user:{user_id}"
        )


async def disable_totp(user_id: int, password: str, current_code: str, address: str) -> None:
    """Turn two-factor authentication off with the password and a current code.

    Judges, officials and admins must keep it; a password shorter than the password-only minimum (S1)
    must be changed first.
    """
    row = await User.select().where(User.id == user_id).first()
    if row is None or not row["totp_enabled"]:
        raise InvalidInput("Two-factor authentication is not on.", field="off_totp")
    if set(row["roles"].split(",")) & set(PRIVILEGED_ROLES):
        raise InvalidInput(
            "Judges, officials and administrators must keep two-factor authentication on.", field="off_totp"
        )
    if not await verify_password(row["password_hash"], password):
        raise InvalidInput("The current password is not correct.", field="off_password")
    if len(normalise_password(password)) < MIN_LENGTH:
        raise InvalidInput(
            "Choose a password of at least %(min)s characters before turning two-factor authentication off.",
            field="off_password",
            min=MIN_LENGTH,
        )
    step = await _check_current_totp(row, current_code, address, field="off_totp")
    async with write_transaction():
        await User.update(
            {User.totp_secret: None, User.totp_enabled: False, User.totp_last_step: step}
        ).where(User.id == user_id)
        await audit.record("totp.disabled", actor_id=user_id, subject=f"user:{user_id}")


# ---------------------------------------------------------------- profile and passwords


async def update_profile(user_id: int, display_name: str, language: str, district_code: str | None) -> None:
    display_name = validate_display_name(display_name)
    language = validate_language(language)
    district_code = validate_district(district_code)
    async with write_transaction():
        row = await User.select(User.district_code, User.residency_verified).where(User.id == user_id).first()
        changes: dict[Any, Any] = {User.display_name: display_name, User.language: language}
        if district_code != row["district_code"]:
            # Moving districts needs a new residency check before voting there.
            changes[User.district_code] = district_code
            changes[User.residency_verified] = False
            await audit.record("residency.reset", actor_id=user_id, subject=f"user:{user_id}", reason="district changed")
        await User.update(changes).where(User.id == user_id)


async def set_language(user_id: int, language: str) -> None:
    await User.update({User.language: validate_language(language)}).where(User.id == user_id)


async def change_password(user_id: int, current: str, new: str) -> dict[str, Any]:
    """Change the password; every other session of the account ends (S9). Returns the updated row."""
    row = await User.select().where(User.id == user_id).first()
    if not await verify_password(row["password_hash"], current):
        raise InvalidInput("The current password is not correct.", field="current_password")
    check_new_password(new, row["email"], row["totp_enabled"], field="new_password")
    new_hash = await hash_password(new)
    async with write_transaction():
        await User.update(
            {User.password_hash: new_hash, User.session_generation: User.session_generation + 1}
        ).where(User.id == user_id)
        await audit.record("password.changed", actor_id=user_id, subject=f"user:{user_id}")
    return await User.select().where(User.id == user_id).first()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _email_key(email: str) -> str:
    """Throttle key of an email address (hashed: the throttle table holds no addresses)."""
    return "reset-email:" + hashlib.sha256(email.encode()).hexdigest()[:32]


async def _count_request(key: str, limit: int, now: dt.datetime) -> int:
    """Count one request in ``key``'s window; returns the seconds to wait when over ``limit``, else 0."""
    state = await _throttle_state(key)
    if state is None or state["blocked_until"] is None or state["blocked_until"] <= now:
        window_end = now + RESET_WINDOW
        if state is None:
            await LoginThrottle.insert(LoginThrottle(key=key, failures=1, blocked_until=window_end, updated_at=now))
        else:
            await LoginThrottle.update(
                {LoginThrottle.failures: 1, LoginThrottle.blocked_until: window_end, LoginThrottle.updated_at: now}
            ).where(LoginThrottle.key == key)
        return 0
    if state["failures"] >= limit:
        return int((state["blocked_until"] - now).total_seconds()) + 1
    await LoginThrottle.update(
        {LoginThrottle.failures: LoginThrottle.failures + 1, LoginThrottle.updated_at: now}
    ).where(LoginThrottle.key == key)
    return 0


async def request_password_reset(email: str, client: str) -> None:
    """Queue a reset for the address; the answer and the work are the same whether or not it has an account (S5).

    The request never looks the account up: it counts the request per address and per client and queues
    one row. ``deliver_password_resets`` (a background loop) mails the link to known addresses.
    """
    email = normalise_email(email)[:254]
    now = clock.now()
    async with write_transaction():
        wait = max(
            await _count_request(_email_key(email), RESET_PER_EMAIL, now),
            await _count_request(f"reset-client:{client[:200]}", RESET_PER_CLIENT, now),
        )
        if not wait:
            await PasswordResetRequest.insert(PasswordResetRequest(email=email, requested_at=now))
    if wait:
        minutes = max(1, (wait + 59) // 60)
        raise TooManyAttempts(
            "Too many reset requests for this address or from this network. Try again in %(minutes)s minutes.",
            retry_after=wait,
            field="email",
            minutes=minutes,
        )


async def deliver_password_resets(limit: int = 50) -> int:
    """Turn queued requests into one-time links for known addresses; unknown ones are dropped. Returns rows handled."""
    links: list[tuple[str, str, str]] = []
    async with write_transaction():
        queued = await PasswordResetRequest.select(PasswordResetRequest.id).order_by(PasswordResetRequest.id).limit(limit)
        if not queued:
            return 0
        # DELETE ... RETURNING claims the rows, so two workers never mail the same request.
        claimed = await PasswordResetRequest.delete().where(
            PasswordResetRequest.id.is_in([row["id"] for row in queued])
        ).returning(PasswordResetRequest.email)
        for request in claimed:
            row = await User.select(User.id, User.language).where(User.email == request["email"]).first()
            if row is None:
                continue
            token = secrets.token_urlsafe(32)
            await PasswordResetToken.insert(
                PasswordResetToken(
                    user=row["id"],
                    token_hash=_token_hash(token),
                    expires_at=clock.now() + dt.timedelta(minutes=RESET_TOKEN_MINUTES),
                )
            )
            await audit.record("password.reset_requested", actor_id=row["id"], subject=f"user:{row['id']}")
            links.append((request["email"], row["language"], token))
    for email, language, token in links:
        link = f"{get_settings().base_url}/password-reset/{token}"
        await send_mail(
            email,
            i18n.translate("Reset your Hangang Portal password", language),
            i18n.translate(
                "Open this link within %(minutes)s minutes to choose a new password: %(link)s\nIf you did not ask for this, ignore this mail.",
                language,
                minutes=RESET_TOKEN_MINUTES,
                link=link,
            ),
        )
    return len(claimed)


async def password_reset_loop(stop: asyncio.Event) -> None:
    """Deliver queued reset requests every second until the server stops."""
    while not stop.is_set():
        try:
            await deliver_password_resets()
        except Exception:  # a busy database must not kill the worker; the rows stay queued
            log.exception("password reset delivery failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RESET_DELIVERY_SECONDS)


async def reset_token_valid(token: str) -> bool:
    row = await PasswordResetToken.select().where(PasswordResetToken.token_hash == _token_hash(token)).first()
    return bool(row and row["used_at"] is None and row["expires_at"] > clock.now())


async def reset_password(token: str, new: str) -> None:
    """Use a reset link once, before it expires; ends every session of the account."""
    async with write_transaction():
        row = await PasswordResetToken.select().where(PasswordResetToken.token_hash == _token_hash(token)).first()
        if not row or row["used_at"] is not None or row["expires_at"] <= clock.now():
            raise InvalidInput("This reset link has expired or was already used. Ask for a new one.", field="token")
        user = await User.select().where(User.id == row["user"]).first()
    check_new_password(new, user["email"], user["totp_enabled"])
    new_hash = await hash_password(new)
    async with write_transaction():
        updated = await PasswordResetToken.update({PasswordResetToken.used_at: clock.now()}).where(
            (PasswordResetToken.id == row["id"]) & PasswordResetToken.used_at.is_null()
        ).returning(PasswordResetToken.id)
        if not updated:
            raise InvalidInput("This reset link has expired or was already used. Ask for a new one.", field="token")
        await User.update(
            {User.password_hash: new_hash, User.session_generation: User.session_generation + 1}
        ).where(User.id == user["id"])
        await audit.record("password.reset", actor_id=user["id"], subject=f"user:{user['id']}")
    await clear_account_failures(user["email"])


# ---------------------------------------------------------------- residency and roles


async def set_residency(official_id: int, user_id: int, verified: bool) -> None:
    """An official verifies (or withdraws) a citizen's residency."""
    async with write_transaction():
        row = await User.select(User.id, User.district_code).where(User.id == user_id).first()
        if row is None:
            raise NotFoundError("We could not find that account.")
        if verified and not row["district_code"]:
            raise InvalidInput("The person has no district of residence on their profile.", field="district_code")
        await User.update(
            {User.residency_verified: verified, User.residency_verified_at: clock.now() if verified else None}
        ).where(User.id == user_id)
        await audit.record(
            "residency.verified" if verified else "residency.revoked",
            actor_id=official_id,
            subject=f"user:{user_id}",
            district=row["district_code"],
        )


def resident_identifier_hash(identifier: str) -> str:
    """Salted hash of a resident identifier, as the city prepares its register (``hangang hash-residents``)."""
    salt = os.environ.get("HANGANG_RESIDENT_SALT") or get_settings().secret_key
    normalised = re.sub(r"[\s-]", "", identifier)
    return hmac.new(salt.encode(), normalised.encode(), hashlib.sha256).hexdigest()


async def import_resident_hashes(official_id: int, csv_text: str) -> tuple[int, int]:
    """Import ``identifier_hash,district_code`` rows; returns (added, already known)."""
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    rows = []
    for line_number, record in enumerate(reader, start=1):
        if not record or (line_number == 1 and record[0].strip().lower() == "identifier_hash"):
            continue
        if len(record) != 2:
            raise InvalidInput("Line %(line)s: expected two columns, identifier_hash and district_code.", field="file", line=line_number)
        digest, district = record[0].strip().lower(), record[1].strip()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise InvalidInput("Line %(line)s: the identifier hash must be 64 hexadecimal characters.", field="file", line=line_number)
        if district not in DISTRICTS_BY_CODE:
            raise InvalidInput("Line %(line)s: %(code)s is not a Seoul district code.", field="file", line=line_number, code=district[:10])
        rows.append((digest, district))
    added = 0
    async with write_transaction():
        for digest, district in rows:
            if not await ResidentHash.exists().where(ResidentHash.identifier_hash == digest):
                await ResidentHash.insert(ResidentHash(identifier_hash=digest, district_code=district, imported_at=clock.now()))
                added += 1
        await audit.record("residency.imported", actor_id=official_id, subject="resident-register", added=added)
    return added, len(rows) - added


async def claim_residency(user_id: int, identifier: str) -> str:
    """A citizen proves residency with their identifier; returns the verified district."""
    digest = resident_identifier_hash(identifier)
    async with write_transaction():
        row = await ResidentHash.select().where(ResidentHash.identifier_hash == digest).first()
        if row is None or (row["claimed_by"] is not None and row["claimed_by"] != user_id):
            raise InvalidInput("This identifier is not in the resident register or is already used.", field="identifier")
        await ResidentHash.update({ResidentHash.claimed_by: user_id}).where(ResidentHash.id == row["id"])
        await User.update(
            {User.residency_verified: True, User.residency_verified_at: clock.now(), User.district_code: row["district_code"]}
        ).where(User.id == user_id)
        await audit.record("residency.claimed", actor_id=user_id, subject=f"user:{user_id}", district=row["district_code"])
    return row["district_code"]


async def set_roles(admin_id: int, user_id: int, roles: list[str]) -> None:
    """Change an account's roles; its sessions end so the new privileges start from a fresh login (S7)."""
    clean = sorted({r for r in roles if r in ROLES}) or ["citizen"]
    async with write_transaction():
        row = await User.select(User.roles).where(User.id == user_id).first()
        if row is None:
            raise NotFoundError("We could not find that account.")
        await User.update(
            {User.roles: ",".join(clean), User.session_generation: User.session_generation + 1}
        ).where(User.id == user_id)
        await audit.record("roles.changed", actor_id=admin_id, subject=f"user:{user_id}", old=row["roles"], new=",".join(clean))


# ---------------------------------------------------------------- notifications


async def notify(user_id: int, message: str, link: str = "", **params: Any) -> None:
    """An in-app notification; the message id is translated when the reader opens it."""
    await Notification.insert(
        Notification(user=user_id, message=message, params=params, link=link, created_at=clock.now())
    )


def notification_text(message: str, params: Mapping[str, Any], language: str) -> str:
    """A notification in ``language``. A param may itself be a message to translate,
    ``{"message": ..., "params": {...}}``, or a list of them (joined with "; ")."""

    def value(param: Any) -> Any:
        if isinstance(param, Mapping) and "message" in param:
            return notification_text(param["message"], param.get("params") or {}, language)
        if isinstance(param, list):
            return "; ".join(str(value(item)) for item in param)
        return param

    return i18n.translate(message, language, **{name: value(p) for name, p in params.items()})


async def notify_and_mail(user_id: int, subject: str, message: str, link: str = "", **params: Any) -> None:
    """Notify in the app and by mail, both in the reader's language."""
    await notify(user_id, message, link, **params)
    row = await User.select(User.email, User.language).where(User.id == user_id).first()
    if row:
        body = notification_text(message, params, row["language"])
        if link:
            body += "\n\n" + get_settings().base_url + link
        await send_mail(row["email"], i18n.translate(subject, row["language"], **params), body)

