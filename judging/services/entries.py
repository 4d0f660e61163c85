"""AI 50 Challenge entries, as their organizations draft, submit and withdraw them.

Entries freeze at the edition's intake deadline; a startup sees only its organizations' entries (S14).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import msgspec

from judging.categories import SECTORS
from judging.schemas import EntryRead
from judging.services.intake import (
    check_not_frozen,
    clean_text,
    edition_intake,
    is_member,
    require_not_revoked,
)
from judging.tables import Edition, Entry, OrganizationMember, ScreeningDecision, Selection
from portal import accounts, audit, clock
from portal.clock import format_datetime
from portal.db import write_transaction
from portal.districts import DISTRICTS_BY_CODE
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFoundError

TEXT_LIMITS = {
    "title": 200,
    "summary": 2000,
    "problem": 5000,
    "ai_approach": 5000,
    "data_protection": 5000,
    "target_users": 2000,
    "team": 3000,
}
REQUIRED_TO_SUBMIT = tuple(TEXT_LIMITS)  # every text field; the demo URL stays optional


@dataclass(frozen=True)
class EntrySummary:
    """A line of my organizations' entries."""

    id: int
    title: str
    status: str
    category: str
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    edition_name: str
    organization_name: str


@dataclass(frozen=True)
class ScreeningNote:
    """One gate's decision on an entry, as its organization sees it."""

    gate: str
    passed: bool
    reason: str


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


def _demo_url(value: str) -> str:
    url = (value or "").strip()
    if url:
        parsed = urlparse(url)
        # Stored only, never fetched by the server (no SSRF surface).
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 500:
            raise InvalidInput("Enter a web address starting with https://", field="demo_url")
    return url


def _validated(form: EntryForm, categories: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: clean_text(getattr(form, name), name, limit, required=(name == "title"))
        for name, limit in TEXT_LIMITS.items()
    }
    if form.category not in categories:
        raise InvalidInput("Choose one of the edition's categories.", field="category")
    if form.sector not in SECTORS:
        raise InvalidInput("Choose public, public-interest or private.", field="sector")
    districts = sorted(set(form.districts))
    if any(code not in DISTRICTS_BY_CODE for code in districts):
        raise InvalidInput("Choose districts from the list.", field="districts")
    values.update(
        category=form.category,
        sector=form.sector,
        districts=districts,
        demo_url=_demo_url(form.demo_url),
    )
    return values


def _entry_read(row: dict[str, Any]) -> EntryRead:
    ids = {"edition_id": row["edition"], "organization_id": row["organization"]}
    return msgspec.convert(row | ids, EntryRead)


async def entry_for_member(user_id: int, entry_id: int) -> EntryRead:
    """An entry the user's organization owns, or 404 (never reveal others' entries)."""
    entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
    if entry is None or not await is_member(user_id, entry["organization"]):
        raise NotFoundError("We could not find that page.")
    return _entry_read(entry)


async def create_entry(user_id: int, organization_id: int, edition_id: int, form: EntryForm) -> int:
    """Save a new draft."""
    if not await is_member(user_id, organization_id):
        raise InvalidInput("Choose one of your organizations.", field="organization_id")
    await require_not_revoked(organization_id)
    if not await Edition.exists().where(Edition.id == edition_id):
        raise InvalidInput("Choose an edition that is open for entries.", field="edition_id")
    edition = await edition_intake(edition_id)
    check_not_frozen(edition)
    values = _validated(form, edition.categories)
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
    values = _validated(form, (await edition_intake(entry.edition_id)).categories)
    async with write_transaction():
        check_not_frozen(await edition_intake(entry.edition_id))
        current = await Entry.select(Entry.status).where(Entry.id == entry_id).first()
        if current["status"] not in ("draft", "submitted", "withdrawn"):
            raise Conflict("This entry can no longer be edited.")
        await Entry.update(
            {**{getattr(Entry, k): v for k, v in values.items()}, Entry.updated_at: clock.now()}
        ).where(Entry.id == entry_id)
        await audit.record("challenge.entry.edited", actor_id=user_id, subject=f"entry:{entry_id}")


async def submit_entry(user_id: int, entry_id: int) -> None:
    """Submit before the deadline; a confirmation goes to the submitter."""
    await entry_for_member(user_id, entry_id)
    async with write_transaction():
        entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
        edition = await edition_intake(entry["edition"])
        if edition.intake == "not-open":
            raise NotAllowed("The intake has not opened yet.")
        check_not_frozen(edition)
        if entry["status"] not in ("draft", "withdrawn"):
            raise Conflict("This entry is already submitted.")
        await require_not_revoked(entry["organization"])
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
        edition=edition.name,
        deadline=format_datetime(edition.intake_closes_at),
    )


async def withdraw_entry(user_id: int, entry_id: int) -> None:
    entry = await entry_for_member(user_id, entry_id)
    async with write_transaction():
        check_not_frozen(await edition_intake(entry.edition_id))
        current = await Entry.select(Entry.status).where(Entry.id == entry_id).first()
        if current["status"] != "submitted":
            raise Conflict("Only a submitted entry can be withdrawn.")
        await Entry.update({Entry.status: "withdrawn", Entry.withdrawn_at: clock.now()}).where(
            Entry.id == entry_id
        )
        await audit.record(
            "challenge.entry.withdrawn", actor_id=user_id, subject=f"entry:{entry_id}"
        )


async def _my_organization_ids(user_id: int) -> list[int]:
    rows = await OrganizationMember.select(OrganizationMember.organization).where(
        OrganizationMember.user == user_id
    )
    return [r["organization"] for r in rows]


async def my_entries(user_id: int) -> list[EntrySummary]:
    """My organizations' entries, newest first."""
    org_ids = await _my_organization_ids(user_id)
    if not org_ids:
        return []
    rows = (
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
    return [EntrySummary(**row) for row in rows]


async def my_entry_details(user_id: int) -> list[EntryRead]:
    """My organizations' entries in full, newest first (never anyone else's)."""
    org_ids = await _my_organization_ids(user_id)
    if not org_ids:
        return []
    rows = (
        await Entry.select()
        .output(load_json=True)
        .where(Entry.organization.is_in(org_ids))
        .order_by(Entry.id, ascending=False)
    )
    return [_entry_read(row) for row in rows]


async def screening_of(entry_id: int) -> list[ScreeningNote]:
    """The gate decisions on an entry, shown to its organization once screening is done."""
    rows = (
        await ScreeningDecision.select(
            ScreeningDecision.gate, ScreeningDecision.passed, ScreeningDecision.reason
        )
        .where(ScreeningDecision.entry == entry_id)
        .order_by(ScreeningDecision.id)
    )
    return [ScreeningNote(**row) for row in rows]


async def challenge_outcomes(entry_ids: list[int]) -> dict[int, bool]:
    """Entry id -> whether it won, for entries ranked in an approved selection (others are absent)."""
    if not entry_ids:
        return {}
    editions_of = await Entry.select(Entry.edition).where(Entry.id.is_in(entry_ids))
    rows = (
        await Selection.select(Selection.result)
        .output(load_json=True)
        .where(
            (Selection.status == "approved")
            & Selection.edition.is_in(sorted({e["edition"] for e in editions_of}) or [0])
        )
    )
    wanted = set(entry_ids)
    outcome: dict[int, bool] = {}
    for row in rows:
        ranked: dict[str, int] = row["result"].get("entry_ids", {})
        winners = {ranked[p] for p in row["result"].get("winners", [])}
        outcome.update({i: i in winners for i in ranked.values() if i in wanted})
    return outcome
