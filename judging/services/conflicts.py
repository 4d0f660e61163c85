"""Judges' profiles and conflicts of interest: declared by the judge or detected from memberships,
email domains and holdings, computed on every read so the register is never stale."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from judging.categories import CATEGORIES
from judging.services.editions import entries_of
from judging.services.intake import normalise_registration_number
from judging.tables import (
    CONFLICT_TYPES,
    Assignment,
    Conflict,
    Entry,
    JudgeProfile,
    Organization,
    OrganizationMember,
    Review,
)
from portal import audit, clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError
from portal.tables import User

PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "kakao.com",
        "nate.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "example.kr",
        "example.com",
    }
)


async def all_judges() -> list[dict[str, Any]]:
    rows = await User.select(User.id, User.email, User.display_name, User.roles).order_by(User.id)
    return [r for r in rows if "judge" in r["roles"].split(",")]


async def judge_profile(user_id: int) -> dict[str, Any]:
    row = (
        await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user == user_id)
        .first()
    )
    return row or {"user": user_id, "affiliations": [], "expertise": [], "holdings": []}


def _lines(text: str, limit: int, length: int) -> list[str]:
    items = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(items) > limit or any(len(i) > length for i in items):
        raise InvalidInput(
            "Up to %(n)s lines of %(length)s characters.",
            field="affiliations",
            n=limit,
            length=length,
        )
    return items


async def save_judge_profile(
    user_id: int, affiliations: str, expertise: list[str], holdings: str
) -> None:
    """Affiliations (one a line), expertise categories, holdings as registration numbers (one a line)."""
    clean_affiliations = _lines(affiliations, 20, 200)
    if any(c not in CATEGORIES for c in expertise):
        raise InvalidInput("Choose expertise from the categories.", field="expertise")
    clean_holdings = []
    for line in _lines(holdings, 50, 20):
        try:
            clean_holdings.append(normalise_registration_number(line))
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="holdings", **exc.params) from None
    async with write_transaction():
        old = await judge_profile(user_id)
        values = {
            "affiliations": clean_affiliations,
            "expertise": sorted(set(expertise)),
            "holdings": sorted(set(clean_holdings)),
        }
        if "id" in old:
            await JudgeProfile.update(
                {
                    JudgeProfile.affiliations: values["affiliations"],
                    JudgeProfile.expertise: values["expertise"],
                    JudgeProfile.holdings: values["holdings"],
                    JudgeProfile.updated_at: clock.now(),
                }
            ).where(JudgeProfile.user == user_id)
        else:
            await JudgeProfile.insert(JudgeProfile(user=user_id, updated_at=clock.now(), **values))
        await audit.record(
            "challenge.judge.profile",
            actor_id=user_id,
            subject=f"user:{user_id}",
            old={k: old[k] for k in values},
            new=values,
        )
        await _drop_conflicted_work(user_id)


async def declare_conflict(user_id: int, organization_id: int, kind: str, note: str) -> None:
    """A judge declares a conflict with an organization; any work on its entries is withdrawn from them."""
    if kind not in CONFLICT_TYPES:
        raise InvalidInput("Choose a conflict type.", field="kind")
    note = (note or "").strip()
    if len(note) > 500:
        raise InvalidInput("Keep this under %(limit)s characters.", field="note", limit=500)
    if not await Organization.exists().where(Organization.id == organization_id):
        raise NotFoundError("We could not find that organization.", field="organization")
    async with write_transaction():
        if not await Conflict.exists().where(
            (Conflict.judge == user_id)
            & (Conflict.organization == organization_id)
            & (Conflict.kind == kind)
        ):
            await Conflict.insert(
                Conflict(
                    judge=user_id,
                    organization=organization_id,
                    kind=kind,
                    note=note,
                    declared_at=clock.now(),
                )
            )
        await audit.record(
            "challenge.conflict.declared",
            actor_id=user_id,
            subject=f"organization:{organization_id}",
            kind=kind,
        )
        await _drop_conflicted_work(user_id)


async def _drop_conflicted_work(judge_id: int) -> None:
    """Remove assignments and reviews that a (new) conflict forbids; call inside a transaction.

    Work in decided editions stays: what two officials approved never changes. A submitted review
    removed here leaves its entry short of reviewers: ``coverage_gaps`` flags it on the round and
    selection pages with a one-click reassignment.
    """
    blocked = {
        entry_id
        for j, entry_id, _kind in await conflict_register(judge_ids=[judge_id])
        if j == judge_id
    }
    if not blocked:
        return
    open_work = await Assignment.select(
        Assignment.id,
        Assignment.entry,
        Assignment.round,
        Assignment.round.edition.state.as_alias("edition_state"),
    ).where((Assignment.judge == judge_id) & Assignment.entry.is_in(sorted(blocked)))
    open_work = [a for a in open_work if a["edition_state"] != "decided"]
    if open_work:
        rounds = sorted({a["round"] for a in open_work})
        entries = sorted({a["entry"] for a in open_work})
        reviewed = await Review.select(Review.round, Review.entry).where(
            (Review.judge == judge_id) & Review.entry.is_in(entries) & Review.round.is_in(rounds)
        )
        await Assignment.delete().where(Assignment.id.is_in([a["id"] for a in open_work]))
        await Review.delete().where(
            (Review.judge == judge_id) & Review.entry.is_in(entries) & Review.round.is_in(rounds)
        )
        await audit.record(
            "challenge.conflict.work_removed",
            subject=f"user:{judge_id}",
            entries=entries,
            reviews_removed=sorted([r["round"], r["entry"]] for r in reviewed),
        )


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


async def conflict_register(
    edition_id: int | None = None, judge_ids: list[int] | None = None
) -> list[tuple[int, int, str]]:
    """Every (judge, entry, kind) conflict, declared or detected, computed now (never stale).

    Detected: the judge is a member of the entry's organization, shares a non-webmail email domain
    with one of its members, or declared its registration number among their holdings.
    """
    judges = await all_judges()
    if judge_ids is not None:
        judges = [j for j in judges if j["id"] in judge_ids]
    if not judges:
        return []
    entry_query = Entry.select(
        Entry.id, Entry.organization, Entry.organization.registration_number.as_alias("brn")
    )
    if edition_id is not None:
        entry_query = entry_query.where(Entry.edition == edition_id)
    entries = await entry_query
    if not entries:
        return []
    org_ids = sorted({e["organization"] for e in entries})
    members = await OrganizationMember.select(
        OrganizationMember.organization,
        OrganizationMember.user,
        OrganizationMember.user.email.as_alias("email"),
    ).where(OrganizationMember.organization.is_in(org_ids))
    member_ids: dict[int, set[int]] = defaultdict(set)
    member_domains: dict[int, set[str]] = defaultdict(set)
    for m in members:
        member_ids[m["organization"]].add(m["user"])
        member_domains[m["organization"]].add(email_domain(m["email"]))
    judge_list = [j["id"] for j in judges]
    declared = await Conflict.select().where(Conflict.judge.is_in(judge_list))
    declared_by: dict[tuple[int, int], str] = {}
    for c in declared:
        declared_by.setdefault((c["judge"], c["organization"]), c["kind"])
    profiles = {
        p["user"]: p
        for p in await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user.is_in(judge_list))
    }
    found: list[tuple[int, int, str]] = []
    for judge in judges:
        domain = email_domain(judge["email"])
        holdings = set((profiles.get(judge["id"]) or {}).get("holdings") or [])
        for entry in entries:
            org = entry["organization"]
            kind = declared_by.get((judge["id"], org))
            if kind is None:
                kind = _detected_kind(
                    judge["id"],
                    domain,
                    holdings,
                    entry["brn"],
                    member_ids[org],
                    member_domains[org],
                )
            if kind is not None:
                found.append((judge["id"], entry["id"], kind))
    return found


def _detected_kind(
    judge_id: int,
    domain: str,
    holdings: set[str],
    registration_number: str,
    members: set[int],
    member_domains: set[str],
) -> str | None:
    """The conflict a judge has with an organization by membership, email domain or holding, if any."""
    if judge_id in members:
        return "same-organization"
    if domain not in PUBLIC_EMAIL_DOMAINS and domain in member_domains:
        return "same-email-domain"
    if registration_number in holdings:
        return "holding"
    return None


async def is_conflicted(judge_id: int, entry_id: int) -> bool:
    entry = await Entry.select(Entry.edition).where(Entry.id == entry_id).first()
    if entry is None:
        return False
    return any(e == entry_id for _j, e, _k in await conflict_register(entry["edition"], [judge_id]))


async def organizations_for_declaration() -> list[dict[str, Any]]:
    """Organizations a judge may declare a conflict with (names only: no entries are revealed)."""
    return await Organization.select(
        Organization.id, Organization.name, Organization.registration_number
    ).order_by(Organization.name)


async def my_conflicts(user_id: int) -> list[dict[str, Any]]:
    return await Conflict.select(
        Conflict.id,
        Conflict.kind,
        Conflict.note,
        Conflict.declared_at,
        Conflict.organization.name.as_alias("organization_name"),
    ).where(Conflict.judge == user_id)


@dataclass(frozen=True)
class RegisterRow:
    """One line of an edition's conflicts register, for officials."""

    judge: str
    entry: str
    entry_id: int
    organization: str
    kind: str
    source: str  # declared by the judge, or detected


async def register_rows(edition_id: int) -> list[RegisterRow]:
    """The conflicts register of an edition with judges' emails and entries' titles."""
    judges = {j["id"]: j for j in await all_judges()}
    entries = {e["id"]: e for e in await entries_of(edition_id)}
    return [
        RegisterRow(
            judge=judges[j]["email"],
            entry=entries[e]["title"],
            entry_id=e,
            organization=entries[e]["organization_name"],
            kind=kind,
            source="declared" if kind in CONFLICT_TYPES else "detected",
        )
        for j, e, kind in await conflict_register(edition_id)
    ]
