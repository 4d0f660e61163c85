"""Intake: verified residents submit, edit and withdraw their proposals while a cycle takes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal import audit, clock, storage
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.identity import CurrentUser
from proposals.services.browsing import ProposalRecord, get
from proposals.tables import Proposal
from voting.categories import CATEGORIES
from voting.services import cycles as voting

MAX_IMAGE_BYTES = 2 * 1024 * 1024


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


async def _checked_fields(user: CurrentUser, cycle_id: int, data: ProposalInput) -> dict[str, Any]:
    """The proposal's columns, once the pot takes proposals from this user and the input is valid."""
    cycle, pot = await _intake_pot(user, cycle_id, data.pot_id)
    fields = _clean(data, cycle)
    if fields["estimated_cost"] > pot["amount"]:
        raise InvalidInput(
            "The estimated cost is more than the pot's whole budget.", field="estimated_cost"
        )
    return fields


async def submit(
    user: CurrentUser, cycle_id: int, data: ProposalInput, image: bytes | None = None
) -> int:
    """A verified resident submits a proposal during intake."""
    fields = await _checked_fields(user, cycle_id, data)
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


async def _own_in_intake(user: CurrentUser, proposal_id: int) -> ProposalRecord:
    found = await get(proposal_id, user)
    if found.author != user.id:
        raise NotAllowed("Only the author can change this proposal.")
    if found.status != "submitted":
        raise Conflict("This proposal can no longer be changed.")
    await _intake_pot(user, found.cycle, found.pot)
    return found


async def edit(
    user: CurrentUser, proposal_id: int, data: ProposalInput, image: bytes | None = None
) -> None:
    """The author edits their proposal during intake."""
    found = await _own_in_intake(user, proposal_id)
    fields = await _checked_fields(user, found.cycle, data)
    image_type = checked_image(image) if image else None
    async with write_transaction(lock_key=f"pb-proposal:{proposal_id}"):
        if image and image_type:
            # A replaced image is deleted with the edit, not left behind.
            before = (
                await Proposal.select(Proposal.image_name).where(Proposal.id == proposal_id).first()
            )
            await storage.delete(before["image_name"] if before else None)
            fields["image_name"] = await storage.put(
                f"pb-proposal:{proposal_id}", image, image_type
            )
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


def checked_image(data: bytes) -> storage.FileType:
    """PNG or JPEG by magic bytes, whatever the file was called, at most 2 MB."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(
            "The file is too large (at most %(mb)s MB).",
            field="image",
            mb=MAX_IMAGE_BYTES // (1024 * 1024),
        )
    file_type = storage.detect_type(data)
    if file_type is None or file_type.kind not in ("png", "jpeg"):
        raise InvalidInput("The image must be a PNG or JPEG file.", field="image")
    return file_type


async def read_image(image_name: str | None) -> storage.StoredContent:
    """A proposal's image by its file id (ids are ours: random hex plus the type's extension)."""
    return await storage.get(image_name or "")
