"""The program matrix file: the example, round trips, located errors, updates in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from django.utils import translation

from fokus.core.models import Organization
from fokus.programs.matrix import MatrixError, parse_matrix
from fokus.programs.models import LearningDay, Material, Program, Slot, Task, Track
from fokus.programs.queries import program_matrix_text
from fokus.programs.services import ProgramImportError, program_enroll, program_import
from fokus.programs.tests.matrix_factories import EXAMPLE, SMALL, make_person, row_counts


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def test_example_has_seven_learning_days_on_mon_wed_fri_over_sixteen_days() -> None:
    spec = parse_matrix(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE.name)
    assert (spec.ends_on - spec.starts_on).days + 1 == 16
    assert spec.starts_on.weekday() == 0
    dates = spec.learning_dates
    assert len(dates) == 7
    assert {d.weekday() for d in dates} == {0, 2, 4}
    assert [(f"{s.at:%H:%M}", s.kind) for s in spec.slots] == [
        ("10:00", "lesson"),
        ("14:00", "lesson"),
        ("18:00", "digest"),
    ]
    consultants, seniors = spec.tracks
    assert (consultants.slug, seniors.slug, seniors.follows) == (
        "consultants",
        "seniors",
        "consultants",
    )
    assert [d.index for d in consultants.days] == [1, 2, 3, 4, 5, 6, 7]
    assert all(len(d.slots) == 2 for d in consultants.days)
    assert [d.index for d in seniors.days] == [1, 3, 5, 7]
    assert all([f"{s.at:%H:%M}" for s in d.slots] == ["10:00"] for d in seniors.days)
    materials = [m for t in spec.tracks for d in t.days for s in d.slots for m in s.materials]
    assert len(materials) == 18
    for m in materials:
        assert 10 <= m.minutes <= 15
        assert 150 <= len(m.body.split()) <= 300, m.title
    crm = consultants.days[4].slots[1].tasks[0]
    assert "скриншот карточки клиента" in crm.prompt.lower()
    assert set(crm.answer_kinds) >= {"photo", "file"}
    closing = consultants.days[3].slots[1].tasks[0]
    assert closing.prompt.startswith("Фото или текст") and set(closing.answer_kinds) == {
        "text",
        "photo",
    }


def test_example_imports_and_exports_byte_for_byte(org_a: Organization) -> None:
    raw = EXAMPLE.read_bytes()
    program = program_import(organization=org_a, text=raw.decode("utf-8"), source_name=EXAMPLE.name)
    exported = program_matrix_text(program).encode("utf-8")
    assert exported == raw
    assert "Продавцы-консультанты".encode() in exported  # Cyrillic is not escaped
    assert b"body: |\n" in exported
    assert LearningDay.objects.filter(program=program).count() == 7
    assert Material.objects.filter(track__program=program).count() == 18


def test_small_matrix_round_trips_and_russian_weekdays_export_in_english(
    org_a: Organization,
) -> None:
    program = program_import(organization=org_a, text=SMALL, source_name="s.yaml")
    assert program_matrix_text(program) == SMALL
    russian = SMALL.replace("[mon, wed, fri]", "пн, ср, пт").replace("at: '10:00'", "at: 10:00")
    program = program_import(organization=org_a, text=russian, source_name="s.yaml")
    assert program.learning_weekdays == "mon,wed,fri"
    assert program_matrix_text(program) == SMALL


BAD_INPUTS = [
    pytest.param(
        SMALL.replace("learning_weekdays: [mon, wed, fri]", "learning_weekdays: [mon, wed"),
        "s.yaml:7:6: malformed YAML",
        id="malformed-yaml",
    ),
    pytest.param(
        SMALL.replace("[mon, wed, fri]", "[mon, wensday, fri]"),
        's.yaml:6 learning_weekdays[1]: unknown weekday "wensday"',
        id="weekday",
    ),
    pytest.param(
        SMALL.replace("at: '18:00'", "at: '6pm'"),
        's.yaml:10 slots[1].at: expected a local time as "HH:MM"',
        id="time-format",
    ),
    pytest.param(
        SMALL.replace("at: '18:00'", "at: '24:30'"),
        's.yaml:10 slots[1].at: "24:30" is outside 00:00–23:59',
        id="time-range",
    ),
    pytest.param(
        SMALL.replace("at: '18:00'\n  kind: digest", "at: '10:00'\n  kind: digest"),
        's.yaml:10 slots[1].at: slot time "10:00" is listed twice',
        id="duplicate-slot",
    ),
    pytest.param(
        SMALL.replace("follows: consultants", "follows: seniors"),
        's.yaml:32 tracks[1].follows: track "seniors" cannot follow itself',
        id="self-link",
    ),
    pytest.param(
        SMALL.replace("  title: Консультанты\n", "  title: Консультанты\n  follows: seniors\n"),
        "tracks follow each other in a cycle: consultants → seniors → consultants",
        id="cycle",
    ),
    pytest.param(
        SMALL.replace("follows: consultants", "follows: senior"),
        's.yaml:32 tracks[1].follows: unknown track "senior"',
        id="unknown-follows",
    ),
    pytest.param(
        SMALL.replace("  - day: 1", "  - day: 4"),
        "s.yaml:16 tracks[0].days[0].day: day 4 does not exist: the program has 3 learning days",
        id="day-beyond",
    ),
    pytest.param(
        SMALL.replace("    - at: '10:00'\n      materials", "    - at: '18:00'\n      materials"),
        's.yaml:18 tracks[0].days[0].slots[0].at: slot "18:00" is a digest slot',
        id="non-lesson",
    ),
    pytest.param(
        SMALL.replace("    - at: '10:00'\n      materials", "    - at: '11:00'\n      materials"),
        's.yaml:18 tracks[0].days[0].slots[0].at: no slot at "11:00"',
        id="unknown-slot",
    ),
    pytest.param(
        SMALL.replace("[text, photo]", "[text, video]"),
        "s.yaml:28 tracks[0].days[0].slots[0].tasks[0].answer_kinds[1]: "
        'unknown answer kind "video"',
        id="answer-kind",
    ),
    pytest.param(
        SMALL.replace("ends_on: 2026-03-08", "ends_on: 2026-02-28"),
        "s.yaml:5 ends_on: ends_on 2026-02-28 is before starts_on 2026-03-02",
        id="ends-before",
    ),
    pytest.param(
        SMALL.replace("- slug: seniors", "- slug: consultants"),
        's.yaml:30 tracks[1].slug: track slug "consultants" is used twice',
        id="duplicate-slug",
    ),
    pytest.param(
        SMALL.replace("        minutes: 12", "        minutes: 12\n        minuts: 15"),
        "s.yaml:22 tracks[0].days[0].slots[0].materials[0].minuts: unknown key",
        id="unknown-key",
    ),
    pytest.param(
        SMALL.replace("title: Спринт", "title: Спринт\ntitle: Ещё"),
        "s.yaml:3 title: duplicate key",
        id="duplicate-key",
    ),
    pytest.param(
        SMALL.replace("minutes: 12", "minutes: 200"),
        "s.yaml:21 tracks[0].days[0].slots[0].materials[0].minutes: 200 is outside 1..120",
        id="minutes-range",
    ),
    pytest.param(
        SMALL.replace("minutes: 12", "minutes: twelve"),
        "s.yaml:21 tracks[0].days[0].slots[0].materials[0].minutes: expected a whole number",
        id="minutes-type",
    ),
    pytest.param(
        SMALL.replace("slug: sprint", "slug: Sprint 1"),
        's.yaml:1 slug: "Sprint 1" is not a slug',
        id="bad-slug",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_INPUTS)
def test_bad_input_is_located_and_nothing_is_written(
    org_a: Organization, text: str, expected: str
) -> None:
    before = row_counts()
    with pytest.raises(MatrixError) as caught:
        program_import(organization=org_a, text=text, source_name="s.yaml")
    assert expected in str(caught.value), str(caught.value)
    assert row_counts() == before


def test_bad_update_leaves_the_existing_program_untouched(org_a: Organization) -> None:
    program_import(organization=org_a, text=SMALL, source_name="s.yaml")
    before = row_counts()
    bad = SMALL.replace("Текст урока.", "Новый текст.").replace(
        "follows: consultants", "follows: nobody"
    )
    with pytest.raises(MatrixError):
        program_import(organization=org_a, text=bad, source_name="s.yaml")
    assert row_counts() == before
    assert Material.objects.get().body == "Текст урока.\n"


def test_every_problem_is_reported_at_once() -> None:
    bad = SMALL.replace("[mon, wed, fri]", "[mon, xx]").replace(
        "follows: consultants", "follows: zz"
    )
    with pytest.raises(MatrixError) as caught:
        parse_matrix(bad, "s.yaml")
    paths = [i.path for i in caught.value.issues]
    assert "learning_weekdays[1]" in paths and "tracks[1].follows" in paths


def test_reimport_after_editing_a_task_title_updates_in_place(org_a: Organization) -> None:
    program = program_import(
        organization=org_a, text=EXAMPLE.read_text(encoding="utf-8"), source_name="x"
    )
    ids = {
        "program": program.pk,
        "tracks": sorted(Track.objects.filter(program=program).values_list("pk", flat=True)),
        "slots": sorted(Slot.objects.filter(program=program).values_list("pk", flat=True)),
        "days": sorted(LearningDay.objects.filter(program=program).values_list("pk", flat=True)),
        "materials": sorted(
            Material.objects.filter(track__program=program).values_list("pk", flat=True)
        ),
        "tasks": sorted(Task.objects.filter(track__program=program).values_list("pk", flat=True)),
    }
    task = Task.objects.get(track__slug="consultants", day__index=1, slot__local_time="10:00")
    edited = EXAMPLE.read_text(encoding="utf-8").replace(
        "title: Как вы начали разговор", "title: Как вы открыли разговор"
    )
    program = program_import(organization=org_a, text=edited, source_name="x")
    assert program.pk == ids["program"]
    assert (
        sorted(Task.objects.filter(track__program=program).values_list("pk", flat=True))
        == ids["tasks"]
    )
    assert (
        sorted(Material.objects.filter(track__program=program).values_list("pk", flat=True))
        == ids["materials"]
    )
    assert (
        sorted(LearningDay.objects.filter(program=program).values_list("pk", flat=True))
        == ids["days"]
    )
    assert sorted(Slot.objects.filter(program=program).values_list("pk", flat=True)) == ids["slots"]
    assert (
        sorted(Track.objects.filter(program=program).values_list("pk", flat=True)) == ids["tracks"]
    )
    task.refresh_from_db()
    assert task.title == "Как вы открыли разговор"
    assert program_matrix_text(program) == edited


def test_reimport_removes_what_the_file_no_longer_has_and_moves_dates(org_a: Organization) -> None:
    program = program_import(organization=org_a, text=SMALL, source_name="s.yaml")
    day1 = LearningDay.objects.get(program=program, index=1)
    # One week later, a 14:00 lesson instead of the task; the digest slot is gone.
    smaller = (
        SMALL.replace("2026-03-02", "2026-03-04")
        .replace("2026-03-08", "2026-03-13")
        .replace("- at: '18:00'\n  kind: digest\n", "- at: '14:00'\n  kind: lesson\n")
        .replace(
            "      tasks:\n      - title: Задание\n        prompt: |\n          Опишите разговор.\n"
            "        answer_kinds: [text, photo]\n        grade_max: 3\n",
            "",
        )
    )
    program = program_import(organization=org_a, text=smaller, source_name="s.yaml")
    assert Task.objects.filter(track__program=program).count() == 0
    assert list(Slot.objects.filter(program=program).values_list("kind", flat=True)) == [
        "lesson",
        "lesson",
    ]
    day1.refresh_from_db()
    assert day1.date == date(2026, 3, 4)
    assert list(LearningDay.objects.filter(program=program).values_list("date", flat=True)) == [
        date(2026, 3, 4),
        date(2026, 3, 6),
        date(2026, 3, 9),
        date(2026, 3, 11),
        date(2026, 3, 13),
    ]
    assert program_matrix_text(program) == smaller


def test_reimport_refuses_to_drop_a_track_with_enrolled_people(org_a: Organization) -> None:
    program = program_import(organization=org_a, text=SMALL, source_name="s.yaml")
    senior = make_person(org_a, "S1")
    program_enroll(program=program, track=Track.objects.get(slug="seniors"), people=[senior])
    without_seniors = SMALL[: SMALL.index("- slug: seniors")]
    before = row_counts()
    with pytest.raises(ProgramImportError, match=r'track "seniors".*1 enrolled'):
        program_import(organization=org_a, text=without_seniors, source_name="s.yaml")
    assert row_counts() == before


def test_same_slug_in_two_organisations_are_two_programs(
    org_a: Organization, org_b: Organization
) -> None:
    a = program_import(organization=org_a, text=SMALL, source_name="s.yaml")
    b = program_import(
        organization=org_b, text=SMALL.replace("Спринт", "Чужой"), source_name="s.yaml"
    )
    assert a.pk != b.pk
    assert Program.objects.get(pk=a.pk).title == "Спринт"
