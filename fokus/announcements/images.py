"""The announcement image: checked by content and made small before it is stored.

The type is decided by the bytes (Pillow opens and verifies them), never by the name
or the browser's claim. The image is then re-encoded at most MAX_SIDE pixels on its
longer side: this drops EXIF (and any GPS position) and keeps the copy that goes into
each outbox row small (docs/announcements.md, "Image").
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 1024
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
JPEG = "image/jpeg"
PNG = "image/png"


class ImageRefused(ValueError):
    """The upload is not an image we accept; the message says why, for the form."""


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    mime: str


def image_normalise(data: bytes) -> StoredImage:
    """Validate `data` as a JPEG, PNG, WebP or GIF image; return a small JPEG or PNG."""
    if not data:
        raise ImageRefused(_("The image file is empty."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRefused(
            _("The image is larger than %(mb)s MB.") % {"mb": MAX_UPLOAD_BYTES // 2**20}
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRefused(
            _("This file is not an image Fokus accepts (JPEG, PNG, WebP or GIF).")
        ) from None
    if kind not in ACCEPTED_FORMATS:
        raise ImageRefused(
            _("This file is not an image Fokus accepts (JPEG, PNG, WebP or GIF).")
        )
    if width * height > MAX_PIXELS:
        raise ImageRefused(_("The image has too many pixels."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            has_alpha = image.mode in {"RGBA", "LA", "P"} and (
                image.mode != "P" or "transparency" in image.info
            )
            out = io.BytesIO()
            if has_alpha:
                image.convert("RGBA").save(out, format="PNG", optimize=True)
                return StoredImage(out.getvalue(), PNG)
            image.convert("RGB").save(out, format="JPEG", quality=82, optimize=True)
            return StoredImage(out.getvalue(), JPEG)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ImageRefused(_("The image could not be read; it may be damaged.")) from None
