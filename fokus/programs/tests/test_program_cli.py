"""`fokus program ...` and `fokus schedule ...` as a script sees them: JSON and exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from fokus.core.models import Organization
from fokus.programs.models import Enrollment
from fokus.programs.tests.matrix_factories import EXAMPLE, SMALL, make_person, row_counts


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> Any:
    return json.loads(run(*args))


@pytest.fixture
def imported(org_a: Organization) -> dict[str, Any]:
    return run_json("program", "import", str(EXAMPLE), "--org", org_a.slug)


def test_import_prints_a_summary(imported: dict[str, Any]) -> None:
    assert imported["slug"] == "sales-marathon"
    assert imported["tracks"] == [
        {"slug": "consultants", "title": "Продавцы-консультанты", "follows": None},
        {"slug": "seniors", "title": "Старшие", "follows": "consultants"},
    ]
    assert [d["date"] for d in imported["learning_days"]] == [
        "2026-11-23",
        "2026-11-25",
        "2026-11-27",
        "2026-11-30",
        "2026-12-02",
        "2026-12-04",
        "2026-12-07",
    ]
    assert imported["counts"] == {"tracks": 2, "learning_days": 7, "materials": 18, "tasks": 18}


def test_export_to_stdout_and_to_a_file_is_the_file_itself(
    org_a: Organization, imported: dict[str, Any], tmp_path: Path
) -> None:
    assert run("program", "export", "sales-marathon", "--org", org_a.slug) == EXAMPLE.read_text(
        encoding="utf-8"
    )
    target = tmp_path / "out.yaml"
    run("program", "export", "sales-marathon", "--org", org_a.slug, "--output", str(target))
    assert target.read_bytes() == EXAMPLE.read_bytes()


def test_bad_file_exits_with_the_located_message_and_writes_nothing(
    org_a: Organization, tmp_path: Path
) -> None:
    bad = tmp_path / "sales.yaml"
    bad.write_text(SMALL.replace("follows: consultants", "follows: senior"), encoding="utf-8")
    before = row_counts()
    with pytest.raises(
        CommandError, match=r'sales\.yaml:32 tracks\[1\]\.follows: unknown track "senior"'
    ):
        run("program", "import", str(bad), "--org", org_a.slug)
    assert row_counts() == before
    cp1251 = tmp_path / "cp.yaml"
    cp1251.write_bytes(SMALL.encode("cp1251"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run("program", "import", str(cp1251), "--org", org_a.slug)
    with pytest.raises(CommandError, match="Unknown organisation"):
        run("program", "import", str(EXAMPLE), "--org", "nobody")


def test_show_json_has_tracks_days_slots_and_content(
    org_a: Organization, imported: dict[str, Any]
) -> None:
    shown = run_json("program", "show", "sales-marathon", "--org", org_a.slug, "--format", "json")
    consultants, seniors = shown["tracks"]
    assert (seniors["slug"], seniors["follows"]) == ("seniors", "consultants")
    day1 = consultants["days"][0]
    assert (day1["index"], day1["date"]) == (1, "2026-11-23")
    assert [(s["local_time"], s["kind"]) for s in day1["slots"]] == [
        ("10:00", "lesson"),
        ("14:00", "lesson"),
        ("18:00", "digest"),
    ]
    assert day1["slots"][0]["materials"] == [
        {"title": "Первые 30 секунд с клиентом", "minutes": 12}
    ]
    assert day1["slots"][0]["tasks"] == [
        {"title": "Как вы начали разговор", "answer_kinds": ["text"], "grade_max": 3}
    ]
    assert day1["slots"][2] == {
        "local_time": "18:00",
        "kind": "digest",
        "materials": [],
        "tasks": [],
    }
    # The seniors have a lesson on odd days only; on day 2 just the digest.
    assert [s["local_time"] for s in seniors["days"][1]["slots"]] == ["18:00"]
    text = run("program", "show", "sales-marathon", "--org", org_a.slug)
    assert "Первые 30 секунд с клиентом" in text and "seniors" in text


def test_enroll_json_idempotent_with_supervisors(
    org_a: Organization, imported: dict[str, Any]
) -> None:
    senior = make_person(org_a, "S1")
    make_person(org_a, "C1", manager=senior)
    make_person(org_a, "C2", manager=senior)
    args = (
        "program",
        "enroll",
        "sales-marathon",
        "--org",
        org_a.slug,
        "--track",
        "consultants",
        "C1",
        "C2",
    )
    first = run_json(*args, "--with-supervisors")
    assert first == {
        "program": "sales-marathon",
        "track": "consultants",
        "enrolled": ["C1", "C2"],
        "already_enrolled": [],
        "supervisors": {"seniors": {"enrolled": ["S1"], "already_enrolled": []}},
    }
    second = run_json(*args)
    assert second == {
        "program": "sales-marathon",
        "track": "consultants",
        "enrolled": [],
        "already_enrolled": ["C1", "C2"],
    }


def test_enroll_unknown_numbers_are_named_and_nothing_is_written(
    org_a: Organization, org_b: Organization, imported: dict[str, Any]
) -> None:
    make_person(org_a, "C1")
    make_person(org_b, "B7")  # another organisation's number is unknown here
    with pytest.raises(CommandError, match="Unknown employee numbers in alpha: X9, B7"):
        run(
            "program",
            "enroll",
            "sales-marathon",
            "--org",
            org_a.slug,
            "--track",
            "consultants",
            "C1",
            "X9",
            "B7",
        )
    assert Enrollment.objects.count() == 0
    with pytest.raises(CommandError, match='no track "junior"; its tracks: consultants, seniors'):
        run("program", "enroll", "sales-marathon", "--org", org_a.slug, "--track", "junior", "C1")
    with pytest.raises(CommandError, match='no program "nope"'):
        run("program", "enroll", "nope", "--org", org_a.slug, "--track", "consultants", "C1")


def test_schedule_json_in_the_persons_zone(org_a: Organization, imported: dict[str, Any]) -> None:
    make_person(org_a, "V1", zone="Asia/Vladivostok")
    run("program", "enroll", "sales-marathon", "--org", org_a.slug, "--track", "consultants", "V1")
    rows = run_json(
        "schedule", "V1", "--org", org_a.slug, "--program", "sales-marathon", "--format", "json"
    )
    assert len(rows) == 21
    assert rows[0] == {
        "day": 1,
        "kind": "lesson",
        "local": "2026-11-23T10:00:00+10:00",
        "utc": "2026-11-23T00:00:00Z",
    }
    assert rows[-1] == {
        "day": 7,
        "kind": "digest",
        "local": "2026-12-07T18:00:00+10:00",
        "utc": "2026-12-07T08:00:00Z",
    }
    text = run("schedule", "V1", "--org", org_a.slug, "--program", "sales-marathon")
    assert "2026-11-23 10:00 +10:00" in text and "00:00 UTC" in text
    with pytest.raises(CommandError, match='no person with employee number "Z1"'):
        run("schedule", "Z1", "--org", org_a.slug, "--program", "sales-marathon")
