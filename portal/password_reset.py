"""Forgotten passwords: reset requests queued and mailed by a background loop, one-time tokens."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import secrets

from portal import audit, clock, i18n
from portal.accounts import check_new_password, normalise_email
from portal.db import write_transaction
from portal.errors import InvalidInput, TooManyAttempts
from portal.login import clear_account_failures, throttle_state
from portal.mail import send_mail
from portal.passwords import (
    hash_password,
)
from portal.settings import get_settings
from portal.tables import (
    LoginThrottle,
    PasswordResetRequest,
    PasswordResetToken,
    User,
)

RESET_TOKEN_MINUTES = 30
# Reset requests: at most this many per email address and per client in RESET_WINDOW.
RESET_WINDOW = dt.timedelta(hours=1)
RESET_PER_EMAIL = 5
RESET_PER_CLIENT = 20
RESET_DELIVERY_SECONDS = 1.0
log = logging.getLogger("hangang.accounts")

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _email_key(email: str) -> str:
    """Throttle key of an email address (hashed: the throttle table holds no addresses)."""
    return "reset-email:" + hashlib.sha256(email.encode()).hexdigest()[:32]


async def _count_request(key: str, limit: int, now: dt.datetime) -> int:
    """Count one request in ``key``'s window; returns the seconds to wait when over ``limit``, else 0."""
    state = await throttle_state(key)
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
