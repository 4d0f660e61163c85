"""Account rules: registration, profile and password change, residency, roles, notifications.

Signing in is in ``portal/login.py``, forgotten passwords in ``portal/password_reset.py``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal import audit, clock, i18n
from portal.db import write_transaction
from portal.districts import DISTRICTS_BY_CODE
from portal.errors import InvalidInput, NotFoundError
from portal.mail import send_mail
from portal.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    MIN_LENGTH_WITH_TOTP,
    hash_password,
    password_problem,
    verify_password,
)
from portal.settings import get_settings
from portal.tables import (
    ROLES,
    Notification,
    ResidentHash,
    User,
)

EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")


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


async def add_role_in_transaction(user_id: int, role: str, *, actor_id: int | None, reason: str) -> bool:
    """Give an account one more role inside the caller's transaction (self-service onboarding, an accepted
    invitation); audited. Its other sessions end (S7): the caller starts a fresh session for this one.
    Returns False when the account already had the role."""
    if role not in ROLES:
        raise InvalidInput("Unknown role %(role)s.", field="role", role=role)
    row = await User.select(User.roles).where(User.id == user_id).first()
    if row is None:
        raise NotFoundError("We could not find that account.")
    held = {r for r in row["roles"].split(",") if r}
    if role in held:
        return False
    new = ",".join(sorted(held | {role}))
    await User.update({User.roles: new, User.session_generation: User.session_generation + 1}).where(User.id == user_id)
    await audit.record("roles.changed", actor_id=actor_id, subject=f"user:{user_id}", old=row["roles"], new=new, reason=reason)
    return True


async def remove_role_in_transaction(user_id: int, role: str, *, actor_id: int | None, reason: str) -> bool:
    """Take one role away inside the caller's transaction, audited; the account's sessions end (S7)."""
    row = await User.select(User.roles).where(User.id == user_id).first()
    held = {r for r in (row or {"roles": ""})["roles"].split(",") if r}
    if role not in held:
        return False
    new = ",".join(sorted(held - {role})) or "citizen"
    await User.update({User.roles: new, User.session_generation: User.session_generation + 1}).where(User.id == user_id)
    await audit.record("roles.changed", actor_id=actor_id, subject=f"user:{user_id}", old=row["roles"], new=new, reason=reason)
    return True


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

