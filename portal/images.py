"""Uploaded pictures made safe to show: decoded once at upload, turned upright, re-encoded without metadata.

A citizen's photo can carry the place it was taken (EXIF GPS), the camera's serial number and a rotation
flag that browsers honour differently. At upload the portal decodes it with Pillow (refusing images whose
pixel count would exhaust memory, "decompression bombs"), applies the EXIF orientation, and re-encodes
both the picture and a small thumbnail with no metadata at all. Only these re-encoded files are stored
(portal.storage), so what is served was written by the server, never passed through from the uploader.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from portal import storage
from portal.errors import InvalidInput

MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to about 120 MB; anything larger is refused
MAX_SIDE = 2048  # the stored picture's longest side
THUMB_SIDE = 480  # the thumbnail's longest side (shown at up to 240 CSS px on 2x screens)


@dataclass(frozen=True)
class PreparedImage:
    """An upload made safe: the upright picture and its thumbnail, both re-encoded without metadata."""

    content: bytes
    file_type: storage.FileType
    thumbnail: bytes
    thumbnail_type: storage.FileType
    width: int
    height: int


def _open(content: bytes, field: str) -> Image.Image:
    """Decode the header only, refusing what is not an image or has too many pixels to decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(
            "The image has too many pixels (at most %(mp)s megapixels).",
            field=field,
            mp=MAX_PIXELS // 1_000_000,
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(
            "The image could not be read. Upload a PNG or JPEG photo.", field=field
        ) from exc
    return image


def _encode(image: Image.Image, kind: str) -> bytes:
    """PNG or JPEG bytes with no metadata (Pillow writes none unless asked)."""
    out = io.BytesIO()
    if kind == "png":
        image.save(out, format="PNG", optimize=True)
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def prepare(content: bytes, field: str = "image") -> PreparedImage:
    """Decode an uploaded PNG or JPEG, turn it upright and re-encode it and its thumbnail.

    Raises:
        InvalidInput: the bytes are no readable image, or it has more than ``MAX_PIXELS`` pixels.
    """
    image = _open(content, field)
    kind = "png" if image.format == "PNG" else "jpeg"
    try:
        clean, thumb = _upright_copies(image)
        return PreparedImage(
            content=_encode(clean, kind),
            file_type=storage.TYPES[kind],
            thumbnail=_encode(thumb, kind),
            thumbnail_type=storage.TYPES[kind],
            width=clean.width,
            height=clean.height,
        )
    except (OSError, ValueError) as exc:  # an odd mode or a broken EXIF block
        raise InvalidInput(
            "The image could not be read. Upload a PNG or JPEG photo.", field=field
        ) from exc


def _upright_copies(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The picture turned as its EXIF says, with nothing of the upload but its pixels, and its thumbnail."""
    upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("RGB", "RGBA", "L", "LA"):
        upright = upright.convert("RGBA" if "transparency" in upright.info else "RGB")
    # A fresh image drops every chunk and EXIF block the upload carried (GPS, camera, comments).
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    thumb = clean.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return clean, thumb
