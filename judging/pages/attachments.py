"""Serving an entry's attachment: to its startup, to officials, and blind to judges."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Response

from judging.services.attachments import AttachmentRow, read_attachment


async def attachment_response(row: AttachmentRow, *, blind_name: str | None = None) -> Response:
    """Always a download, never rendered inline (S18), typed by the detected content.

    Judges get ``blind_name`` plus the type's extension and nothing of the uploader's file
    name (it can name the company); startups and officials also get the original name.
    """
    stored = await read_attachment(row)
    if blind_name:
        disposition = f'attachment; filename="{stored.download_name(blind_name)}"'
    else:
        fallback = stored.download_name(f"attachment-{row['id']}")
        disposition = (
            f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(row['original_name'])}"
        )
    return Response(
        content=stored.content,
        media_type=stored.file_type.media_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )
