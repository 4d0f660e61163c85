"""Real PNG and JPEG bytes for upload tests, made with Pillow (a photo's EXIF included when asked)."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def phone_jpeg(width: int = 800, height: int = 600, orientation: int = 6) -> bytes:
    """A JPEG as phones write it: stored sideways with an EXIF orientation, camera make and GPS."""
    image = Image.new("RGB", (width, height), (200, 60, 40))
    image.paste(
        (20, 20, 20), (0, 0, width // 4, height // 4)
    )  # a dark top-left corner, to see the turn
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90 degrees clockwise to show
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 0.0), 3: "E", 4: (126.0, 58.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=90)
    return out.getvalue()
