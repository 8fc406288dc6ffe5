"""Operator views: the delivery log, drop progress with its projection, failures, resend."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from fokus.core.clock import frozen_at
from fokus.core.tests.factories import World, build_world
from fokus.delivery.models import Channel, Delivery, DeliveryKind, DeliveryStatus
from fokus.delivery.operator import (
    delivery_resend,
    delivery_resend_failed,
    drop_progress,
    projected_completion,
)
from fokus.people.models import Person, Role

UTC = dt.UTC
# 10:00 in Vladivostok (UTC+10), the zone of every person of build_world.
DROP_START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
POINT = "lesson:1:2026-03-02:10:00"


@pytest.fixture
def world(db: None) -> World:
    return build_world("opw", starts_on=dt.date(2026, 3, 2))


def _people(world: World, count: int) -> list[Person]:
    return [
        Person.objects.create(
            organization=world.organization, employee_number=f"P{i:04d}",
            full_name=f"Person {i}", email=f"p{i}@example.com", time_zone="Europe/Moscow",
        )
        for i in range(count)
    ]


def _row(world: World, person: Person, **fields: Any) -> Delivery:
    values: dict[str, Any] = {
        "organization": world.organization, "person": person, "program": world.program,
        "kind": DeliveryKind.LESSON, "contact_point": POINT, "channel": Channel.TELEGRAM,
        "due_at": DROP_START, "status": DeliveryStatus.PLANNED,
    }
    values.update(fields)
    return Delivery.objects.create(**values)


def _client(world: World, role: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.users[role])
    return client


# --- projection arithmetic -----------------------------------------------------------


def test_projection_is_linear_in_the_observed_rate() -> None:
    first = DROP_START
    # 4 sends over 30 s: 3 intervals, 0.1 messages/s; 6 left take 60 s more.
    projected = projected_completion(
        first_sent=first, last_sent=first + dt.timedelta(seconds=30), sent=4, remaining=6
    )
    assert projected == first + dt.timedelta(seconds=90)


def test_projection_of_the_example_drop_from_the_issue() -> None:
    # 8,412 of 10,000 sent at 30/s since 10:00:00; the last send 8,411/30 s later.
    first = dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    last = first + dt.timedelta(seconds=8411 / 30)
    projected = projected_completion(first_sent=first, last_sent=last, sent=8412, remaining=1588)
    assert projected is not None
    assert projected - first == dt.timedelta(seconds=(8411 + 1588) / 30)
    assert (projected.hour, projected.minute) == (7, 5)


@pytest.mark.parametrize(
    ("sent", "span", "remaining", "expected"),
    [
        (0, None, 10, None),  # nothing sent: no rate
        (1, 0, 10, None),  # one send: no interval yet
        (3, 0, 10, None),  # all in one instant: no rate
        (5, 40, 0, 40),  # finished: completion is the last send
    ],
)
def test_projection_without_a_rate_or_when_finished(
    sent: int, span: int | None, remaining: int, expected: int | None
) -> None:
    first = DROP_START if sent else None
    last = DROP_START + dt.timedelta(seconds=span) if span is not None and sent else None
    result = projected_completion(first_sent=first, last_sent=last, sent=sent, remaining=remaining)
    assert result == (DROP_START + dt.timedelta(seconds=expected) if expected is not None else None)


def test_drop_progress_counts_statuses_and_projects_from_sent_at(world: World) -> None:
    people = _people(world, 10)
    for i, person in enumerate(people[:4]):
        _row(world, person, status=DeliveryStatus.SENT,
             sent_at=DROP_START + dt.timedelta(seconds=10 * i))
    _row(world, people[4], status=DeliveryStatus.FAILED, error="Forbidden: bot was blocked")
    _row(world, people[5], status=DeliveryStatus.SKIPPED)
    for person in people[6:]:
        _row(world, person)
    # Another drop of the same day, a different contact point.
    _row(world, people[0], contact_point="announcement:5", kind=DeliveryKind.ANNOUNCEMENT,
         program=None, due_at=DROP_START + dt.timedelta(hours=2))

    drops = drop_progress(
        organization=world.organization, due_from=DROP_START - dt.timedelta(hours=1),
        due_until=DROP_START + dt.timedelta(hours=23),
    )
    assert [d.contact_point for d in drops] == [POINT, "announcement:5"]
    lesson = drops[0]
    assert (lesson.total, lesson.sent, lesson.failed, lesson.skipped, lesson.planned) == (
        10, 4, 1, 1, 4,
    )
    assert lesson.local_clock == "10:00"
    # 0.1/s observed, 4 remaining: 40 s after the last send at +30 s.
    assert lesson.projected_completion == DROP_START + dt.timedelta(seconds=70)
    assert drops[1].program is None and drops[1].projected_completion is None


def test_drops_page_says_progress_and_projection_in_the_viewers_zone(world: World) -> None:
    people = _people(world, 10)
    for i, person in enumerate(people[:4]):
        _row(world, person, status=DeliveryStatus.SENT,
             sent_at=DROP_START + dt.timedelta(seconds=100 * i))
    for person in people[4:]:
        _row(world, person)
    with frozen_at(DROP_START + dt.timedelta(minutes=5)):
        response = _client(world, Role.VIEWER).get("/operator/drops/")
    body = response.content.decode()
    assert response.status_code == 200
    # 3 intervals in 300 s, 6 left: 600 s after 00:05 UTC = 00:15 UTC = 10:15 Vladivostok.
    assert "10:00 drop: 4 of 10 sent, projected completion 10:15" in body
    # A viewer reads, but is offered no resend.
    assert "Resend" not in body
    client = Client()  # Russian, the default language
    client.force_login(world.users[Role.VIEWER])
    with frozen_at(DROP_START + dt.timedelta(minutes=5)):
        body = client.get("/operator/drops/").content.decode()
    assert "Рассылка 10:00: отправлено 4 из 10, ожидаемое завершение в 10:15" in body


# --- the log and its filters ----------------------------------------------------------


def test_log_filters_by_person_program_status_kind_and_channel(world: World) -> None:
    alice, bob = _people(world, 2)
    _row(world, alice, status=DeliveryStatus.FAILED, error="smtp 550 mailbox unavailable",
         channel=Channel.EMAIL)
    _row(world, bob, status=DeliveryStatus.SENT, sent_at=DROP_START)
    _row(world, bob, contact_point="digest:2026-03-02", kind=DeliveryKind.DIGEST,
         program=None, status=DeliveryStatus.SKIPPED)
    client = _client(world, Role.ADMIN)

    def numbers(query: str) -> set[str]:
        body = client.get("/operator/deliveries/?" + query).content.decode()
        return {number for number in ("P0000", "P0001") if number in body}

    assert numbers("") == {"P0000", "P0001"}
    assert numbers("status=failed") == {"P0000"}
    assert numbers("person=P0001") == {"P0001"}
    assert numbers("person=person+0") == {"P0000"}
    assert numbers("channel=email") == {"P0000"}
    assert numbers("kind=digest") == {"P0001"}
    assert numbers(f"program={world.program.slug}&status=sent") == {"P0001"}
    assert numbers("date_from=2026-03-03") == set()
    failed_page = client.get("/operator/deliveries/?status=failed").content.decode()
    assert "mailbox unavailable" in failed_page


def test_log_shows_times_in_the_viewers_zone_and_names_a_bad_date(world: World) -> None:
    (person,) = _people(world, 1)
    _row(world, person, due_at=dt.datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
    client = _client(world, Role.ADMIN)
    body = client.get("/operator/deliveries/").content.decode()
    assert "2026-03-02 11:30" in body  # Vladivostok, UTC+10
    body = client.get("/operator/deliveries/?date_from=tomorrow").content.decode()
    assert "From: enter a date as YYYY-MM-DD." in body


def test_log_is_paginated(world: World) -> None:
    people = _people(world, 55)
    for person in people:
        _row(world, person)
    client = _client(world, Role.ADMIN)
    first = client.get("/operator/deliveries/").content.decode()
    second = client.get("/operator/deliveries/?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count("<tr class=\"status-") == 50 and second.count("<tr class=\"status-") == 5


@pytest.mark.parametrize("role", [Role.PARTICIPANT, Role.CURATOR, Role.AUTHOR, Role.SUPERVISOR])
def test_operator_pages_are_for_admins_and_viewers(world: World, role: str) -> None:
    client = _client(world, role)
    for url in ("/operator/deliveries/", "/operator/drops/", "/operator/failures/"):
        assert client.get(url).status_code == 403


# --- failures and resend --------------------------------------------------------------


def test_failures_list_their_reasons(world: World) -> None:
    people = _people(world, 3)
    _row(world, people[0], status=DeliveryStatus.FAILED, error="Forbidden: bot was blocked")
    _row(world, people[1], status=DeliveryStatus.FAILED, error="Forbidden: bot was blocked")
    _row(world, people[2], status=DeliveryStatus.SENT, sent_at=DROP_START)
    body = _client(world, Role.VIEWER).get("/operator/failures/").content.decode()
    assert "Forbidden: bot was blocked" in body
    assert "P0000" in body and "P0001" in body and "P0002" not in body


def test_resend_puts_a_failed_row_back_due_now_with_attempts_kept(world: World) -> None:
    (person,) = _people(world, 1)
    row = _row(world, person, status=DeliveryStatus.FAILED, attempts=3, error="timeout")
    admin = world.people[Role.ADMIN]
    now = DROP_START + dt.timedelta(hours=3)
    with frozen_at(now):
        assert delivery_resend(row, admin) is True
    row.refresh_from_db()
    assert row.status == DeliveryStatus.PLANNED
    assert row.due_at == now
    assert row.attempts == 3
    assert row.error.startswith("timeout\n")
    assert f"resent by {admin.full_name} ({admin.employee_number}) at 2026-03-02 03:00 UTC" in (
        row.error
    )
    # A second click finds nothing to resend.
    assert delivery_resend(row, admin) is False


def test_resend_leaves_sent_rows_alone(world: World) -> None:
    (person,) = _people(world, 1)
    row = _row(world, person, status=DeliveryStatus.SENT, sent_at=DROP_START)
    assert delivery_resend(row, world.people[Role.ADMIN]) is False
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT and row.error == ""


def test_resend_all_failed_of_a_drop(world: World) -> None:
    people = _people(world, 5)
    for person in people[:3]:
        _row(world, person, status=DeliveryStatus.FAILED, error="5xx")
    _row(world, people[3], status=DeliveryStatus.SENT, sent_at=DROP_START)
    other = _row(world, people[4], status=DeliveryStatus.FAILED, contact_point="digest:x",
                 program=None)
    count = delivery_resend_failed(
        organization=world.organization, program=world.program, contact_point=POINT,
        by=world.people[Role.ADMIN],
    )
    assert count == 3
    statuses = sorted(Delivery.objects.filter(contact_point=POINT).values_list("status", flat=True))
    assert statuses == ["planned", "planned", "planned", "sent"]
    other.refresh_from_db()
    assert other.status == DeliveryStatus.FAILED


def test_resend_buttons_post_with_csrf_and_only_for_admins(world: World) -> None:
    (person,) = _people(world, 1)
    row = _row(world, person, status=DeliveryStatus.FAILED, error="5xx")
    url = f"/operator/deliveries/{row.pk}/resend/"
    assert _client(world, Role.VIEWER).post(url).status_code == 403
    admin = _client(world, Role.ADMIN)
    assert admin.get(url).status_code == 405
    csrf_client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    csrf_client.force_login(world.users[Role.ADMIN])
    assert csrf_client.post(url).status_code == 403
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED
    response = admin.post(url, {"next": "/operator/failures/"})
    assert response.status_code == 302 and response["Location"] == "/operator/failures/"
    row.refresh_from_db()
    assert row.status == DeliveryStatus.PLANNED
    # The drop button resends the rest.
    row.status = DeliveryStatus.FAILED
    row.save(update_fields=["status"])
    response = admin.post(
        "/operator/drops/resend/",
        {"contact_point": POINT, "program": world.program.slug, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/operator/drops/"
    row.refresh_from_db()
    assert row.status == DeliveryStatus.PLANNED


def test_resend_of_another_organisations_row_is_404(world: World) -> None:
    other = build_world("opx", starts_on=dt.date(2026, 3, 2))
    row = _row(other, other.people[Role.PARTICIPANT], status=DeliveryStatus.FAILED)
    response = _client(world, Role.ADMIN).post(f"/operator/deliveries/{row.pk}/resend/")
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED
