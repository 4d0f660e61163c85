"""Photos of a funded project's works: PNG or JPEG by their bytes, with alternative text (audited)."""

from __future__ import annotations

from portal import clock, storage
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError
from voting.services.delivery import delivery_row, funded_project, record_change
from voting.tables import DeliveryPhoto

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 20


async def photo_content(cycle_id: int, project_id: int, photo_id: int) -> storage.StoredContent:
    """A photo of a funded project (404 for any other id)."""
    await funded_project(cycle_id, project_id)
    row = (
        await DeliveryPhoto.select(DeliveryPhoto.file_id)
        .where((DeliveryPhoto.id == photo_id) & (DeliveryPhoto.delivery.project == project_id))
        .first()
    )
    if row is None:
        raise NotFoundError("We could not find that photo.")
    return await storage.get(row["file_id"])


def checked_photo(content: bytes, alt_text: str) -> tuple[storage.FileType, str]:
    """PNG or JPEG by magic bytes, at most 5 MB, with alternative text."""
    alt = " ".join(alt_text.split())
    if not content:
        raise InvalidInput("Choose a PNG or JPEG photo.", field="photo")
    if len(content) > MAX_PHOTO_BYTES:
        raise InvalidInput(
            "The file is too large (at most %(mb)s MB).", field="photo", mb=MAX_PHOTO_BYTES // 2**20
        )
    file_type = storage.detect_type(content)
    if file_type is None or file_type.kind not in ("png", "jpeg"):
        raise InvalidInput("The image must be a PNG or JPEG file.", field="photo")
    if not alt:
        raise InvalidInput("Describe the photo for people who cannot see it.", field="alt_text")
    if len(alt) > 300:
        raise InvalidInput("Keep it under %(n)s characters.", field="alt_text", n=300)
    return file_type, alt


async def add_photo(
    official_id: int, cycle_id: int, project_id: int, content: bytes, alt_text: str
) -> int:
    """An official adds a photo of the works with its alternative text; returns its id."""
    project = await funded_project(cycle_id, project_id)
    file_type, alt = checked_photo(content, alt_text)
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        row = await delivery_row(project)
        if await DeliveryPhoto.count().where(DeliveryPhoto.delivery == row["id"]) >= MAX_PHOTOS:
            raise InvalidInput(
                "A project shows at most %(n)s photos: remove one first.",
                field="photo",
                n=MAX_PHOTOS,
            )
        file_id = await storage.put(f"pb-delivery:{row['id']}", content, file_type)
        inserted = await DeliveryPhoto.insert(
            DeliveryPhoto(
                delivery=row["id"],
                file_id=file_id,
                alt_text=alt,
                added_by=official_id,
                added_at=clock.now(),
            )
        )
        await record_change(
            "pb.delivery.photo.added",
            project,
            official_id,
            "official",
            photo=inserted[0]["id"],
            alt_text=alt,
        )
    return inserted[0]["id"]


async def remove_photo(official_id: int, cycle_id: int, project_id: int, photo_id: int) -> None:
    """An official removes a photo; its file is deleted in the same transaction."""
    project = await funded_project(cycle_id, project_id)
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        row = (
            await DeliveryPhoto.select()
            .where((DeliveryPhoto.id == photo_id) & (DeliveryPhoto.delivery.project == project_id))
            .first()
        )
        if row is None:
            raise NotFoundError("We could not find that photo.")
        await DeliveryPhoto.delete().where(DeliveryPhoto.id == photo_id)
        await storage.delete(row["file_id"])
        await record_change(
            "pb.delivery.photo.removed",
            project,
            official_id,
            "official",
            photo=photo_id,
            alt_text=row["alt_text"],
        )
