"""QR codes for deep links and the poster (segno: pure Python, no image library)."""

from __future__ import annotations

import io

import segno

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def qr_png(link: str, *, scale: int = 6) -> bytes:
    """A PNG for e-mails: clients block data: URIs, so it travels as an inline (cid) image."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def qr_svg_data_uri(link: str, *, scale: int = 10) -> str:
    """An SVG data URI for pages (the CSP allows data: images) and printing."""
    return str(segno.make(link, error="m").svg_data_uri(scale=scale, border=2))
