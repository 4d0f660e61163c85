"""Uploaded files, kept in the database with the row that owns them (docs/storage.md).

One narrow interface for every upload: ``put``, ``get``, ``delete``, plus the one table of
file types the portal accepts, detected from the content (never from the uploader's file
name or declared type). The bytes live in ``portal_file`` (a bytes column on both engines)
and are written in the caller's write transaction, so a file commits (and is fsynced) with
the row that owns it before the upload is acknowledged, every app host sees it, and a
backup of the database holds it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from piccolo.columns import Column

from portal import clock
from portal.errors import NotFoundError
from portal.tables import StoredFile

log = logging.getLogger("hangang.storage")


@dataclass(frozen=True)
class FileType:
    """A file type the portal accepts, recognised by its first bytes."""

    kind: str
    media_type: str
    extension: str
    magic: bytes


# The only place that maps content to a type (S18): add a type here, nowhere else.
FILE_TYPES = (
    FileType("pdf", "application/pdf", "pdf", b"%PDF-"),
    FileType("png", "image/png", "png", b"\x89PNG\r\n\x1a\n"),
    FileType("jpeg", "image/jpeg", "jpg", b"\xff\xd8\xff"),
)
TYPES = {t.kind: t for t in FILE_TYPES}
FILE_ID = re.compile(r"[0-9a-f]{32}\.(pdf|png|jpg)")


def detect_type(content: bytes) -> FileType | None:
    """The file's type from its first bytes, or None when it is none we accept."""
    return next((t for t in FILE_TYPES if content.startswith(t.magic)), None)


@dataclass(frozen=True)
class StoredContent:
    """A stored file as read back: its bytes and the type detected when it was stored."""

    file_id: str
    file_type: FileType
    content: bytes

    def download_name(self, stem: str) -> str:
        """``stem`` plus the extension of the detected type (never the uploader's name)."""
        return f"{stem}.{self.file_type.extension}"


class FileStore(Protocol):
    """What a storage backend implements; the database is the only one today."""

    async def put(self, file_id: str, owner: str, content: bytes, file_type: FileType) -> None: ...

    async def get(self, file_id: str) -> StoredContent | None: ...

    async def delete(self, file_id: str) -> None: ...


class DatabaseStore:
    """Files as rows of ``portal_file``, in the caller's transaction."""

    async def put(self, file_id: str, owner: str, content: bytes, file_type: FileType) -> None:
        await StoredFile.insert(
            StoredFile(
                file_id=file_id,
                owner=owner[:100],
                kind=file_type.kind,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
                created_at=clock.now(),
            )
        )

    async def get(self, file_id: str) -> StoredContent | None:
        row = (
            await StoredFile.select(StoredFile.kind, StoredFile.content)
            .where(StoredFile.file_id == file_id)
            .first()
        )
        if row is None:
            return None
        return StoredContent(file_id, TYPES[row["kind"]], bytes(row["content"]))

    async def delete(self, file_id: str) -> None:
        await StoredFile.delete().where(StoredFile.file_id == file_id)


store: FileStore = DatabaseStore()


async def put(owner: str, content: bytes, file_type: FileType) -> str:
    """Store ``content`` inside the caller's write transaction; returns the new file's id.

    Args:
        owner: who the file belongs to, for operators (e.g. ``"challenge-entry:12"``).
        content: the bytes, already checked by the caller (type, size).
        file_type: from ``detect_type(content)``.
    """
    from portal.piccolo_conf import DB  # here: piccolo_conf imports the domains, which import us

    if not DB.transaction_exists():
        # Outside a transaction a crash could keep the file without its row, or the row without it.
        raise RuntimeError("storage.put must run inside the owning row's write transaction")
    file_id = f"{secrets.token_hex(16)}.{file_type.extension}"
    await store.put(file_id, owner, content, file_type)
    return file_id


async def get(file_id: str) -> StoredContent:
    """A stored file by id; NotFoundError for an unknown or malformed id."""
    found = await store.get(file_id) if FILE_ID.fullmatch(file_id or "") else None
    if found is None:
        raise NotFoundError("We could not find that file.")
    return found


async def delete(file_id: str | None) -> None:
    """Remove a file, in the caller's transaction (a replaced or removed upload goes with its row)."""
    if file_id:
        await store.delete(file_id)


# ---------------------------------------------------------------- files of older versions under var/

# Columns that hold file ids, declared by the domains that own them (``references(Table.column)``).
_REFERENCES: list[Column] = []


def references(column: Column) -> Column:
    """Declare that ``column`` holds file ids of this store (used to move old var/ uploads in)."""
    # By identity: ``column in list`` compares with Column.__eq__, which builds a (truthy) WHERE clause,
    # so every column after the first was skipped.
    if not any(known is column for known in _REFERENCES):
        _REFERENCES.append(column)
    return column


async def _referenced_ids() -> dict[str, str]:
    """File id -> owner label, for every declared column."""
    owners: dict[str, str] = {}
    for column in _REFERENCES:
        table = column._meta.table
        rows: list[dict[str, Any]] = await table.select(table._meta.primary_key, column).where(
            column.is_not_null()
        )
        for row in rows:
            value = row[column._meta.name]
            if value:
                owners[value] = f"{table._meta.tablename}:{row[table._meta.primary_key._meta.name]}"
    return owners


async def adopt_local_uploads(folder: Path) -> tuple[int, int]:
    """Move the files that older versions kept under ``var/uploads`` into the store.

    Idempotent (each host runs it as part of ``hangang migrate``): a referenced file is
    inserted under its old name, which the owning row already holds, then deleted from the
    folder after the commit. Files no row refers to (replaced images) are left and counted.
    Returns (moved, unreferenced).
    """
    from portal.db import write_transaction

    if not folder.is_dir():
        return 0, 0
    owners = await _referenced_ids()
    moved = unreferenced = 0
    for path in sorted(folder.iterdir()):
        if not FILE_ID.fullmatch(path.name):
            continue
        if path.name not in owners:
            unreferenced += 1
            continue
        content = path.read_bytes()
        file_type = detect_type(content)
        if file_type is None:
            log.warning("left %s in place: not a type the portal accepts", path.name)
            continue
        async with write_transaction():
            if not await StoredFile.exists().where(StoredFile.file_id == path.name):
                await store.put(path.name, owners[path.name], content, file_type)
        path.unlink()
        moved += 1
    return moved, unreferenced
