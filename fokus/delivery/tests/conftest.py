"""Fixtures for the delivery tests: a marathon with people bound to the fake Bot API,
lesson deliveries of its first day, and a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test import override_settings

from fokus.core.clock import frozen_at
from fokus.core.models import Organization
from fokus.delivery.models import Delivery, DeliveryKind
from fokus.delivery.services import delivery_enqueue
from fokus.people.models import Person
from fokus.programs.models import Material, Program, Task, Track
from fokus.programs.schedule import contact_instant
from fokus.programs.services import program_enroll, program_import
from fokus.programs.tests.matrix_factories import EXAMPLE
from fokus.telegram.models import TelegramBot, TelegramChat
from fokus.telegram.services import telegram_bot_resolve
from fokus.telegram.testing.fake_bot_api import FakeBotApi
from fokus.telegram.testing.fixtures import fake_bot_api  # noqa: F401

DAY1 = date(2026, 11, 23)  # the example marathon's first learning day (a Monday)
BEFORE = datetime(2026, 11, 22, 12, tzinfo=UTC)


@dataclass
class Drop:
    """One organisation's marathon and the first lesson of its first day."""

    organization: Organization
    program: Program
    track: Track
    materials: list[Material]
    tasks: list[Task]
    bot: TelegramBot | None
    people: list[Person] = field(default_factory=list)

    @property
    def lesson_at(self) -> datetime:
        """The lesson's instant for someone in Moscow (the default zone here)."""
        first = self.materials[0]
        return contact_instant(first.day.date, first.slot.local_time, "Europe/Moscow")

    def person(
        self, number: str, *, chat: bool = True, email: bool = True, language: str = "en",
        zone: str = "Europe/Moscow",
    ) -> Person:
        person = Person.objects.create(
            organization=self.organization, employee_number=number,
            full_name=f"Participant {number}", time_zone=zone, language=language,
            email=f"{number.lower()}@example.com" if email else "",
        )
        with frozen_at(BEFORE):
            program_enroll(program=self.program, track=self.track, people=[person])
        if chat:
            assert self.bot is not None, "the drop fixture needs the fake Bot API for chats"
            TelegramChat.objects.create(
                person=person, bot=self.bot, chat_id=self.chat_id(person), bound_at=BEFORE
            )
        self.people.append(person)
        return person

    @staticmethod
    def chat_id(person: Person) -> int:
        return 700_000 + person.pk

    def lesson(self, person: Person, *, channel: str | None = None,
               due_at: datetime | None = None) -> Delivery:
        delivery = delivery_enqueue(
            person=person, kind=DeliveryKind.LESSON,
            contact_point=f"lesson:{self.program.pk}:{DAY1.isoformat()}:10:00",
            due_at=due_at or self.lesson_at,
            payload={
                "materials": [m.pk for m in self.materials],
                "tasks": [t.pk for t in self.tasks],
                "day_index": 1,
            },
            program=self.program, channel=channel,
        )
        assert delivery is not None
        return delivery


def build_drop(organization: Organization, *, bot: TelegramBot | None) -> Drop:
    program = program_import(
        organization=organization, text=EXAMPLE.read_text(encoding="utf-8"),
        source_name="sales-marathon.yaml",
    )
    track = Track.objects.get(program=program, slug="consultants")
    first = (
        Material.objects.filter(track=track, day__index=1)
        .select_related("slot").order_by("slot__local_time", "position").first()
    )
    assert first is not None
    materials = list(Material.objects.filter(track=track, day=first.day, slot=first.slot))
    tasks = list(Task.objects.filter(track=track, day=first.day, slot=first.slot))
    return Drop(organization, program, track, materials, tasks, bot)


@pytest.fixture
def drop(org_a: Organization, fake_bot_api: FakeBotApi) -> Drop:  # noqa: F811
    return build_drop(org_a, bot=telegram_bot_resolve(organization=org_a))


@pytest.fixture
def email_drop(org_a: Organization) -> Drop:
    """A drop without Telegram: everyone is reached by e-mail."""
    return build_drop(org_a, bot=None)


# -- a real SMTP server ----------------------------------------------------------------


class Mailbox:
    """What the loopback SMTP server accepted; some addresses answer with an error."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}  # address -> SMTP reply, e.g. "550 no such user"
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1; the default mailer sends to it over SMTP."""
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailers = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
    }}
    try:
        with override_settings(MAILERS=mailers, DEFAULT_FROM_EMAIL="fokus@example.com"):
            yield mailbox
    finally:
        controller.stop()
