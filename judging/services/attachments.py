"""An entry's attachments (S18): PDF decks and PNG or JPEG images, typed by their content.

The bytes are in ``portal.storage`` (the one upload store and table of file types); the row and the
file are written in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from typing import TypedDict

from judging.services.entries import entry_for_member
from judging.services.intake import check_not_frozen, edition_intake
from judging.tables import Attachment
from portal import audit, clock, storage
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotFoundError

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 10
UPLOAD_BODY_LIMIT = MAX_PDF_BYTES + 64 * 1024  # the multipart envelope around a full-size deck
ACCEPTED_KINDS = ("pdf", "png", "jpeg")


class AttachmentRow(TypedDict):
    """A ``challenge_attachment`` row; officials' and judges' pages read the same rows."""

    id: int
    entry: int
    kind: str
    original_name: str
    stored_name: str
    size: int
    sha256: str
    uploaded_at: dt.datetime


def sniff_type(content: bytes) -> storage.FileType:
    """The file type from its first bytes (S18); anything but PDF, PNG or JPEG is refused."""
    file_type = storage.detect_type(content)
    if file_type is None or file_type.kind not in ACCEPTED_KINDS:
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
        check_not_frozen(await edition_intake(entry.edition_id))
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
        check_not_frozen(await edition_intake(entry.edition_id))
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


async def attachments_of(entry_id: int) -> list[AttachmentRow]:
    """An entry's attachments in upload order."""
    return await Attachment.select().where(Attachment.entry == entry_id).order_by(Attachment.id)


async def member_attachment(user_id: int, entry_id: int, attachment_id: int) -> AttachmentRow:
    """One of my organization's entry's attachments, or 404."""
    await entry_for_member(user_id, entry_id)
    row = (
        await Attachment.select()
        .where((Attachment.id == attachment_id) & (Attachment.entry == entry_id))
        .first()
    )
    if row is None:
        raise InvalidInput("We could not find that file.", field="file", status_code=404)
    return row


async def read_attachment(row: AttachmentRow) -> storage.StoredContent:
    """The stored file; its id is ours (random hex), never the uploader's name."""
    return await storage.get(row["stored_name"])
