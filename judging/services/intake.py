"""AI 50 Challenge intake: editions' intake windows, organizations, members and invitations.

With ``entries.py`` and ``attachments.py`` the only place that writes the intake tables for startups.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from judging.categories import ORGANIZATION_SIZES
from judging.schemas import EditionRead
from judging.tables import Edition, Organization, OrganizationInvitation, OrganizationMember
from portal import accounts, audit, clock, i18n
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from portal.mail import send_mail
from portal.settings import get_settings
from portal.tables import User

BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


# ---------------------------------------------------------------- what the pages and the API show


@dataclass(frozen=True)
class Member:
    email: str
    role: str


@dataclass(frozen=True)
class SentInvitation:
    id: int
    email: str
    created_at: dt.datetime


@dataclass(frozen=True)
class MyOrganization:
    """An organization I belong to, with its members and the invitations not yet accepted."""

    id: int
    name: str
    registration_number: str
    size: str
    founding_year: int
    role: str
    members: list[Member]
    invitations: list[SentInvitation]


@dataclass(frozen=True)
class PendingInvitation:
    """An invitation to my email address, waiting for me to accept it."""

    id: int
    organization_name: str
    created_at: dt.datetime


# ---------------------------------------------------------------- editions' intake window


def intake_state(edition: Mapping[str, Any], now: dt.datetime | None = None) -> str:
    """``not-open``, ``open`` or ``closed`` on the server clock, for an edition row."""
    now = now or clock.now()
    if now < edition["intake_opens_at"]:
        return "not-open"
    if now >= edition["intake_closes_at"]:
        return "closed"
    return "open"


def _edition_read(row: dict[str, Any]) -> EditionRead:
    return msgspec.convert({**row, "intake": intake_state(row)}, EditionRead)


async def edition_intake(edition_id: int) -> EditionRead:
    """An edition's intake window; NotFoundError (404) when there is no such edition."""
    row = await Edition.select().output(load_json=True).where(Edition.id == edition_id).first()
    if row is None:
        raise NotFoundError("We could not find that edition.")
    return _edition_read(row)


async def editions() -> list[EditionRead]:
    """Every edition, newest first, with its intake state."""
    rows = await Edition.select().output(load_json=True).order_by(Edition.id, ascending=False)
    return [_edition_read(row) for row in rows]


def check_not_frozen(edition: EditionRead) -> None:
    """Entries and their files change only until the intake deadline."""
    if edition.intake == "closed":
        raise NotAllowed("The intake deadline has passed; entries are frozen.")


# ---------------------------------------------------------------- organizations


def normalise_registration_number(raw: str) -> str:
    """The ten digits of a Korean business registration number, check digit verified.

    The check digit: sum of the first nine digits times 1,3,7,1,3,7,1,3,5, plus the tens of
    (ninth digit x 5); the tenth digit is (10 - sum mod 10) mod 10.
    """
    digits = re.sub(r"[\s-]", "", raw or "")
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise InvalidInput(
            "A business registration number has 10 digits, like 220-81-62517.",
            field="registration_number",
        )
    values = [int(c) for c in digits]
    total = sum(v * w for v, w in zip(values[:9], BRN_WEIGHTS, strict=True)) + (values[8] * 5) // 10
    if (10 - total % 10) % 10 != values[9]:
        raise InvalidInput(
            "This business registration number is not valid (its check digit does not match).",
            field="registration_number",
        )
    return digits


def format_registration_number(digits: str) -> str:
    """``2208162517`` as ``220-81-62517``."""
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}" if len(digits) == 10 else digits


def clean_text(value: str, name: str, limit: int, required: bool = False) -> str:
    """Form text in NFC with Unix line ends, trimmed; refused when missing (if required) or too long."""
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n")).strip()
    if required and not text:
        raise InvalidInput("This field is required.", field=name)
    if len(text) > limit:
        raise InvalidInput("Keep this under %(limit)s characters.", field=name, limit=limit)
    return text


def _founding_year(value: str) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        year = 0
    if not 1900 <= year <= clock.now().year:
        raise InvalidInput("Enter the founding year as four digits.", field="founding_year")
    return year


async def create_organization(
    user_id: int,
    name: str,
    registration_number: str,
    size: str,
    founding_year: str,
    *,
    become_startup: bool = False,
) -> int:
    """Register an organization; its creator becomes its owner (and, when ``become_startup``, a
    startup account in the same transaction: self-service onboarding)."""
    name = clean_text(name, "name", 120, required=True)
    number = normalise_registration_number(registration_number)
    if size not in ORGANIZATION_SIZES:
        raise InvalidInput("Choose startup or SME.", field="size")
    year = _founding_year(founding_year)
    async with write_transaction(lock_key="challenge-organization"):
        if await Organization.exists().where(Organization.registration_number == number):
            raise Conflict(
                "This organization is already registered. Ask one of its members to invite you.",
                field="registration_number",
            )
        org = Organization(
            name=name,
            registration_number=number,
            size=size,
            founding_year=year,
            created_by=user_id,
            created_at=clock.now(),
        )
        await org.save()
        await OrganizationMember.insert(
            OrganizationMember(
                organization=org.id, user=user_id, role="owner", joined_at=clock.now()
            )
        )
        await audit.record(
            "challenge.organization.created", actor_id=user_id, subject=f"organization:{org.id}"
        )
        if become_startup:
            await accounts.add_role_in_transaction(
                user_id, "startup", actor_id=user_id, reason=f"organization:{org.id}"
            )
    return org.id


async def require_not_revoked(organization_id: int) -> None:
    """An organization the officials revoked takes no new entries, submissions or members."""
    row = await Organization.select(Organization.revoked_at).where(Organization.id == organization_id).first()
    if row is not None and row["revoked_at"] is not None:
        raise NotAllowed("The officials revoked this organization's registration; it cannot take part.")


async def is_member(user_id: int, organization_id: int) -> bool:
    return await OrganizationMember.exists().where(
        (OrganizationMember.user == user_id) & (OrganizationMember.organization == organization_id)
    )


async def my_organizations(user_id: int) -> list[MyOrganization]:
    rows = (
        await OrganizationMember.select(
            OrganizationMember.organization.id.as_alias("id"),
            OrganizationMember.organization.name.as_alias("name"),
            OrganizationMember.organization.registration_number.as_alias("registration_number"),
            OrganizationMember.organization.size.as_alias("size"),
            OrganizationMember.organization.founding_year.as_alias("founding_year"),
            OrganizationMember.role,
        )
        .where(OrganizationMember.user == user_id)
        .order_by(OrganizationMember.id)
    )
    organizations = []
    for row in rows:
        members = await OrganizationMember.select(
            OrganizationMember.user.email.as_alias("email"), OrganizationMember.role
        ).where(OrganizationMember.organization == row["id"])
        invitations = await OrganizationInvitation.select(
            OrganizationInvitation.id,
            OrganizationInvitation.email,
            OrganizationInvitation.created_at,
        ).where(
            (OrganizationInvitation.organization == row["id"])
            & OrganizationInvitation.accepted_at.is_null()
        )
        organizations.append(
            MyOrganization(
                **row,
                members=[Member(**m) for m in members],
                invitations=[SentInvitation(**i) for i in invitations],
            )
        )
    return organizations


async def invite_member(user_id: int, organization_id: int, email: str) -> None:
    """Invite a colleague by email; they accept once signed in with that address."""
    if not await is_member(user_id, organization_id):
        raise NotFoundError(
            "We could not find that page."
        )  # others' organizations stay unseen (S14)
    email = accounts.validate_email(email)
    await require_not_revoked(organization_id)
    async with write_transaction():
        org = (
            await Organization.select(Organization.name)
            .where(Organization.id == organization_id)
            .first()
        )
        already = await OrganizationInvitation.exists().where(
            (OrganizationInvitation.organization == organization_id)
            & (OrganizationInvitation.email == email)
            & OrganizationInvitation.accepted_at.is_null()
        )
        if not already:
            await OrganizationInvitation.insert(
                OrganizationInvitation(
                    organization=organization_id,
                    email=email,
                    invited_by=user_id,
                    created_at=clock.now(),
                )
            )
            await audit.record(
                "challenge.organization.invited",
                actor_id=user_id,
                subject=f"organization:{organization_id}",
            )
    invitee = await User.select(User.id, User.language).where(User.email == email).first()
    language = invitee["language"] if invitee else i18n.DEFAULT_LANGUAGE
    await send_mail(
        email,
        i18n.translate(
            "You are invited to join %(name)s on Hangang Portal", language, name=org["name"]
        ),
        i18n.translate(
            "Sign in (or sign up) with this email address and accept the invitation at %(url)s",
            language,
            url=get_settings().base_url + "/challenge/invitations",
        ),
    )
    if invitee is not None:  # the notice in the portal, in the reader's language when read
        await accounts.notify(
            invitee["id"],
            "%(name)s invited you to join it in the AI 50 Challenge.",
            "/challenge/invitations",
            name=org["name"],
        )


async def pending_invitations(email: str) -> list[PendingInvitation]:
    rows = await OrganizationInvitation.select(
        OrganizationInvitation.id,
        OrganizationInvitation.organization.name.as_alias("organization_name"),
        OrganizationInvitation.created_at,
    ).where((OrganizationInvitation.email == email) & OrganizationInvitation.accepted_at.is_null())
    return [PendingInvitation(**row) for row in rows]


async def accept_invitation(user_id: int, email: str, invitation_id: int) -> None:
    async with write_transaction():
        invitation = (
            await OrganizationInvitation.select()
            .where(
                (OrganizationInvitation.id == invitation_id)
                & (OrganizationInvitation.email == email)
                & OrganizationInvitation.accepted_at.is_null()
            )
            .first()
        )
        if invitation is None:
            raise NotFoundError("We could not find that invitation.")
        await OrganizationInvitation.update(
            {OrganizationInvitation.accepted_at: clock.now()}
        ).where(OrganizationInvitation.id == invitation_id)
        if not await is_member(user_id, invitation["organization"]):
            await OrganizationMember.insert(
                OrganizationMember(
                    organization=invitation["organization"],
                    user=user_id,
                    role="member",
                    joined_at=clock.now(),
                )
            )
        await audit.record(
            "challenge.organization.joined",
            actor_id=user_id,
            subject=f"organization:{invitation['organization']}",
        )
