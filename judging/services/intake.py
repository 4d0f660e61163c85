"""AI 50 Challenge intake: organizations, members and invitations, entries, attachments.

The tables are in ``judging/tables.py`` (one Piccolo app for the whole challenge); this module is
the only place that writes them for startups. Entries freeze at the edition's intake deadline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from judging.tables import (
    ORGANIZATION_SIZES,
    SECTORS,
    Attachment,
    Edition,
    Entry,
    Organization,
    OrganizationInvitation,
    OrganizationMember,
    ScreeningDecision,
    Selection,
)
from portal import accounts, audit, clock, i18n, storage
from portal.clock import format_datetime
from portal.db import write_transaction
from portal.districts import DISTRICTS
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from portal.mail import send_mail
from portal.settings import get_settings
from portal.tables import User

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 10
UPLOAD_BODY_LIMIT = MAX_PDF_BYTES + 64 * 1024  # the multipart envelope around a full-size deck


TEXT_LIMITS = {
    "title": 200,
    "summary": 2000,
    "problem": 5000,
    "ai_approach": 5000,
    "data_protection": 5000,
    "target_users": 2000,
    "team": 3000,
}
REQUIRED_TO_SUBMIT = (
    "title",
    "summary",
    "problem",
    "ai_approach",
    "data_protection",
    "target_users",
    "team",
)
DISTRICT_CODES = {d.code for d in DISTRICTS}
BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


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
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}" if len(digits) == 10 else digits


def _clean_text(value: str, name: str, limit: int, required: bool = False) -> str:
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n")).strip()
    if required and not text:
        raise InvalidInput("This field is required.", field=name)
    if len(text) > limit:
        raise InvalidInput("Keep this under %(limit)s characters.", field=name, limit=limit)
    return text


async def create_organization(
    user_id: int, name: str, registration_number: str, size: str, founding_year: str
) -> int:
    """Register an organization; its creator becomes its owner."""
    name = _clean_text(name, "name", 120, required=True)
    number = normalise_registration_number(registration_number)
    if size not in ORGANIZATION_SIZES:
        raise InvalidInput("Choose startup or SME.", field="size")
    try:
        year = int(founding_year)
    except (TypeError, ValueError):
        raise InvalidInput(
            "Enter the founding year as four digits.", field="founding_year"
        ) from None
    if not 1900 <= year <= clock.now().year:
        raise InvalidInput("Enter the founding year as four digits.", field="founding_year")
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
    return org.id


async def membership(user_id: int, organization_id: int) -> dict[str, Any] | None:
    return (
        await OrganizationMember.select()
        .where(
            (OrganizationMember.user == user_id)
            & (OrganizationMember.organization == organization_id)
        )
        .first()
    )


async def require_member(user_id: int, organization_id: int) -> None:
    """Startups see only their own organizations and entries (S14): others get 404."""
    if await membership(user_id, organization_id) is None:
        raise NotFoundError("We could not find that page.")


async def my_organizations(user_id: int) -> list[dict[str, Any]]:
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
    for row in rows:
        row["members"] = await OrganizationMember.select(
            OrganizationMember.user.email.as_alias("email"), OrganizationMember.role
        ).where(OrganizationMember.organization == row["id"])
        row["invitations"] = await OrganizationInvitation.select().where(
            (OrganizationInvitation.organization == row["id"])
            & OrganizationInvitation.accepted_at.is_null()
        )
    return rows


async def invite_member(user_id: int, organization_id: int, email: str) -> None:
    """Invite a colleague by email; they accept once signed in with that address."""
    await require_member(user_id, organization_id)
    email = accounts.validate_email(email)
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
    invitee = await User.select(User.language).where(User.email == email).first()
    language = invitee["language"] if invitee else i18n.DEFAULT_LANGUAGE
    await send_mail(
        email,
        i18n.translate(
            "You are invited to join %(name)s on Hangang Portal", language, name=org["name"]
        ),
        i18n.translate(
            "Sign in (or sign up) with this email address and accept the invitation at %(url)s",
            language,
            url=get_settings().base_url + "/challenge/organization",
        ),
    )


async def pending_invitations(email: str) -> list[dict[str, Any]]:
    return await OrganizationInvitation.select(
        OrganizationInvitation.id,
        OrganizationInvitation.organization.name.as_alias("organization_name"),
        OrganizationInvitation.created_at,
    ).where((OrganizationInvitation.email == email) & OrganizationInvitation.accepted_at.is_null())


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
        if await membership(user_id, invitation["organization"]) is None:
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


# ---------------------------------------------------------------- entries


@dataclass
class EntryForm:
    """What a startup fills in; anything else in a request is refused (S15)."""

    title: str = ""
    summary: str = ""
    problem: str = ""
    ai_approach: str = ""
    data_protection: str = ""
    target_users: str = ""
    category: str = ""
    sector: str = ""
    districts: list[str] = field(default_factory=list)
    team: str = ""
    demo_url: str = ""


def _validated(form: EntryForm, categories: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: _clean_text(getattr(form, name), name, limit, required=(name == "title"))
        for name, limit in TEXT_LIMITS.items()
    }
    if form.category not in categories:
        raise InvalidInput("Choose one of the edition's categories.", field="category")
    if form.sector not in SECTORS:
        raise InvalidInput("Choose public, public-interest or private.", field="sector")
    districts = sorted(set(form.districts))
    if any(code not in DISTRICT_CODES for code in districts):
        raise InvalidInput("Choose districts from the list.", field="districts")
    url = (form.demo_url or "").strip()
    if url:
        parsed = urlparse(url)
        # Stored only, never fetched by the server (no SSRF surface).
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 500:
            raise InvalidInput("Enter a web address starting with https://", field="demo_url")
    values.update(category=form.category, sector=form.sector, districts=districts, demo_url=url)
    return values


async def _edition(edition_id: int) -> dict[str, Any]:
    edition = await Edition.select().output(load_json=True).where(Edition.id == edition_id).first()
    if edition is None:
        raise NotFoundError("We could not find that edition.")
    return edition


def intake_state(edition: dict[str, Any], now: dt.datetime | None = None) -> str:
    """``not-open``, ``open`` or ``closed`` on the server clock."""
    now = now or clock.now()
    if now < edition["intake_opens_at"]:
        return "not-open"
    if now >= edition["intake_closes_at"]:
        return "closed"
    return "open"


def _check_not_frozen(edition: dict[str, Any]) -> None:
    if intake_state(edition) == "closed":
        raise NotAllowed("The intake deadline has passed; entries are frozen.")


async def entry_for_member(user_id: int, entry_id: int) -> dict[str, Any]:
    """An entry the user's organization owns, or 404 (never reveal others' entries)."""
    entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
    if entry is None or await membership(user_id, entry["organization"]) is None:
        raise NotFoundError("We could not find that page.")
    return entry


async def create_entry(user_id: int, organization_id: int, edition_id: int, form: EntryForm) -> int:
    """Save a new draft."""
    if await membership(user_id, organization_id) is None:
        raise InvalidInput("Choose one of your organizations.", field="organization_id")
    if not await Edition.exists().where(Edition.id == edition_id):
        raise InvalidInput("Choose an edition that is open for entries.", field="edition_id")
    edition = await _edition(edition_id)
    _check_not_frozen(edition)
    values = _validated(form, edition["categories"])
    async with write_transaction():
        now = clock.now()
        entry = Entry(
            edition=edition_id,
            organization=organization_id,
            created_by=user_id,
            status="draft",
            created_at=now,
            updated_at=now,
            **values,
        )
        await entry.save()
        await audit.record("challenge.entry.created", actor_id=user_id, subject=f"entry:{entry.id}")
    return entry.id


async def update_entry(user_id: int, entry_id: int, form: EntryForm) -> None:
    """Edit a draft or a submitted entry until the deadline."""
    entry = await entry_for_member(user_id, entry_id)
    edition = await _edition(entry["edition"])
    values = _validated(form, edition["categories"])
    async with write_transaction():
        edition = await _edition(entry["edition"])
        _check_not_frozen(edition)
        current = await Entry.select(Entry.status).where(Entry.id == entry_id).first()
        if current["status"] not in ("draft", "submitted", "withdrawn"):
            raise Conflict("This entry can no longer be edited.")
        await Entry.update(
            {**{getattr(Entry, k): v for k, v in values.items()}, Entry.updated_at: clock.now()}
        ).where(Entry.id == entry_id)
        await audit.record("challenge.entry.edited", actor_id=user_id, subject=f"entry:{entry_id}")


async def submit_entry(user_id: int, entry_id: int) -> None:
    """Submit before the deadline; a confirmation goes to the submitter."""
    entry = await entry_for_member(user_id, entry_id)
    async with write_transaction():
        edition = await _edition(entry["edition"])
        state = intake_state(edition)
        if state == "not-open":
            raise NotAllowed("The intake has not opened yet.")
        _check_not_frozen(edition)
        entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
        if entry["status"] not in ("draft", "withdrawn"):
            raise Conflict("This entry is already submitted.")
        for name in REQUIRED_TO_SUBMIT:
            if not entry[name]:
                raise InvalidInput("Fill in this field before submitting.", field=name)
        await Entry.update(
            {Entry.status: "submitted", Entry.submitted_at: clock.now(), Entry.withdrawn_at: None}
        ).where(Entry.id == entry_id)
        await audit.record(
            "challenge.entry.submitted", actor_id=user_id, subject=f"entry:{entry_id}"
        )
    # After COMMIT: a slow mail server must not hold the write lock.
    await accounts.notify_and_mail(
        user_id,
        "Your entry was submitted",
        'We received your entry "%(title)s" for %(edition)s. You can edit it until %(deadline)s.',
        f"/challenge/entries/{entry_id}",
        title=entry["title"],
        edition=edition["name"],
        deadline=format_datetime(edition["intake_closes_at"]),
    )


async def withdraw_entry(user_id: int, entry_id: int) -> None:
    entry = await entry_for_member(user_id, entry_id)
    async with write_transaction():
        _check_not_frozen(await _edition(entry["edition"]))
        current = await Entry.select(Entry.status).where(Entry.id == entry_id).first()
        if current["status"] != "submitted":
            raise Conflict("Only a submitted entry can be withdrawn.")
        await Entry.update({Entry.status: "withdrawn", Entry.withdrawn_at: clock.now()}).where(
            Entry.id == entry_id
        )
        await audit.record(
            "challenge.entry.withdrawn", actor_id=user_id, subject=f"entry:{entry_id}"
        )


async def my_entries(user_id: int) -> list[dict[str, Any]]:
    org_ids = [
        r["organization"]
        for r in await OrganizationMember.select(OrganizationMember.organization).where(
            OrganizationMember.user == user_id
        )
    ]
    if not org_ids:
        return []
    return (
        await Entry.select(
            Entry.id,
            Entry.title,
            Entry.status,
            Entry.category,
            Entry.updated_at,
            Entry.submitted_at,
            Entry.edition.name.as_alias("edition_name"),
            Entry.organization.name.as_alias("organization_name"),
        )
        .where(Entry.organization.is_in(org_ids))
        .order_by(Entry.id, ascending=False)
    )


# ---------------------------------------------------------------- attachments (S18)


def sniff_type(content: bytes) -> storage.FileType:
    """The file type from its first bytes (S18); anything but PDF, PNG or JPEG is refused."""
    file_type = storage.detect_type(content)
    if file_type is None or file_type.kind not in ("pdf", "png", "jpeg"):
        raise InvalidInput("Only PDF decks and PNG or JPEG images are accepted.", field="file")
    return file_type


def safe_display_name(name: str) -> str:
    """The uploader's file name for display only: no directories, no control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return base[:200] or "file"


async def add_attachment(user_id: int, entry_id: int, filename: str, content: bytes) -> int:
    """Store an upload with its row in one transaction, typed by its magic bytes."""
    entry = await entry_for_member(user_id, entry_id)
    file_type = sniff_type(content)
    limit = MAX_PDF_BYTES if file_type.kind == "pdf" else MAX_IMAGE_BYTES
    if len(content) > limit:
        raise InvalidInput(
            "The file is too large (at most %(mb)s MB).", field="file", mb=limit // (1024 * 1024)
        )
    async with write_transaction():
        _check_not_frozen(await _edition(entry["edition"]))
        if await Attachment.count().where(Attachment.entry == entry_id) >= MAX_ATTACHMENTS:
            raise Conflict("An entry can have at most %(n)s attachments.", n=MAX_ATTACHMENTS)
        attachment = Attachment(
            entry=entry_id,
            kind=file_type.kind,
            original_name=safe_display_name(filename),
            stored_name=await storage.put(f"challenge-entry:{entry_id}", content, file_type),
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_at=clock.now(),
        )
        await attachment.save()
        await audit.record(
            "challenge.attachment.added",
            actor_id=user_id,
            subject=f"entry:{entry_id}",
            kind=file_type.kind,
            size=len(content),
        )
    return attachment.id


async def remove_attachment(user_id: int, entry_id: int, attachment_id: int) -> None:
    """Remove an attachment and its file in one transaction."""
    entry = await entry_for_member(user_id, entry_id)
    async with write_transaction():
        _check_not_frozen(await _edition(entry["edition"]))
        row = (
            await Attachment.select()
            .where((Attachment.id == attachment_id) & (Attachment.entry == entry_id))
            .first()
        )
        if row is None:
            raise NotFoundError("We could not find that page.")
        await Attachment.delete().where(Attachment.id == attachment_id)
        await storage.delete(row["stored_name"])
        await audit.record(
            "challenge.attachment.removed", actor_id=user_id, subject=f"entry:{entry_id}"
        )


async def attachments_of(entry_id: int) -> list[dict[str, Any]]:
    return await Attachment.select().where(Attachment.entry == entry_id).order_by(Attachment.id)


async def read_attachment(row: dict[str, Any]) -> storage.StoredContent:
    """The stored file; its id is ours (random hex), never the uploader's name."""
    return await storage.get(row["stored_name"])


async def screening_of(entry_id: int) -> list[dict[str, Any]]:
    """The gate decisions on an entry, shown to its organization once screening is done."""
    return (
        await ScreeningDecision.select(
            ScreeningDecision.gate, ScreeningDecision.passed, ScreeningDecision.reason
        )
        .where(ScreeningDecision.entry == entry_id)
        .order_by(ScreeningDecision.id)
    )


async def challenge_outcomes(entry_ids: list[int]) -> dict[int, bool]:
    """Entry id -> whether it won, for entries ranked in an approved selection (others are absent)."""
    if not entry_ids:
        return {}
    editions = await Entry.select(Entry.edition).where(Entry.id.is_in(entry_ids))
    rows = (
        await Selection.select(Selection.result)
        .output(load_json=True)
        .where(
            (Selection.status == "approved")
            & Selection.edition.is_in(sorted({e["edition"] for e in editions}) or [0])
        )
    )
    wanted = set(entry_ids)
    outcome: dict[int, bool] = {}
    for row in rows:
        ranked: dict[str, int] = row["result"].get("entry_ids", {})
        winners = {ranked[p] for p in row["result"].get("winners", [])}
        outcome.update({i: i in winners for i in ranked.values() if i in wanted})
    return outcome
