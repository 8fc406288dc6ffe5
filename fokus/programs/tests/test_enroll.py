"""Enrollment: idempotent, and seniors follow their consultants into the linked track."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fokus.core.clock import frozen_at
from fokus.core.models import Organization
from fokus.programs.models import Enrollment, EnrollmentStatus, Program, Track
from fokus.programs.services import program_enroll, program_import
from fokus.programs.tests.matrix_factories import EXAMPLE, make_person


@pytest.fixture
def program(org_a: Organization) -> Program:
    return program_import(
        organization=org_a, text=EXAMPLE.read_text(encoding="utf-8"), source_name="x"
    )


def test_enrolling_twice_changes_nothing(org_a: Organization, program: Program) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    people = [make_person(org_a, "C1"), make_person(org_a, "C2")]
    with frozen_at(datetime(2026, 11, 20, 9, tzinfo=UTC)):
        first = program_enroll(program=program, track=consultants, people=people)
    assert [p.employee_number for p in first.enrolled] == ["C1", "C2"]
    rows = list(
        Enrollment.objects.order_by("pk").values_list("pk", "person_id", "enrolled_at", "status")
    )
    assert rows[0][2] == datetime(2026, 11, 20, 9, tzinfo=UTC)

    second = program_enroll(program=program, track=consultants, people=[*people, people[0]])
    assert second.enrolled == []
    assert [p.employee_number for p in second.already_enrolled] == ["C1", "C2"]
    assert (
        list(
            Enrollment.objects.order_by("pk").values_list(
                "pk", "person_id", "enrolled_at", "status"
            )
        )
        == rows
    )


def test_a_withdrawn_person_is_enrolled_again(org_a: Organization, program: Program) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    person = make_person(org_a, "C1")
    program_enroll(program=program, track=consultants, people=[person])
    Enrollment.objects.update(status=EnrollmentStatus.WITHDRAWN)
    report = program_enroll(program=program, track=consultants, people=[person])
    assert report.enrolled == [person]
    assert Enrollment.objects.get().status == EnrollmentStatus.ACTIVE


def test_with_supervisors_enrols_direct_managers_into_the_following_track(
    org_a: Organization, program: Program
) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    seniors = Track.objects.get(program=program, slug="seniors")
    head = make_person(org_a, "H1")
    senior_a = make_person(org_a, "S1", manager=head)
    senior_b = make_person(org_a, "S2", manager=head)
    team = [
        make_person(org_a, "C1", manager=senior_a),
        make_person(org_a, "C2", manager=senior_a),
        make_person(org_a, "C3", manager=senior_b),
        make_person(org_a, "C4"),
    ]
    report = program_enroll(program=program, track=consultants, people=team, with_supervisors=True)
    enrolled, already = report.supervisors["seniors"]
    assert [p.employee_number for p in enrolled] == ["S1", "S2"] and already == []
    assert set(
        Enrollment.objects.filter(track=seniors).values_list("person__employee_number", flat=True)
    ) == {
        "S1",
        "S2",
    }
    # The head of the seniors is nobody's direct manager here, and nobody joins the
    # consultants' track as a supervisor.
    assert not Enrollment.objects.filter(person=head).exists()
    assert Enrollment.objects.filter(track=consultants).count() == 4

    again = program_enroll(program=program, track=consultants, people=team, with_supervisors=True)
    assert again.supervisors["seniors"][0] == []
    assert Enrollment.objects.count() == 6


def test_without_the_flag_no_supervisor_is_enrolled(org_a: Organization, program: Program) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    senior = make_person(org_a, "S1")
    program_enroll(
        program=program, track=consultants, people=[make_person(org_a, "C1", manager=senior)]
    )
    assert not Enrollment.objects.filter(person=senior).exists()


def test_people_of_another_organisation_are_refused(
    org_a: Organization, org_b: Organization, program: Program
) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    with pytest.raises(ValueError, match="another organisation"):
        program_enroll(program=program, track=consultants, people=[make_person(org_b, "X1")])
    assert Enrollment.objects.count() == 0
