"""Factories and fixtures for the answering, decision, points and file tests (R1's side).

Test modules import the fixtures they use from here (there is no review conftest, so
the curator-side tests keep their own).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from fokus.core import clock
from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import Task
from fokus.review import services
from fokus.review.models import Attempt, AttemptFile, ReviewEvent, ReviewSettings, Submission
from fokus.scoring.tests.factories import Seed, person, seed_program

# Day 1 of the seed program is Monday 23 November 2026; people live in Vladivostok
# (UTC+10): 10:00 there is 00:00 UTC. At 05:00 UTC (15:00 local) both tasks are open.
DAY1_AFTERNOON = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)
# The program's last day is 8 December; its end in Vladivostok is 14:00 UTC on that day.
AFTER_PROGRAM = dt.datetime(2026, 12, 9, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def english() -> Iterator[None]:
    """Messages are asserted in English (msgids); the UI default is Russian."""
    with translation.override("en"):
        yield


@pytest.fixture
def media(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def seed(org_a: Organization) -> Seed:
    return make_seed(org_a)


def make_seed(org: Organization, slug: str = "sales-marathon") -> Seed:
    """Seed 001 with logins; the consultants' tasks take text, photos, files and links."""
    s = seed_program(org, slug, login=True)
    Task.objects.filter(track=s.consultants).update(answer_kinds="text,photo,file,link")
    for t in s.tasks:
        t.refresh_from_db()
    s.people["curator2"] = person(org, "K-2", "Куратор Кирилл", "curator", login=True)
    s.people["lead"] = person(org, "K-0", "Старший куратор Лев", "curator", login=True)
    s.users = {k: p.user for k, p in s.people.items() if p.user is not None}
    ReviewSettings.objects.create(program=s.program, lead_curator=s.people["lead"])
    return s


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_bytes(size: tuple[int, int] = (8, 6)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotated, must survive
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (55.0, 45.0, 21.5), 3: "E", 4: (37.0, 37.0, 4.0)})
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def submit(seed: Seed, who: str = "c1", task_index: int = 0, text: str = "Мой ответ",
           files: list[Any] | None = None) -> Attempt:
    with clock.frozen_at(DAY1_AFTERNOON):
        return services.attempt_submit(
            person=seed[who], task=seed.tasks[task_index], text=text, link="", files=files or []
        )


def client_for(user: Any) -> Client:
    """A signed-in client reading English pages (tests assert the msgids)."""
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


def add_review_examples(world: Any) -> None:
    """A submitted attempt with a photo for a core.tests.factories.World (isolation test)."""
    task = world.task
    task.answer_kinds = "text,photo"
    task.save(update_fields=["answer_kinds"])
    participant: Person = world.people["participant"]
    # The world's program is in the past: the answer is late, which its settings accept.
    attempt = services.attempt_submit(
        person=participant, task=task, text=f"Answer {world.mark}", link="",
        files=[upload(f"photo-{world.mark}.png", png_bytes())],
    )
    world.objects[Submission] = attempt.submission
    world.objects[Attempt] = attempt
    world.objects[AttemptFile] = attempt.files.get()
    world.objects[ReviewEvent] = attempt.events.first()
    world.objects[ReviewSettings], _created = ReviewSettings.objects.get_or_create(
        program=world.program
    )
