"""PB proposals: intake by verified residents, browsing, and feasibility review by officials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal import accounts, audit, clock, storage
from portal.db import write_transaction
from portal.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFoundError
from portal.identity import CurrentUser
from proposals.tables import CATEGORIES, Proposal
from voting.services import cycles as voting

MAX_IMAGE_BYTES = 2 * 1024 * 1024
SORTS = {
    "newest": (Proposal.id, False),
    "oldest": (Proposal.id, True),
    "cost": (Proposal.estimated_cost, True),
    "-cost": (Proposal.estimated_cost, False),
    "title": (Proposal.title, True),
}
PUBLIC_STATUSES = ("submitted", "feasible", "infeasible", "merged")


class BadQuery(DomainError):
    """A sort or filter outside the allowlist (S20)."""

    status_code = 400


@dataclass
class ProposalInput:
    """What a resident enters; validated here, whatever the form or API sent."""

    pot_id: int
    title: str
    summary: str
    description: str
    category: str
    estimated_cost: int
    location: str = ""


def _clean(data: ProposalInput, cycle: dict[str, Any]) -> dict[str, Any]:
    title, summary, description = data.title.strip(), data.summary.strip(), data.description.strip()
    if not 5 <= len(title) <= 200:
        raise InvalidInput("The title must have 5 to 200 characters.", field="title")
    if not 10 <= len(summary) <= 500:
        raise InvalidInput("The summary must have 10 to 500 characters.", field="summary")
    if len(description) > 10_000:
        raise InvalidInput(
            "The description can have at most 10,000 characters.", field="description"
        )
    allowed = [c for c in cycle["categories"].split(",") if c] or list(CATEGORIES)
    if data.category not in allowed:
        raise InvalidInput("Choose a category from the list.", field="category")
    if data.estimated_cost <= 0:
        raise InvalidInput("Enter the estimated cost in whole won.", field="estimated_cost")
    if len(data.location.strip()) > 200:
        raise InvalidInput("The location can have at most 200 characters.", field="location")
    return {
        "title": title,
        "summary": summary,
        "description": description,
        "category": data.category,
        "estimated_cost": data.estimated_cost,
        "location": data.location.strip(),
    }


async def _intake_pot(user: CurrentUser, cycle_id: int, pot_id: int) -> tuple[dict, dict]:
    cycle = await voting.get_cycle(cycle_id)
    pot = await voting.get_pot(cycle_id, pot_id)
    if not user.residency_verified:
        raise NotAllowed(
            "Only verified residents can submit proposals. Verify your residency on your account page."
        )
    if pot["district_code"] is not None and pot["district_code"] != user.district_code:
        raise NotAllowed(
            "You can propose for the city-wide pot and for your own district.", field="pot_id"
        )
    if voting.phase_of(cycle) != "proposals":
        raise Conflict("Proposals can only be submitted or changed while intake is open.")
    return cycle, pot


async def submit(
    user: CurrentUser, cycle_id: int, data: ProposalInput, image: bytes | None = None
) -> int:
    """A verified resident submits a proposal during intake."""
    cycle, pot = await _intake_pot(user, cycle_id, data.pot_id)
    fields = _clean(data, cycle)
    if fields["estimated_cost"] > pot["amount"]:
        raise InvalidInput(
            "The estimated cost is more than the pot's whole budget.", field="estimated_cost"
        )
    image_type = checked_image(image) if image else None
    now = clock.now()
    async with write_transaction():
        rows = await Proposal.insert(
            Proposal(
                cycle=cycle_id,
                pot=data.pot_id,
                author=user.id,
                created_at=now,
                updated_at=now,
                **fields,
            )
        ).returning(Proposal.id)
        if image and image_type:
            # The image commits with its proposal, so every host can serve it at once.
            image_name = await storage.put(f"pb-proposal:{rows[0]['id']}", image, image_type)
            await Proposal.update({Proposal.image_name: image_name}).where(
                Proposal.id == rows[0]["id"]
            )
        await audit.record(
            "pb.proposal.submitted", actor_id=user.id, subject=f"pb-proposal:{rows[0]['id']}"
        )
    return rows[0]["id"]


async def get(proposal_id: int, viewer: CurrentUser | None = None) -> dict[str, Any]:
    """One proposal; withdrawn ones only for their author and officials."""
    row = await Proposal.select().where(Proposal.id == proposal_id).first()
    if row is None:
        raise NotFoundError("We could not find that proposal.")
    if row["status"] == "withdrawn" and not (
        viewer and (viewer.id == row["author"] or viewer.has_role("official", "admin"))
    ):
        raise NotFoundError("We could not find that proposal.")
    return row


async def _own_in_intake(user: CurrentUser, proposal_id: int) -> dict[str, Any]:
    row = await get(proposal_id, user)
    if row["author"] != user.id:
        raise NotAllowed("Only the author can change this proposal.")
    if row["status"] != "submitted":
        raise Conflict("This proposal can no longer be changed.")
    await _intake_pot(user, row["cycle"], row["pot"])
    return row


async def edit(
    user: CurrentUser, proposal_id: int, data: ProposalInput, image: bytes | None = None
) -> None:
    """The author edits their proposal during intake."""
    row = await _own_in_intake(user, proposal_id)
    cycle, pot = await _intake_pot(user, row["cycle"], data.pot_id)
    fields = _clean(data, cycle)
    if fields["estimated_cost"] > pot["amount"]:
        raise InvalidInput(
            "The estimated cost is more than the pot's whole budget.", field="estimated_cost"
        )
    image_type = checked_image(image) if image else None
    async with write_transaction(lock_key=f"pb-proposal:{proposal_id}"):
        if image and image_type:
            # A replaced image is deleted with the edit, not left behind.
            before = await Proposal.select(Proposal.image_name).where(Proposal.id == proposal_id).first()
            await storage.delete(before["image_name"] if before else None)
            fields["image_name"] = await storage.put(f"pb-proposal:{proposal_id}", image, image_type)
        await Proposal.update({**fields, "pot": data.pot_id, "updated_at": clock.now()}).where(
            Proposal.id == proposal_id
        )
        await audit.record(
            "pb.proposal.edited", actor_id=user.id, subject=f"pb-proposal:{proposal_id}"
        )


async def withdraw(user: CurrentUser, proposal_id: int) -> None:
    """The author withdraws their proposal during intake."""
    await _own_in_intake(user, proposal_id)
    async with write_transaction():
        await Proposal.update(
            {Proposal.status: "withdrawn", Proposal.updated_at: clock.now()}
        ).where(Proposal.id == proposal_id)
        await audit.record(
            "pb.proposal.withdrawn", actor_id=user.id, subject=f"pb-proposal:{proposal_id}"
        )


async def browse(
    cycle_id: int,
    *,
    q: str | None = None,
    pot_id: int | None = None,
    category: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Search and filter a cycle's proposals; sort and filters come from allowlists (S20)."""
    if sort not in (None, "", *SORTS):
        raise BadQuery("Sort by one of: %(options)s.", field="sort", options=", ".join(SORTS))
    if category not in (None, "") and category not in CATEGORIES:
        raise BadQuery("Filter by one of the categories.", field="category")
    if status not in (None, "") and status not in PUBLIC_STATUSES:
        raise BadQuery(
            "Filter by one of: %(options)s.", field="status", options=", ".join(PUBLIC_STATUSES)
        )
    column, ascending = SORTS[sort or "newest"]
    where = (Proposal.cycle == cycle_id) & (Proposal.status != "withdrawn")
    if pot_id:
        where &= Proposal.pot == pot_id
    if category:
        where &= Proposal.category == category
    if status:
        where &= Proposal.status == status
    if q and q.strip():
        needle = f"%{q.strip()[:100]}%"
        where &= Proposal.title.ilike(needle) | Proposal.summary.ilike(needle)
    return await Proposal.select().where(where).order_by(column, ascending=ascending).limit(limit)


async def _review_window(row: dict[str, Any]) -> dict[str, Any]:
    cycle = await voting.get_cycle(row["cycle"])
    if cycle["rules_frozen_at"] is not None or voting.phase_of(cycle) not in (
        "proposals",
        "review",
    ):
        raise Conflict("The ballot is fixed once voting opens; reviews can no longer change.")
    return cycle


async def review(
    official_id: int, proposal_id: int, feasible: bool, reason: str, revised_cost: int | None
) -> None:
    """Mark a proposal feasible (it goes on the ballot) or not, with a reason; the author is told."""
    row = await Proposal.select().where(Proposal.id == proposal_id).first()
    if row is None:
        raise NotFoundError("We could not find that proposal.")
    if row["status"] in ("withdrawn", "merged"):
        raise Conflict("This proposal was withdrawn or merged.")
    await _review_window(row)
    reason = reason.strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("Give a reason of 5 to 2000 characters.", field="reason")
    if revised_cost is not None and revised_cost <= 0:
        raise InvalidInput("Enter the revised cost in whole won.", field="revised_cost")
    if revised_cost is not None:
        pot = await voting.get_pot(row["cycle"], row["pot"])
        if revised_cost > pot["amount"]:
            raise InvalidInput(
                "The revised cost is more than the pot's whole budget.", field="revised_cost"
            )
    status = "feasible" if feasible else "infeasible"
    async with write_transaction():
        await Proposal.update(
            {
                Proposal.status: status,
                Proposal.review_reason: reason,
                Proposal.revised_cost: revised_cost,
                Proposal.reviewed_by: official_id,
                Proposal.reviewed_at: clock.now(),
            }
        ).where(Proposal.id == proposal_id)
        await audit.record(
            "pb.proposal.reviewed",
            actor_id=official_id,
            subject=f"pb-proposal:{proposal_id}",
            status=status,
            revised_cost=revised_cost,
        )
        if row["author"]:
            message = (
                'Your proposal "%(title)s" was found feasible and will be on the ballot. Reason: %(reason)s'
                if feasible
                else 'Your proposal "%(title)s" was found not feasible. Reason: %(reason)s'
            )
            await accounts.notify_and_mail(
                row["author"],
                "Decision on your proposal",
                message,
                f"/pb/proposals/{proposal_id}",
                title=row["title"],
                reason=reason,
            )


async def merge(official_id: int, proposal_id: int, into_id: int, reason: str) -> None:
    """Merge a duplicate into another proposal of the same pot; the author is told."""
    row = await Proposal.select().where(Proposal.id == proposal_id).first()
    target = await Proposal.select().where(Proposal.id == into_id).first()
    if row is None or target is None:
        raise NotFoundError("We could not find that proposal.")
    if (
        proposal_id == into_id
        or target["pot"] != row["pot"]
        or target["status"] in ("withdrawn", "merged")
    ):
        raise InvalidInput("Merge into another open proposal of the same pot.", field="merged_into")
    await _review_window(row)
    reason = reason.strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("Give a reason of 5 to 2000 characters.", field="reason")
    async with write_transaction():
        await Proposal.update(
            {
                Proposal.status: "merged",
                Proposal.merged_into: into_id,
                Proposal.review_reason: reason,
                Proposal.reviewed_by: official_id,
                Proposal.reviewed_at: clock.now(),
            }
        ).where(Proposal.id == proposal_id)
        await audit.record(
            "pb.proposal.merged",
            actor_id=official_id,
            subject=f"pb-proposal:{proposal_id}",
            into=into_id,
        )
        if row["author"]:
            await accounts.notify_and_mail(
                row["author"],
                "Decision on your proposal",
                'Your proposal "%(title)s" was merged with a similar proposal, "%(other)s". Reason: %(reason)s',
                f"/pb/proposals/{into_id}",
                title=row["title"],
                other=target["title"],
                reason=reason,
            )


# ---------------------------------------------------------------- images


def checked_image(data: bytes) -> storage.FileType:
    """PNG or JPEG by magic bytes, whatever the file was called, at most 2 MB."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(
            "The file is too large (at most %(mb)s MB).", field="image", mb=MAX_IMAGE_BYTES // (1024 * 1024)
        )
    file_type = storage.detect_type(data)
    if file_type is None or file_type.kind not in ("png", "jpeg"):
        raise InvalidInput("The image must be a PNG or JPEG file.", field="image")
    return file_type


async def read_image(image_name: str | None) -> storage.StoredContent:
    """A proposal's image by its file id (ids are ours: random hex plus the type's extension)."""
    return await storage.get(image_name or "")
