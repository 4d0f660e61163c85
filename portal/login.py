"""Signing in: password checks with throttling (S4), and TOTP as the second step."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import pyotp
import segno

from portal import audit, clock
from portal.accounts import normalise_email
from portal.db import write_transaction
from portal.errors import InvalidInput, TooManyAttempts, Unauthenticated
from portal.passwords import (
    DUMMY_HASH,
    MIN_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from portal.passwords import (
    normalise as normalise_password,
)
from portal.tables import (
    PRIVILEGED_ROLES,
    LoginThrottle,
    User,
)

ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 30
MAX_BLOCK_SECONDS = 15 * 60
# A client's (IP address's) failures are forgotten this long after its last one: a shared network
# (a school, city hall's Wi-Fi) is not held back for a day by someone else's typos.
ADDRESS_FAILURE_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FAILURE_WINDOW = dt.timedelta(days=1)
GENERIC_LOGIN_FAILURE = "The email or password is not correct."

# ---------------------------------------------------------------- throttling (S4)


def _block_seconds(failures: int, free: int) -> int:
    if failures < free:
        return 0
    return min(2 ** (failures - free), MAX_BLOCK_SECONDS)


async def throttle_state(key: str) -> dict[str, Any] | None:
    """The failure count and block of one key (an account or a client), if it has failed before."""
    return await LoginThrottle.select().where(LoginThrottle.key == key).first()


async def check_throttle(email: str, address: str) -> None:
    """Refuse while the account or the address is cooling down; the same for unknown accounts."""
    now = clock.now()
    for key in (f"account:{email}", f"address:{address}"):
        state = await throttle_state(key)
        if state and state["blocked_until"] and state["blocked_until"] > now:
            wait = int((state["blocked_until"] - now).total_seconds()) + 1
            raise TooManyAttempts(
                "Too many failed attempts. Try again in %(seconds)s seconds.", retry_after=wait, seconds=wait
            )


async def record_failure(email: str, address: str) -> None:
    now = clock.now()
    async with write_transaction():
        for key, free in ((f"account:{email}", ACCOUNT_FREE_FAILURES), (f"address:{address}", ADDRESS_FREE_FAILURES)):
            state = await throttle_state(key)
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
