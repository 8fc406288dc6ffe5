"""Attached files: size, emptiness, type by content, archive bombs, location removed from
photos, random private storage, nothing half-written, and who may download."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from fokus.core import clock
from fokus.core.services import organization_create
from fokus.review import files as answer_files
from fokus.review import services
from fokus.review.errors import FileRefused
from fokus.review.models import AttemptFile
from fokus.review.tests.answer_factories import (
    DAY1_AFTERNOON,
    client_for,
    jpeg_with_gps,
    make_seed,
    png_bytes,
    submit,
    upload,
)
from fokus.scoring.tests.factories import Seed

pytestmark = pytest.mark.usefixtures("media", "english")

CONTENT_TYPES_DOCX = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="'
    b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def docx_bytes() -> bytes:
    return _zip({"[Content_Types].xml": CONTENT_TYPES_DOCX, "word/document.xml": b"<w/>" * 50})


def _check(name: str, data: bytes, *, photos: bool = True, documents: bool = True) -> Any:
    return answer_files.check_upload(upload(name, data), photos=photos, documents=documents)


def _stored(media: Path) -> list[Path]:
    folder = media / "answers"
    return sorted(folder.iterdir()) if folder.exists() else []


# --- checks by content ------------------------------------------------------------------


def test_types_are_decided_by_content_not_by_name() -> None:
    assert _check("scan.bin", b"%PDF-1.7\n...").content_type == answer_files.PDF
    assert _check("photo.jpeg.txt", png_bytes()).content_type == answer_files.PNG
    assert _check("report.docx", docx_bytes()).content_type == answer_files.DOCX
    assert _check("notes.txt", "Заметки по клиенту\n".encode()).content_type == answer_files.TEXT


def test_a_program_disguised_as_a_photo_is_refused_naming_the_file() -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(200)
    with pytest.raises(FileRefused, match=re.escape("“holiday.jpg” is not a file Fokus accepts")):
        _check("holiday.jpg", exe)
    # A JPEG header followed by garbage does not pass for a photo either.
    unreadable = re.escape("“fake.jpg” looks like a photo but cannot be read")
    with pytest.raises(FileRefused, match=unreadable):
        _check("fake.jpg", b"\xff\xd8\xff\xe0" + bytes(100))


def test_empty_and_too_large_files_are_refused() -> None:
    with pytest.raises(FileRefused, match=re.escape("“empty.pdf” is empty")):
        _check("empty.pdf", b"")
    big = b"%PDF-1.7\n" + bytes(answer_files.MAX_FILE_BYTES)
    with pytest.raises(FileRefused, match=re.escape("“huge.pdf” is larger than 20 MB")):
        _check("huge.pdf", big)
    exactly = b"%PDF-1.7\n" + bytes(answer_files.MAX_FILE_BYTES - 9)
    assert _check("limit.pdf", exactly).size == answer_files.MAX_FILE_BYTES


def test_an_archive_bomb_is_refused() -> None:
    bomb = _zip({"[Content_Types].xml": CONTENT_TYPES_DOCX, "word/document.xml": bytes(50_000_000)})
    assert len(bomb) < 200_000
    with pytest.raises(FileRefused, match=re.escape("“cv.docx” unpacks to far more than its size")):
        _check("cv.docx", bomb)


def test_zip_files_that_are_not_office_documents_and_macro_documents_are_refused() -> None:
    with pytest.raises(FileRefused, match=re.escape("“photos.zip” is not a file Fokus accepts")):
        _check("photos.zip", _zip({"a.txt": b"hello"}))
    macro = CONTENT_TYPES_DOCX.replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.document.macroEnabled.main+xml",
    )
    with pytest.raises(FileRefused, match="contains macros"):
        _check("plan.docm", _zip({"[Content_Types].xml": macro}))


def test_heic_is_refused_with_advice() -> None:
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(FileRefused, match=re.escape("“IMG_0001.HEIC” is a HEIC/HEIF photo")):
        _check("IMG_0001.HEIC", heic)


def test_photos_or_documents_as_the_task_takes_them() -> None:
    with pytest.raises(FileRefused, match="takes photos only"):
        _check("plan.pdf", b"%PDF-1.4", documents=False)
    with pytest.raises(FileRefused, match="takes documents only"):
        _check("shot.png", png_bytes(), photos=False)


# --- location removed from photos --------------------------------------------------------


def test_gps_is_removed_from_a_jpeg_and_the_picture_is_untouched() -> None:
    from PIL import Image

    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "the sample has GPS"
    cleaned = _check("IMG_2041.jpg", original).data
    exif = Image.open(io.BytesIO(cleaned)).getexif()
    assert not exif.get_ifd(0x8825) and 0x8825 not in exif
    assert exif[0x0112] == 6, "orientation stays, or phone photos show sideways"
    # Not re-encoded: the compressed image data after the header is byte-identical.
    assert cleaned[cleaned.index(b"\xff\xda"):] == original[original.index(b"\xff\xda"):]


def test_xmp_is_dropped_from_a_jpeg() -> None:
    original = jpeg_with_gps()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>55,45N</exif:GPSLatitude>"
    segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    with_xmp = original[:2] + segment + original[2:]
    cleaned = _check("x.jpg", with_xmp).data
    assert b"GPSLatitude" not in cleaned


def test_exif_chunks_are_dropped_from_png_and_webp() -> None:
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (55.0, 45.0, 21.5)})
    for fmt, name in (("PNG", "shot.png"), ("WEBP", "shot.webp")):
        out = io.BytesIO()
        Image.new("RGB", (16, 16), (1, 2, 3)).save(out, fmt, exif=exif.tobytes())
        original = out.getvalue()
        assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
        cleaned = _check(name, original).data
        reopened = Image.open(io.BytesIO(cleaned))
        reopened.load()
        assert not reopened.getexif().get_ifd(0x8825), fmt
        assert reopened.size == (16, 16)


def test_a_stored_photo_has_no_location(seed: Seed, media: Path) -> None:
    from PIL import Image

    attempt = submit(seed, files=[upload("IMG_2041.jpg", jpeg_with_gps(), "image/jpeg")])
    stored = attempt.files.get()
    data = answer_files.path_of(stored.storage_name).read_bytes()
    assert not Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    assert stored.size == len(data) and stored.content_type == "image/jpeg"


# --- storage: random names, all or nothing -----------------------------------------------


def test_files_are_stored_under_random_names_outside_static(seed: Seed, media: Path) -> None:
    attempt = submit(seed, files=[upload("отчёт.pdf", b"%PDF-1.4 report"),
                                  upload("photo.png", png_bytes())])
    names = [f.storage_name for f in attempt.files.order_by("id")]
    assert [p.name for p in _stored(media)] == sorted(names)
    assert all(len(n) >= 32 and "." not in n for n in names)
    assert [f.original_name for f in attempt.files.order_by("id")] == ["отчёт.pdf", "photo.png"]


def test_one_bad_file_means_nothing_is_written(seed: Seed, media: Path) -> None:
    with pytest.raises(FileRefused, match=re.escape("“virus.jpg”")):
        submit(seed, files=[upload("ok.pdf", b"%PDF-1.4"), upload("virus.jpg", b"MZ\x00\x01")])
    assert not _stored(media)
    assert not AttemptFile.objects.exists()
    assert not seed["c1"].submissions.filter(attempts__isnull=False).exists()


def test_files_are_removed_when_the_transaction_fails(
    seed: Seed, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(AttemptFile.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        submit(seed, files=[upload("ok.pdf", b"%PDF-1.4")])
    assert not _stored(media)


def test_at_most_ten_files_per_attempt(seed: Seed, media: Path) -> None:
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_save_draft(
            person=seed["c1"], task=seed.tasks[0], text="", link="",
            files=[upload(f"{n}.pdf", b"%PDF-1.4") for n in range(8)],
        )
        with pytest.raises(FileRefused, match="At most 10 files per answer; this one would have"):
            services.attempt_submit(
                person=seed["c1"], task=seed.tasks[0], text="", link="",
                files=[upload(f"more{n}.pdf", b"%PDF-1.4") for n in range(3)],
            )
    assert len(_stored(media)) == 8


# --- who may download --------------------------------------------------------------------


def test_file_download_permission_matrix(seed: Seed) -> None:
    attempt = submit(seed, files=[upload("photo.png", png_bytes()),
                                  upload("plan.docx", docx_bytes())])
    photo, doc = attempt.files.order_by("id")
    other = make_seed(organization_create(slug="other", name="Другая"), slug="other")
    allowed = {
        "c1": "the author",
        "senior": "the author's manager",
        "boss": "the manager's manager",
        "curator": "a curator of the organisation",
        "admin": "an admin of the organisation",
    }
    denied = {"c2": "another participant", "peer": "a supervisor of someone else",
              "viewer": "a viewer", "outsider": "a participant of another track"}
    for who, why in allowed.items():
        response = client_for(seed.users[who]).get(f"/answers/files/{photo.pk}/")
        assert response.status_code == 200, why
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        streamed: Any = response
        assert b"".join(streamed.streaming_content) == answer_files.path_of(
            photo.storage_name
        ).read_bytes()
    for who, why in denied.items():
        response = client_for(seed.users[who]).get(f"/answers/files/{photo.pk}/")
        assert response.status_code == 404, why
    assert client_for(other.users["curator"]).get(f"/answers/files/{photo.pk}/").status_code == 404
    assert client_for(other.users["admin"]).get(f"/answers/files/{doc.pk}/").status_code == 404
    anonymous = Client().get(f"/answers/files/{photo.pk}/")
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    document = client_for(seed.users["curator"]).get(f"/answers/files/{doc.pk}/")
    assert document["Content-Disposition"].startswith("attachment;")
    assert "plan.docx" in document["Content-Disposition"]


def test_a_draft_file_is_visible_to_its_author_only(seed: Seed) -> None:
    with clock.frozen_at(DAY1_AFTERNOON):
        draft = services.attempt_save_draft(person=seed["c1"], task=seed.tasks[0], text="",
                                            link="", files=[upload("p.png", png_bytes())])
    file_id = draft.files.get().pk
    assert client_for(seed.users["c1"]).get(f"/answers/files/{file_id}/").status_code == 200
    for who in ("curator", "senior", "admin"):
        assert client_for(seed.users[who]).get(f"/answers/files/{file_id}/").status_code == 404
