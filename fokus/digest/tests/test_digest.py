"""The 18:00 digest: a scripted day of a seed program and what each role's digest says.

Seed 001 (fokus/scoring/tests/factories.py): day 1 is Monday 23 November 2026, people
live in Vladivostok (UTC+10), the digest slot is 18:00 (08:00 UTC). During the day:

* Иван (c1, consented to be quoted) opens two materials, answers task 1.10, graded 3/3;
* Мария (c2, English) opens one material, answers both tasks: 1.10 graded 1, 1.14
  returned for revision;
* Гриша (c3, not consented) answers task 1.10, graded 3/3;
* Дина (c4, Moscow) does nothing;
* Семён (senior, supervisor of the four, enrolled in the seniors' track) answers his
  task, which waits for review.

Before the day a bonus made Мария first (2) and Иван second (1), and the nightly
snapshot recorded those places.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from fokus.core import clock
from fokus.core.models import Organization
from fokus.delivery.models import Delivery, DeliveryKind, DeliveryPreference
from fokus.digest import services
from fokus.digest.queries import (
    DigestContent,
    DigestDay,
    digest_build,
    excerpt_of,
    first_name_of,
)
from fokus.digest.render import digest_render
from fokus.digest.services import digest_prepare
from fokus.leaderboard.services import rank_history_snapshot
from fokus.people.models import Person, Unit
from fokus.programs.models import Enrollment, Material, MaterialView
from fokus.review import services as review
from fokus.review.tests.answer_factories import make_seed
from fokus.scoring.services import points_append
from fokus.scoring.tests.factories import Seed, person
from fokus.supervision.services import support_task_complete, support_tasks_generate
from fokus.telegram.models import TelegramBot, TelegramChat

DAY1 = dt.date(2026, 11, 23)
MORNING = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)  # 15:00 in Vladivostok
BEFORE_DIGEST = dt.datetime(2026, 11, 23, 7, 50, tzinfo=dt.UTC)  # 17:50 in Vladivostok
VLADIVOSTOK_18 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
MOSCOW_18 = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
IVAN_ANSWER = "Спросил клиента о цели покупки, предложил тест-драйв и кредитную программу."
GRISHA_ANSWER = "Ответ Гриши без согласия на цитирование"


@pytest.fixture
def day(org_a: Organization) -> Seed:
    s = make_seed(org_a)
    org = s.organization
    unit = Unit.objects.create(organization=org, name="Автоцентр Север")
    s.people["c3"] = person(org, "C-3", "Гришин Гриша", "participant", s["senior"], login=True)
    s.people["c4"] = person(org, "C-4", "Динова Дина", "participant", s["senior"], login=True)
    for name in ("c3", "c4"):
        Enrollment.objects.create(person=s[name], track=s.consultants, enrolled_at=timezone.now())
    Person.objects.filter(pk__in=[s[n].pk for n in ("c1", "c2", "c3", "c4")]).update(unit=unit)
    Person.objects.filter(pk=s["c2"].pk).update(language="en")
    Person.objects.filter(pk=s["c4"].pk).update(time_zone="Europe/Moscow")
    for p in Person.objects.filter(organization=org):
        p.email = f"{p.employee_number.lower()}@example.com"
        p.save(update_fields=["email"])
    for p in s.people.values():
        p.refresh_from_db()
    morning_slot, afternoon_slot = s.tasks[0].slot, s.tasks[1].slot
    day1, day2 = s.tasks[0].day, s.tasks[2].day
    m1 = Material.objects.create(track=s.consultants, day=day1, slot=morning_slot, title="Цели")
    m2 = Material.objects.create(track=s.consultants, day=day1, slot=afternoon_slot, title="Тон")
    Material.objects.create(
        track=s.consultants, day=day2, slot=morning_slot, title="Возражения клиентов"
    )
    Material.objects.create(track=s.seniors, day=day2, slot=afternoon_slot, title="Разбор звонков")

    # The standings before the day, and the nightly snapshot of them.
    for name, amount in (("c1", 1), ("c2", 2)):
        points_append(
            program=s.program, person=s[name], source="bonus", amount=Decimal(amount),
            reason="Старт", reference="", idempotency_key=f"start-{name}",
            occurred_on=DAY1 - dt.timedelta(days=1),
        )
    rank_history_snapshot(program=s.program, on=DAY1 - dt.timedelta(days=1))

    services.showcase_consent_give(person=s["c1"])
    with clock.frozen_at(MORNING):
        for who, material in (("c1", m1), ("c1", m2), ("c2", m1)):
            MaterialView.objects.create(person=s[who], material=material, opened_at=clock.now())
        ivan = review.attempt_submit(person=s["c1"], task=s.tasks[0], text=IVAN_ANSWER,
                                     link="", files=[])
        maria = review.attempt_submit(person=s["c2"], task=s.tasks[0], text="Ответ Марии",
                                      link="", files=[])
        maria2 = review.attempt_submit(person=s["c2"], task=s.tasks[1], text="Второй",
                                       link="", files=[])
        grisha = review.attempt_submit(person=s["c3"], task=s.tasks[0], text=GRISHA_ANSWER,
                                       link="", files=[])
        review.attempt_submit(person=s["senior"], task=s.senior_tasks[0], text="Разбор",
                              link="", files=[])
        curator = s["curator"]
        review.attempt_grade(attempt=ivan, curator=curator, grade=3, feedback="Отлично")
        review.attempt_grade(attempt=maria, curator=curator, grade=1, feedback="Слабо")
        review.attempt_grade(attempt=grisha, curator=curator, grade=3, feedback="Отлично")
        review.attempt_return_for_revision(attempt=maria2, curator=curator, feedback="Доработай")
    return s


def _content(s: Seed, name: str) -> DigestContent:
    return digest_build(s[name], s.program, DAY1, BEFORE_DIGEST)


def test_a_participant_sees_exactly_their_day(day: Seed) -> None:
    ivan = _content(day, "c1").participant
    assert ivan is not None
    assert (ivan.opened_today, ivan.answered_today, ivan.tasks_open) == (2, 1, 1)
    assert ivan.points_today == Decimal(3)
    assert ivan.points_total == Decimal(4)
    assert (ivan.rank, ivan.rank_change) == (1, 1)  # was second at the snapshot
    assert ivan.unit is not None
    assert (ivan.unit.name, ivan.unit.answered_today, ivan.unit.members) == (
        "Автоцентр Север", 3, 4,
    )
    assert ivan.unit.percent == 75

    maria = _content(day, "c2").participant
    assert maria is not None
    # Both tasks answered today; the returned one is open again.
    assert (maria.opened_today, maria.answered_today, maria.tasks_open, maria.returned) == (
        1, 2, 1, 1,
    )
    assert (maria.points_today, maria.points_total) == (Decimal(1), Decimal(3))
    assert maria.rank_change == -1


def test_only_consented_answers_are_quoted(day: Seed) -> None:
    maria = _content(day, "c2")
    assert [(a.author_first_name, a.task_title, a.grade) for a in maria.showcase] == [
        ("Иван", day.tasks[0].title, 3)
    ]
    text = digest_render(maria).text
    assert "Иван" in text and "предложил тест-драйв" in text
    assert GRISHA_ANSWER not in text and "Гриша" not in text
    # Nobody is shown their own answer as the example to follow.
    assert _content(day, "c1").showcase == ()


def test_withdrawn_consent_stops_the_quotes(day: Seed) -> None:
    services.showcase_consent_withdraw(person=day["c1"])
    assert _content(day, "c2").showcase == ()


def test_tomorrow_preview_lists_the_own_tracks_materials_on_the_own_clock(day: Seed) -> None:
    tomorrow = _content(day, "c1").tomorrow
    assert tomorrow is not None
    assert (tomorrow.date, tomorrow.day_index, tomorrow.titles) == (
        dt.date(2026, 11, 25), 2, ("Возражения клиентов",),
    )
    assert tomorrow.first_at is not None
    assert tomorrow.first_at.strftime("%H:%M %Z") == "10:00 +10"
    text = digest_render(_content(day, "c2")).text
    assert "Next: day 2, 25.11, first lesson at 10:00" in text


def test_a_supervisor_sees_the_team(day: Seed) -> None:
    content = _content(day, "senior")
    team = content.team
    assert team is not None
    assert (team.members, team.answered_today) == (4, 3)
    assert team.idle_names == ("Динова Дина",)
    assert team.returned_names == ("Консультант Мария",)
    assert team.points_today == Decimal(7)
    # The senior is enrolled too: their own day comes first.
    assert content.participant is not None
    boss = _content(day, "boss")
    assert boss.participant is None
    assert boss.team is not None and boss.team.members == 5  # the whole subtree


def test_a_supervisor_finds_the_days_open_support_tasks_in_the_digest(day: Seed) -> None:
    senior = day["senior"]
    with clock.frozen_at(BEFORE_DIGEST):
        generated = support_tasks_generate(
            program=day.program, day=day.tasks[0].day, now=BEFORE_DIGEST
        )
    mine = sorted((t for t in generated if t.supervisor_id == senior.pk),
                  key=lambda t: (t.created_at, t.pk))
    assert mine, "Maria's returned answer gives her senior a support task"
    content = _content(day, "senior")
    assert content.support_tasks == tuple(t.text for t in mine)
    assert mine[0].text in digest_render(content).text
    assert _content(day, "c1").support_tasks == ()  # consultants get none
    support_task_complete(task=mine[0], supervisor=senior, note="")
    assert mine[0].text not in _content(day, "senior").support_tasks


def test_a_curator_sees_the_queue_and_a_viewer_the_program(day: Seed) -> None:
    queue = _content(day, "curator").queue
    assert queue is not None
    assert (queue.waiting, queue.overdue) == (1, 0)
    assert queue.oldest_waiting == BEFORE_DIGEST - MORNING
    summary = _content(day, "viewer").summary
    assert summary is not None
    assert (summary.participants, summary.active_today, summary.answers_today) == (5, 4, 5)
    assert summary.graded_today == 3
    text = digest_render(_content(day, "curator")).text
    assert _content(day, "curator").participant is None
    assert "Your review queue" in text or "очередь" in text


def test_russian_by_default_english_on_request(day: Seed) -> None:
    russian = digest_render(_content(day, "c1"))
    assert "Ваш день" in russian.text
    assert "Добрый вечер, Иван!" in russian.text
    english = digest_render(_content(day, "c2"))
    assert english.subject == "Марафон продаж: day 1 digest"
    assert "Good evening, Мария!" in english.text
    assert "Best answers of the day" in english.text
    assert "<li>" in english.html and "<script" not in english.html
    assert len(english.text) <= 4096


def test_html_escapes_what_people_wrote(day: Seed) -> None:
    Person.objects.filter(pk=day["c1"].pk).update(full_name="Консультант <b>Иван</b>")
    html = digest_render(_content(day, "c2")).html
    assert "&lt;b&gt;Иван&lt;/b&gt;" in html


def test_preparation_puts_each_digest_in_the_outbox_at_18_on_the_own_clock(day: Seed) -> None:
    bot = TelegramBot.objects.create(
        organization=day.organization, token="1:t", username="digest_bot"
    )
    TelegramChat.objects.create(person=day["c1"], bot=bot, chat_id=1, bound_at=timezone.now())
    DeliveryPreference.objects.create(person=day["c3"], email_unsubscribed=True)
    # The slot in Vladivostok is due; Дина's 18:00 in Moscow is seven hours later.
    result = digest_prepare(
        day.program, DAY1, BEFORE_DIGEST,
        due_from=BEFORE_DIGEST - dt.timedelta(hours=2),
        due_until=BEFORE_DIGEST + dt.timedelta(minutes=15),
    )
    rows = {d.person_id: d for d in Delivery.objects.filter(kind=DeliveryKind.DIGEST)}
    assert day["c4"].pk not in rows
    assert day["c3"].pk not in rows  # no Telegram, e-mail unsubscribed
    assert result.unreachable == 1
    ivan = rows[day["c1"].pk]
    assert (ivan.channel, ivan.due_at, ivan.contact_point) == (
        "telegram", VLADIVOSTOK_18, f"digest:{day.program.pk}:2026-11-23",
    )
    assert ivan.priority == 40 and ivan.status == "planned"
    assert set(ivan.payload) == {"subject", "text", "html", "buttons"}
    assert "Ваш день" in ivan.payload["text"]
    maria = rows[day["c2"].pk]
    assert maria.channel == "email"
    assert "Иван" in maria.payload["html"]
    assert {day["curator"].pk, day["viewer"].pk, day["senior"].pk, day["boss"].pk} <= set(rows)

    # Later that day the Moscow slot comes due.
    with clock.frozen_at(MOSCOW_18):
        later = digest_prepare(
            day.program, DAY1, MOSCOW_18 - dt.timedelta(minutes=10),
            due_from=MOSCOW_18 - dt.timedelta(hours=2),
            due_until=MOSCOW_18 + dt.timedelta(minutes=5),
        )
    assert later.prepared == 1
    dina = Delivery.objects.get(person=day["c4"], kind=DeliveryKind.DIGEST)
    assert dina.due_at == MOSCOW_18


def test_preparation_is_idempotent(day: Seed) -> None:
    digests = Delivery.objects.filter(kind=DeliveryKind.DIGEST)
    first = digest_prepare(day.program, DAY1, BEFORE_DIGEST)
    count = digests.count()
    assert first.prepared == count > 0
    second = digest_prepare(day.program, DAY1, BEFORE_DIGEST)
    assert (second.due, second.prepared) == (0, 0)
    assert digests.count() == count
    # The job's own window finds nothing more to do either.
    services.digest_prepare_due(BEFORE_DIGEST)
    assert digests.count() == count


def test_the_job_prepares_only_digests_due_soon(day: Seed) -> None:
    digests = Delivery.objects.filter(kind=DeliveryKind.DIGEST)
    assert services.digest_prepare_due(VLADIVOSTOK_18 - dt.timedelta(hours=1)) == {}
    assert not digests.exists()
    results = services.digest_prepare_due(VLADIVOSTOK_18 - dt.timedelta(minutes=10))
    assert sum(r.prepared for r in results.values()) == digests.count() > 0
    assert not digests.filter(person=day["c4"]).exists()


def test_no_digest_on_a_day_that_is_not_a_learning_day(day: Seed) -> None:
    result = digest_prepare(day.program, DAY1 + dt.timedelta(days=1), BEFORE_DIGEST)
    assert result.prepared == 0
    assert DigestDay.load(day.program, DAY1 + dt.timedelta(days=1), BEFORE_DIGEST) is None


def test_preview_page_and_consent_page(day: Seed) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(day.users["c2"])
    with clock.frozen_at(BEFORE_DIGEST):
        page = client.get(f"/digest/{day.program.slug}/today/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Best answers of the day" in body and "Иван" in body
    assert "18:00" in body

    # A participant may not preview someone else; an admin may.
    with clock.frozen_at(BEFORE_DIGEST):
        assert client.get(f"/digest/{day.program.slug}/today/?person=C-1").status_code == 404
        admin = Client(HTTP_ACCEPT_LANGUAGE="en")
        admin.force_login(day.users["admin"])
        other = admin.get(f"/digest/{day.program.slug}/today/?person=C-4")
    assert other.status_code == 200
    assert "Динова Дина" in other.content.decode()

    grisha = Client(HTTP_ACCEPT_LANGUAGE="en")
    grisha_user = day["c3"].user
    assert grisha_user is not None
    grisha.force_login(grisha_user)
    assert "not quoted" in grisha.get("/digest/showcase/").content.decode()
    grisha.post("/digest/showcase/", {"consent": "give"})
    assert "Гриша" in [a.author_first_name for a in _content(day, "c2").showcase]
    grisha.post("/digest/showcase/", {"consent": "withdraw"})
    assert "Гриша" not in [a.author_first_name for a in _content(day, "c2").showcase]


def test_first_names_and_excerpts() -> None:
    assert first_name_of("Иванова Мария Петровна") == "Мария"
    assert first_name_of("Петров Иван") == "Иван"
    assert first_name_of("Anna Smith") == "Anna"
    long = "слово " * 100
    cut = excerpt_of(long, 40)
    assert len(cut) <= 40 and cut.endswith("…")
