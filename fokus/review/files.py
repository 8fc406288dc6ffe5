"""Files attached to answers: checked by content, cleaned of location, stored privately.

Policy (docs/review.md, "Files"):
- at most MAX_FILE_BYTES per file (Telegram's bot download limit) and MAX_FILES per
  attempt; empty files are refused;
- the type is decided by the bytes, never by the name or the browser's claim: JPEG,
  PNG, WebP photos; PDF; DOCX/XLSX/PPTX (a ZIP whose [Content_Types].xml names the
  Office document); plain text. Anything else (an .exe renamed .jpg) is refused;
- Office files whose declared uncompressed size or compression ratio is excessive
  (archive bombs) are refused; images larger than MAX_PIXELS are refused;
- location is removed from photos without re-encoding them: the GPS directory and the
  maker note leave the EXIF block (orientation stays), XMP/IPTC blocks are dropped;
- files are stored under random names in MEDIA_ROOT/answers/ and served only by a view
  that checks who asks (fokus.review.queries.file_for_viewer).

Every file of a request is checked before any is written; `store` writes them and
`remove` takes them back when the database transaction fails.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import struct
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.review.errors import FileRefused

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 10
MAX_NAME = 200
MAX_PIXELS = 60_000_000  # a 60-megapixel photo is more than any phone takes
ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_MAX_ENTRIES = 10_000
CONTENT_TYPES_MAX = 1024 * 1024

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
TEXT = "text/plain"

PHOTO_TYPES = frozenset({JPEG, PNG, WEBP})
DOCUMENT_TYPES = frozenset({PDF, DOCX, XLSX, PPTX, TEXT})
# The main part of each Office format as [Content_Types].xml names it.
OFFICE_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.ms-word.document.macroenabled.main+xml": None,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": None,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
    "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml": None,
}
EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp", PDF: "pdf", DOCX: "docx", XLSX: "xlsx",
              PPTX: "pptx", TEXT: "txt"}
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}


class Upload(Protocol):
    """What Django's UploadedFile offers and the checks need (tests pass simple files)."""

    name: str | None
    size: int | None

    def chunks(self, chunk_size: int | None = None) -> Iterable[bytes]: ...


@dataclass(frozen=True, slots=True)
class CheckedFile:
    original_name: str
    content_type: str
    data: bytes  # what will be stored: photos already without location

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_photo(self) -> bool:
        return self.content_type in PHOTO_TYPES


def answers_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "answers"


def path_of(storage_name: str) -> Path:
    # Storage names are ours (token_urlsafe), never user input; refuse anything else anyway.
    if not storage_name or "/" in storage_name or storage_name.startswith("."):
        raise ValueError(f"not a storage name: {storage_name!r}")
    return answers_dir() / storage_name


def display_name(upload: Upload) -> str:
    name = os.path.basename((upload.name or "").replace("\\", "/")).strip()
    return (name or _("file"))[:MAX_NAME]


# --- checks ------------------------------------------------------------------------------


def check_uploads(
    uploads: Sequence[Upload], *, photos: bool, documents: bool, already: int = 0
) -> list[CheckedFile]:
    """Check every upload (all before any is stored); raise FileRefused naming the file."""
    if not uploads:
        return []
    if not photos and not documents:
        raise FileRefused(_("This task does not take photos or files."))
    if already + len(uploads) > MAX_FILES:
        raise FileRefused(
            ngettext("At most %(max)s file per answer; this one would have %(count)s.",
                     "At most %(max)s files per answer; this one would have %(count)s.",
                     MAX_FILES)
            % {"max": MAX_FILES, "count": already + len(uploads)}
        )
    return [check_upload(u, photos=photos, documents=documents) for u in uploads]


def check_upload(upload: Upload, *, photos: bool, documents: bool) -> CheckedFile:
    name = display_name(upload)
    if upload.size is not None and upload.size > MAX_FILE_BYTES:
        raise FileRefused(_too_large(name))
    buffer = bytearray()
    for chunk in upload.chunks():
        buffer += chunk
        if len(buffer) > MAX_FILE_BYTES:
            raise FileRefused(_too_large(name))
    data = bytes(buffer)
    if not data:
        raise FileRefused(_("“%(name)s” is empty.") % {"name": name})
    content_type = sniff(name, data)
    if content_type in PHOTO_TYPES:
        if not photos:
            raise FileRefused(
                _("“%(name)s” is a photo, but this task takes documents only.") % {"name": name}
            )
        data = _checked_image(name, content_type, data)
    elif content_type in DOCUMENT_TYPES and not documents:
        raise FileRefused(
            _("“%(name)s” is a document, but this task takes photos only.") % {"name": name}
        )
    return CheckedFile(original_name=name, content_type=content_type, data=data)


def _too_large(name: str) -> str:
    return _("“%(name)s” is larger than %(mb)s MB.") % {
        "name": name, "mb": MAX_FILE_BYTES // (1024 * 1024),
    }


def _not_accepted(name: str) -> FileRefused:
    return FileRefused(
        _(
            "“%(name)s” is not a file Fokus accepts: send a photo (JPEG, PNG, WebP) or a "
            "document (PDF, DOCX, XLSX, PPTX, TXT)."
        )
        % {"name": name}
    )


def sniff(name: str, data: bytes) -> str:
    """The content type the bytes prove, or FileRefused. Names and extensions are ignored."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        raise FileRefused(
            _(
                "“%(name)s” is a HEIC/HEIF photo, which Fokus cannot clean of location yet: "
                "send it as JPEG (on iPhone: Settings → Camera → Formats → Most Compatible)."
            )
            % {"name": name}
        )
    if data[:5] == b"%PDF-":
        return PDF
    if data[:4] == b"PK\x03\x04":
        return _office_type(name, data)
    if _is_text(data):
        return TEXT
    raise _not_accepted(name)


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    head = data[:65536]
    allowed = {9, 10, 12, 13}
    if any(b < 32 and b not in allowed for b in head):
        return False
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            data.decode("cp1251")
        except UnicodeDecodeError:
            return False
    return True


def _office_type(name: str, data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _not_accepted(name) from exc
    total = sum(e.file_size for e in entries)
    packed = max(sum(e.compress_size for e in entries), 1)
    if (
        len(entries) > ZIP_MAX_ENTRIES
        or total > ZIP_MAX_UNCOMPRESSED
        or total / packed > ZIP_MAX_RATIO
        or any(e.file_size / max(e.compress_size, 1) > ZIP_MAX_RATIO for e in entries)
    ):
        raise FileRefused(
            _(
                "“%(name)s” unpacks to far more than its size (%(mb)s MB); "
                "it looks like an archive bomb and is refused."
            )
            % {"name": name, "mb": max(total // (1024 * 1024), 1)}
        )
    try:
        with archive.open("[Content_Types].xml") as part:
            types = part.read(CONTENT_TYPES_MAX + 1)
    except (KeyError, zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError) as exc:
        raise _not_accepted(name) from exc
    if len(types) > CONTENT_TYPES_MAX:
        raise _not_accepted(name)
    text = types.decode("utf-8", errors="replace").lower()
    for main, content_type in OFFICE_MAIN.items():
        if main in text:
            if content_type is None:
                raise FileRefused(
                    _("“%(name)s” contains macros; save it without macros (DOCX, XLSX, PPTX).")
                    % {"name": name}
                )
            return content_type
    raise _not_accepted(name)


# --- photos: decode check and location removal -------------------------------------------


def _checked_image(name: str, content_type: str, data: bytes) -> bytes:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise FileRefused(
                    _("“%(name)s” is %(w)s×%(h)s pixels; at most %(mp)s megapixels.")
                    % {"name": name, "w": width, "h": height, "mp": MAX_PIXELS // 1_000_000}
                )
            image.verify()
    except FileRefused:
        raise
    except Exception as exc:  # Pillow raises many kinds for broken or forged images
        raise FileRefused(
            _("“%(name)s” looks like a photo but cannot be read; it may be damaged.")
            % {"name": name}
        ) from exc
    try:
        if content_type == JPEG:
            return strip_jpeg_location(data)
        if content_type == PNG:
            return strip_png_metadata(data)
        return strip_webp_metadata(data)
    except (ValueError, IndexError, struct.error) as exc:
        raise FileRefused(
            _("“%(name)s” has a damaged structure and cannot be cleaned of location.")
            % {"name": name}
        ) from exc


GPS_IFD = 0x8825
EXIF_IFD = 0x8769
MAKER_NOTE = 0x927C
XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_PREFIX = b"http://ns.adobe.com/xmp/extension/\x00"


def _clean_exif(payload: bytes) -> bytes | None:
    """The EXIF block without GPS and maker note, or None to drop it entirely."""
    from PIL import Image

    try:
        exif = Image.Exif()
        exif.load(payload)
        if GPS_IFD in exif:
            del exif[GPS_IFD]
        exif_ifd = exif.get_ifd(EXIF_IFD)
        if MAKER_NOTE in exif_ifd:
            del exif_ifd[MAKER_NOTE]
        cleaned = bytes(exif.tobytes())
    except Exception:
        # Unreadable EXIF may hide anything: drop it rather than keep it.
        return None
    if not cleaned.startswith(b"Exif\x00\x00"):
        cleaned = b"Exif\x00\x00" + cleaned
    if len(cleaned) + 2 > 0xFFFF:
        return None
    return cleaned


def strip_jpeg_location(data: bytes) -> bytes:
    """Rewrite the JPEG's header segments: EXIF without GPS, no XMP or IPTC. Pixels untouched."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan / end: the rest is image data
            out += data[pos:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[pos:pos + 2]
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("JPEG segment overruns the file")
        payload = data[pos + 4:pos + 2 + length]
        pos += 2 + length
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            cleaned = _clean_exif(payload)
            if cleaned is not None:
                out += b"\xff\xe1" + struct.pack(">H", len(cleaned) + 2) + cleaned
            continue
        if marker == 0xE1 and payload.startswith((XMP_PREFIX, XMP_EXT_PREFIX)):
            continue
        if marker == 0xED:  # APP13: Photoshop/IPTC, which can name places
            continue
        out += data[pos - 2 - length:pos]
    raise ValueError("JPEG without image data")


PNG_DROP = {b"eXIf", b"iTXt", b"tEXt", b"zTXt"}


def strip_png_metadata(data: bytes) -> bytes:
    """Drop EXIF and text chunks (XMP lives in iTXt); chunks are self-contained."""
    out = bytearray(data[:8])
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("PNG chunk overruns the file")
        if kind not in PNG_DROP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            break
    return bytes(out)


def strip_webp_metadata(data: bytes) -> bytes:
    """Drop the EXIF and XMP chunks of a WebP and clear their flags in VP8X."""
    chunks = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        end = pos + 8 + length + (length & 1)
        if pos + 8 + length > len(data):
            raise ValueError("WebP chunk overruns the file")
        chunk = bytearray(data[pos:min(end, len(data))])
        if kind == b"VP8X" and length >= 1:
            chunk[8] &= ~(0x08 | 0x04) & 0xFF  # EXIF and XMP present flags
        if kind not in {b"EXIF", b"XMP "}:
            chunks.append(bytes(chunk))
        pos = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --- storage -----------------------------------------------------------------------------


def store(files: Sequence[CheckedFile]) -> list[str]:
    """Write checked files under fresh random names; on any error nothing stays behind."""
    folder = answers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    try:
        for checked in files:
            storage_name = secrets.token_urlsafe(24)
            target = folder / storage_name
            # "x": never overwrite; a partial write is removed below.
            with open(target, "xb") as handle:
                written.append(storage_name)
                handle.write(checked.data)
    except BaseException:
        remove(written)
        raise
    return written


def remove(storage_names: Iterable[str]) -> None:
    for storage_name in storage_names:
        try:
            path_of(storage_name).unlink(missing_ok=True)
        except (OSError, ValueError):
            continue


def extension_for(content_type: str) -> str:
    return EXTENSIONS.get(content_type, "bin")
