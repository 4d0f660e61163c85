"""Intake: verified residents submit, edit and withdraw their proposals while a cycle takes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from portal import audit, clock, images, storage
from portal.db import write_transaction
from portal.districts import DONGS, DONGS_BY_KEY
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
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
    dong: str = ""  # "<district code>:<Korean name>", or a dong's name in the pot's district
    image_alt: str = ""


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


def _clean_dong(typed: str, pot: dict[str, Any]) -> str:
    """The neighbourhood's key from the district's list; a name alone is looked up in the pot's district."""
    typed = typed.strip()
    if not typed:
        return ""
    district = pot["district_code"]
    found = DONGS_BY_KEY.get(typed)
    if found is None and district:
        found = next((d for d in DONGS[district] if typed in (d.name_ko, d.name_en)), None)
    if found is None:
        raise InvalidInput(
            "We do not know the neighbourhood (dong) “%(typed)s”. Choose one from the district's list.",
            field="dong",
            typed="".join(c for c in typed[:60] if c.isprintable()),
        )
    if district and found.district_code != district:
        raise InvalidInput(
            "That neighbourhood (dong) is not in the pot's district. Choose one from its list.",
            field="dong",
        )
    return found.key


def _clean_alt(typed: str, has_new_image: bool) -> str:
    alt = " ".join(typed.split())
    if has_new_image and len(alt) < 3:
        raise InvalidInput(
            "Describe what the image shows in a few words (at least 3 characters), for people who cannot see it.",
            field="image_alt",
        )
    if len(alt) > 300:
        raise InvalidInput("The image description can have at most 300 characters.", field="image_alt")
    return alt


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
    fields["dong"] = _clean_dong(data.dong, pot)
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
    prepared = await prepared_image(image)
    fields["image_alt"] = _clean_alt(data.image_alt, prepared is not None)
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
        if prepared:
            # The image commits with its proposal, so every host can serve it at once.
            stored = await _store_image(rows[0]["id"], prepared)
            await Proposal.update(stored).where(Proposal.id == rows[0]["id"])
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
    prepared = await prepared_image(image)
    fields["image_alt"] = _clean_alt(data.image_alt, prepared is not None)
    async with write_transaction(lock_key=f"pb-proposal:{proposal_id}"):
        if prepared:
            # A replaced image (and its thumbnail) is deleted with the edit, not left behind.
            before = await (
                Proposal.select(Proposal.image_name, Proposal.thumb_name)
                .where(Proposal.id == proposal_id)
                .first()
            )
            await storage.delete(before["image_name"] if before else None)
            await storage.delete(before["thumb_name"] if before else None)
            fields.update(await _store_image(proposal_id, prepared))
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


async def prepared_image(image: bytes | None) -> images.PreparedImage | None:
    """The upload checked (type, size) and re-encoded upright without metadata, off the event loop."""
    if not image:
        return None
    checked_image(image)
    return await anyio.to_thread.run_sync(images.prepare, image)


async def _store_image(proposal_id: int, prepared: images.PreparedImage) -> dict[str, str]:
    """Store the picture and its thumbnail (inside the proposal's write transaction)."""
    owner = f"pb-proposal:{proposal_id}"
    return {
        "image_name": await storage.put(owner, prepared.content, prepared.file_type),
        "thumb_name": await storage.put(owner, prepared.thumbnail, prepared.thumbnail_type),
    }


async def thumbnail_of(found: ProposalRecord) -> storage.StoredContent:
    """The proposal's thumbnail; for an image uploaded before thumbnails existed, made once and stored.

    Later requests read the stored one: a thumbnail is never made per request. NotFoundError when the
    proposal has no image, or an old image Pillow cannot read.
    """
    if found.thumb_name or not found.image_name:
        return await storage.get(found.thumb_name or "")
    original = await storage.get(found.image_name)
    try:
        prepared = await anyio.to_thread.run_sync(images.prepare, original.content)
    except InvalidInput as exc:
        raise NotFoundError("We could not find that file.") from exc
    async with write_transaction(lock_key=f"pb-proposal:{found.id}"):
        row = await Proposal.select(Proposal.thumb_name).where(Proposal.id == found.id).first()
        thumb_name = row["thumb_name"] if row else None
        if not thumb_name:  # not made meanwhile by another request
            thumb_name = await storage.put(
                f"pb-proposal:{found.id}", prepared.thumbnail, prepared.thumbnail_type
            )
            await Proposal.update({Proposal.thumb_name: thumb_name}).where(Proposal.id == found.id)
    return await storage.get(thumb_name)


async def read_image(image_name: str | None) -> storage.StoredContent:
    """A proposal's image by its file id (ids are ours: random hex plus the type's extension)."""
    return await storage.get(image_name or "")
