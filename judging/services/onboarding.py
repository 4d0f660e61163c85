"""Self-service onboarding for the challenge: a registered person registers an organization and becomes
its startup account, an invited colleague joins with one click, and officials revoke an organization
(audited, with a reason).

Granting the startup role ends the person's other sessions (S7); the page continues this one on a fresh
session id (``portal.auth.continue_after_role_change``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from judging.services import intake
from judging.tables import Entry, Organization, OrganizationInvitation, OrganizationMember
from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotFoundError
from portal.tables import User


@dataclass(frozen=True)
class OrganizationRow:
    """An organization as officials list it."""

    id: int
    name: str
    registration_number: str
    size: str
    founding_year: int
    created_at: dt.datetime
    members: int
    entries: int
    revoked_at: dt.datetime | None
    revoked_reason: str

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at else "open"


async def register_organization(
    user_id: int, name: str, registration_number: str, size: str, founding_year: str
) -> int:
    """Any signed-in person: register an organization (check digit verified) and become its startup account."""
    return await intake.create_organization(
        user_id, name, registration_number, size, founding_year, become_startup=True
    )


async def join_organization(user_id: int, email: str, invitation_id: int) -> None:
    """Accept an invitation to my address in one step: membership and the startup role together."""
    async with write_transaction():
        invitation = (
            await OrganizationInvitation.select()
            .where(
                (OrganizationInvitation.id == invitation_id)
                & (OrganizationInvitation.email == accounts.normalise_email(email))
                & OrganizationInvitation.accepted_at.is_null()
            )
            .first()
        )
        if invitation is None:
            raise NotFoundError("We could not find that invitation.")
        org = invitation["organization"]
        await intake.require_not_revoked(org)
        await OrganizationInvitation.update({OrganizationInvitation.accepted_at: clock.now()}).where(
            OrganizationInvitation.id == invitation_id
        )
        if not await intake.is_member(user_id, org):
            await OrganizationMember.insert(
                OrganizationMember(organization=org, user=user_id, role="member", joined_at=clock.now())
            )
        await audit.record("challenge.organization.joined", actor_id=user_id, subject=f"organization:{org}")
        await accounts.add_role_in_transaction(
            user_id, "startup", actor_id=user_id, reason=f"organization:{org}"
        )


async def organizations() -> list[OrganizationRow]:
    """Every organization with its member and entry counts, for officials."""
    rows = await Organization.select().order_by(Organization.id)
    members: dict[int, int] = {}
    for m in await OrganizationMember.select(OrganizationMember.organization):
        members[m["organization"]] = members.get(m["organization"], 0) + 1
    entries: dict[int, int] = {}
    for e in await Entry.select(Entry.organization):
        entries[e["organization"]] = entries.get(e["organization"], 0) + 1
    return [
        OrganizationRow(
            r["id"], r["name"], r["registration_number"], r["size"], r["founding_year"], r["created_at"],
            members.get(r["id"], 0), entries.get(r["id"], 0), r["revoked_at"], r["revoked_reason"],
        )
        for r in rows
    ]


async def revoke_organization(official_id: int, organization_id: int, reason: str) -> int:
    """Revoke an organization's registration: its drafts and submitted entries are withdrawn (each
    audited), members lose the startup role unless another organization keeps it, and are told.
    Returns the number of entries withdrawn."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for the revocation.", field="reason")
    if len(reason) > 1000:
        raise InvalidInput("Keep this under %(limit)s characters.", field="reason", limit=1000)
    async with write_transaction(lock_key="challenge-organization"):
        org = await Organization.select().where(Organization.id == organization_id).first()
        if org is None:
            raise NotFoundError("We could not find that organization.")
        if org["revoked_at"] is not None:
            raise ConflictError("This organization is already revoked.")
        await Organization.update(
            {Organization.revoked_at: clock.now(), Organization.revoked_reason: reason}
        ).where(Organization.id == organization_id)
        await audit.record(
            "challenge.organization.revoked",
            actor_id=official_id,
            subject=f"organization:{organization_id}",
            reason=reason,
        )
        withdrawn = await _withdraw_open_entries(official_id, organization_id)
        members = [
            m["user"]
            for m in await OrganizationMember.select(OrganizationMember.user).where(
                OrganizationMember.organization == organization_id
            )
        ]
        for user_id in members:
            if not await _keeps_startup_role(user_id):
                await accounts.remove_role_in_transaction(
                    user_id, "startup", actor_id=official_id, reason=f"organization:{organization_id} revoked"
                )
    for user_id in members:
        await accounts.notify_and_mail(
            user_id,
            "Your organization's registration was revoked",
            'The officials revoked the registration of %(name)s in the AI 50 Challenge. Reason: %(reason)s',
            "/challenge",
            name=org["name"],
            reason=reason,
        )
    return withdrawn


async def _withdraw_open_entries(official_id: int, organization_id: int) -> int:
    rows = await Entry.select(Entry.id).where(
        (Entry.organization == organization_id) & Entry.status.is_in(["draft", "submitted"])
    )
    for row in rows:
        await Entry.update({Entry.status: "withdrawn", Entry.withdrawn_at: clock.now()}).where(
            Entry.id == row["id"]
        )
        await audit.record(
            "challenge.entry.withdrawn",
            actor_id=official_id,
            subject=f"entry:{row['id']}",
            reason="organization revoked",
        )
    return len(rows)


async def _keeps_startup_role(user_id: int) -> bool:
    """A member of another organization that is not revoked keeps the startup role."""
    rows = await OrganizationMember.select(
        OrganizationMember.organization.revoked_at.as_alias("revoked_at")
    ).where(OrganizationMember.user == user_id)
    return any(r["revoked_at"] is None for r in rows)


async def user_row(user_id: int) -> dict[str, Any]:
    """The account row a page needs to continue the session after a role change."""
    return await User.select().where(User.id == user_id).first()
