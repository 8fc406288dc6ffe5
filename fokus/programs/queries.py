"""Reads about programs, their content, enrollments and schedules.

Several features add readers here; keep each function scoped by organisation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.db.models import Count, QuerySet

from fokus.core.models import Organization
from fokus.people.models import Person, Role
from fokus.programs.matrix import (
    DaySpec,
    MaterialSpec,
    ProgramSpec,
    SlotContentSpec,
    SlotSpec,
    TaskSpec,
    TrackSpec,
    dump_matrix,
)
from fokus.programs.models import (
    AnswerKind,
    Enrollment,
    EnrollmentStatus,
    LearningDay,
    Material,
    Program,
    Slot,
    SlotKind,
    Task,
    Track,
)
from fokus.programs.schedule import (
    ContactPoint,
    ContactPointTable,
    SlotOccurrence,
    contact_instant,
    contact_points,
)
from fokus.programs.schedule import zone as schedule_zone

# --- Participant pages: today, calendar, material (reads for fokus/programs/web/participant.py)


@dataclass(slots=True)
class ParticipantSlot:
    """One contact point of a person: a slot on a learning day with what it brings."""

    day: LearningDay
    slot: Slot
    point: ContactPoint
    materials: list[Material] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    is_open: bool = False

    @property
    def kind(self) -> str:
        return self.slot.kind

    @property
    def local(self) -> datetime:
        return self.point.local


@dataclass(slots=True)
class ParticipantDay:
    day: LearningDay
    slots: list[ParticipantSlot]
    state: str  # "past", "today" or "future", by the person's local date


@dataclass(slots=True)
class ParticipantSchedule:
    """A person's contact points in one program, across their active tracks there."""

    program: Program
    tracks: list[Track]
    time_zone: str
    local_now: datetime
    day_count: int
    slots: list[ParticipantSlot]

    @property
    def local_date(self) -> date:
        return self.local_now.date()

    def days(self) -> list[ParticipantDay]:
        by_day: dict[int, list[ParticipantSlot]] = {}
        days: dict[int, LearningDay] = {}
        for entry in self.slots:
            by_day.setdefault(entry.day.pk, []).append(entry)
            days[entry.day.pk] = entry.day
        result = []
        for day in sorted(days.values(), key=lambda d: d.index):
            if day.date < self.local_date:
                state = "past"
            elif day.date == self.local_date:
                state = "today"
            else:
                state = "future"
            result.append(ParticipantDay(day=day, slots=by_day[day.pk], state=state))
        return result


@dataclass(slots=True)
class ParticipantToday:
    schedule: ParticipantSchedule
    today: LearningDay | None
    today_slots: list[ParticipantSlot]
    next_slot: ParticipantSlot | None
    next_day: LearningDay | None  # set when today is not a learning day
    state: str  # "upcoming", "running" or "finished"

    @property
    def program(self) -> Program:
        return self.schedule.program


def participant_enrollments(*, person: Person) -> list[Enrollment]:
    """The person's active enrollments, oldest program first."""
    return list(
        Enrollment.objects.select_related("track__program")
        .filter(
            person=person,
            status=EnrollmentStatus.ACTIVE,
            track__program__organization_id=person.organization_id,
        )
        .order_by("track__program__starts_on", "track__program__slug", "track__position")
    )


def participant_program(*, person: Person, slug: str) -> Program | None:
    """A program of the person's organisation that the person is actively enrolled in."""
    return (
        Program.objects.filter(
            organization_id=person.organization_id,
            slug=slug,
            tracks__enrollments__person=person,
            tracks__enrollments__status=EnrollmentStatus.ACTIVE,
        )
        .distinct()
        .first()
    )


def participant_schedule(*, person: Person, program: Program, now: datetime) -> ParticipantSchedule:
    """Every contact point of `person` in `program` with what it brings, on their clock."""
    tracks = list(
        Track.objects.filter(
            program=program,
            program__organization_id=person.organization_id,
            enrollments__person=person,
            enrollments__status=EnrollmentStatus.ACTIVE,
        ).order_by("position", "slug")
    )
    days = {d.index: d for d in program.learning_days.all()}
    slots = {s.local_time: s for s in program.slots.all()}
    materials: dict[tuple[int, int], list[Material]] = {}
    for m in Material.objects.filter(track__in=tracks).order_by("track__position", "position"):
        materials.setdefault((m.day_id, m.slot_id), []).append(m)
    tasks: dict[tuple[int, int], list[Task]] = {}
    for t in Task.objects.filter(track__in=tracks).order_by("track__position", "position"):
        tasks.setdefault((t.day_id, t.slot_id), []).append(t)
    # The same contact points as `fokus schedule` and the reminders: one rule, one place.
    entries = []
    for point in person_contact_points(program=program, person=person):
        day, slot = days[point.day_index], slots[point.slot_time]
        entries.append(
            ParticipantSlot(
                day=day,
                slot=slot,
                point=point,
                materials=materials.get((day.pk, slot.pk), []),
                tasks=tasks.get((day.pk, slot.pk), []),
                is_open=point.utc <= now,
            )
        )
    entries.sort(key=lambda e: (e.point.utc, e.slot.local_time))
    return ParticipantSchedule(
        program=program,
        tracks=tracks,
        time_zone=person.time_zone,
        local_now=now.astimezone(schedule_zone(person.time_zone)),
        day_count=len(days),
        slots=entries,
    )


def participant_today(*, person: Person, now: datetime) -> list[ParticipantToday]:
    """Per enrolled program: today's learning day in the person's zone and what comes next."""
    programs: dict[int, Program] = {}
    for enrollment in participant_enrollments(person=person):
        programs.setdefault(enrollment.track.program_id, enrollment.track.program)
    result = []
    for program in programs.values():
        sched = participant_schedule(person=person, program=program, now=now)
        local_date = sched.local_date
        today = program.learning_days.filter(date=local_date).first()
        later_days = [e.day for e in sched.slots if e.day.date > local_date]
        last_date = max((e.day.date for e in sched.slots), default=program.ends_on)
        if local_date < program.starts_on:
            state = "upcoming"
        elif local_date > min(program.ends_on, last_date):
            state = "finished"
        else:
            state = "running"
        result.append(
            ParticipantToday(
                schedule=sched,
                today=today,
                today_slots=[e for e in sched.slots if e.day.date == local_date],
                next_slot=next((e for e in sched.slots if not e.is_open), None),
                next_day=None if today is not None else (later_days[0] if later_days else None),
                state=state,
            )
        )
    return result


@dataclass(slots=True)
class ParticipantMaterial:
    material: Material
    tasks: list[Task]
    enrolled: bool
    may_preview: bool
    opens_at: datetime  # UTC instant of the material's slot on the person's wall clock


PREVIEW_ROLES = frozenset({Role.AUTHOR, Role.ADMIN, Role.CURATOR})


def participant_material(*, person: Person, material_id: int) -> ParticipantMaterial | None:
    """A material of the person's organisation that they may see, or None (a 404).

    Enrolled participants of its track see it; authors, admins and curators of the
    organisation preview any. Whether its slot time has come is the caller's call.
    """
    material = (
        Material.objects.select_related("track__program", "day", "slot")
        .filter(pk=material_id, track__program__organization_id=person.organization_id)
        .first()
    )
    if material is None:
        return None
    enrolled = Enrollment.objects.filter(
        person=person, track=material.track, status=EnrollmentStatus.ACTIVE
    ).exists()
    may_preview = bool(person.role_set & PREVIEW_ROLES)
    if not enrolled and not may_preview:
        return None
    tasks = list(
        Task.objects.filter(track=material.track, day=material.day, slot=material.slot)
        .order_by("position")
    )
    opens_at = contact_instant(material.day.date, material.slot.local_time, person.time_zone)
    return ParticipantMaterial(
        material=material, tasks=tasks, enrolled=enrolled, may_preview=may_preview,
        opens_at=opens_at,
    )


# --- Authoring: the program matrix as authors see it -----------------------------------


@dataclass(frozen=True)
class MatrixCell:
    """What one track teaches in one lesson slot of one learning day."""

    day: LearningDay
    slot: Slot
    track: Track
    materials: tuple[Material, ...]
    tasks: tuple[Task, ...]

    @property
    def dom_id(self) -> str:
        return f"cell-d{self.day.index}-s{self.slot.pk}-{self.track.slug}"

    @property
    def is_empty(self) -> bool:
        return not self.materials and not self.tasks

    @property
    def task_entries(self) -> tuple[tuple[Task, tuple[str, ...]], ...]:
        """Each task with its accepted answer kinds as labels in the reader's language."""
        labels = dict(AnswerKind.choices)
        return tuple(
            (task, tuple(str(labels.get(k, k)) for k in task.answer_kind_list))
            for task in self.tasks
        )


@dataclass(frozen=True)
class MatrixRow:
    day: LearningDay
    cells: tuple[MatrixCell, ...]


@dataclass(frozen=True)
class AuthoringMatrix:
    """Days × lesson slots × tracks; columns are grouped by track, then slot time."""

    program: Program
    tracks: tuple[Track, ...]
    lesson_slots: tuple[Slot, ...]
    other_slots: tuple[Slot, ...]
    rows: tuple[MatrixRow, ...]


def programs_for_authoring(*, organization: Organization) -> QuerySet[Program]:
    return Program.objects.filter(organization=organization).annotate(
        track_count=Count("tracks", distinct=True),
        day_count=Count("learning_days", distinct=True),
    ).order_by("-starts_on", "slug")


def program_for_authoring(*, organization: Organization, slug: str) -> Program | None:
    return Program.objects.filter(organization=organization, slug=slug).first()


def authoring_matrix(*, program: Program) -> AuthoringMatrix:
    """The whole grid in five queries, however many days, slots and tracks."""
    tracks = tuple(Track.objects.filter(program=program).select_related("follows"))
    slots = tuple(Slot.objects.filter(program=program).order_by("local_time"))
    days = tuple(LearningDay.objects.filter(program=program).order_by("index"))
    lesson_slots = tuple(s for s in slots if s.kind == SlotKind.LESSON)
    by_place: dict[tuple[int, int, int], tuple[list[Material], list[Task]]] = {}
    for material in Material.objects.filter(track__program=program).order_by("position", "pk"):
        key = (material.day_id, material.slot_id, material.track_id)
        by_place.setdefault(key, ([], []))[0].append(material)
    for task in Task.objects.filter(track__program=program).order_by("position", "pk"):
        key = (task.day_id, task.slot_id, task.track_id)
        by_place.setdefault(key, ([], []))[1].append(task)
    rows = []
    for day in days:
        cells = []
        for track in tracks:
            for slot in lesson_slots:
                materials, tasks = by_place.get((day.pk, slot.pk, track.pk), ([], []))
                cells.append(MatrixCell(day, slot, track, tuple(materials), tuple(tasks)))
        rows.append(MatrixRow(day=day, cells=tuple(cells)))
    return AuthoringMatrix(
        program=program,
        tracks=tracks,
        lesson_slots=lesson_slots,
        other_slots=tuple(s for s in slots if s.kind != SlotKind.LESSON),
        rows=tuple(rows),
    )


def authoring_cell(*, track: Track, day: LearningDay, slot: Slot) -> MatrixCell:
    place = {"track": track, "day": day, "slot": slot}
    return MatrixCell(
        day=day,
        slot=slot,
        track=track,
        materials=tuple(Material.objects.filter(**place).order_by("position", "pk")),
        tasks=tuple(Task.objects.filter(**place).order_by("position", "pk")),
    )


def material_for_authoring(*, organization: Organization, material_id: int) -> Material | None:
    return (
        Material.objects.select_related("track__program", "day", "slot")
        .filter(track__program__organization=organization, pk=material_id)
        .first()
    )


def task_for_authoring(*, organization: Organization, task_id: int) -> Task | None:
    return (
        Task.objects.select_related("track__program", "day", "slot")
        .filter(track__program__organization=organization, pk=task_id)
        .first()
    )


def _content_version(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:16]


def material_version(material: Material) -> str:
    """A fingerprint of what an author edits; a save with an older one is refused."""
    return _content_version(material.title, material.body, material.minutes)


def task_version(task: Task) -> str:
    return _content_version(task.title, task.prompt, task.answer_kinds, task.grade_max)


# --- The program matrix as a file, `program show`, schedules ----------------------------


def program_by_slug(organization: Organization, slug: str) -> Program | None:
    return Program.objects.filter(organization=organization, slug=slug).first()


def programs_of(organization: Organization) -> QuerySet[Program]:
    return Program.objects.filter(organization=organization).order_by("-starts_on", "slug")


def program_track(program: Program, slug: str) -> Track | None:
    return Track.objects.filter(program=program, slug=slug).first()


def people_by_employee_numbers(
    organization: Organization, numbers: Iterable[str]
) -> dict[str, Person]:
    wanted = list(dict.fromkeys(numbers))
    found = Person.objects.filter(organization=organization, employee_number__in=wanted)
    return {p.employee_number: p for p in found}


def program_matrix_spec(program: Program) -> ProgramSpec:
    """The program as the matrix file describes it (the inverse of services.program_import)."""
    tracks = list(
        Track.objects.filter(program=program).select_related("follows").order_by("position", "slug")
    )
    slots = list(Slot.objects.filter(program=program).order_by("local_time"))
    content: dict[tuple[int, int, time], tuple[list[MaterialSpec], list[TaskSpec]]] = {}
    for m in (
        Material.objects.filter(track__program=program)
        .values_list("track_id", "day__index", "slot__local_time", "title", "minutes", "body")
        .order_by("position", "pk")
    ):
        content.setdefault((m[0], m[1], m[2]), ([], []))[0].append(MaterialSpec(m[3], m[4], m[5]))
    for t in (
        Task.objects.filter(track__program=program)
        .values_list(
            "track_id",
            "day__index",
            "slot__local_time",
            "title",
            "prompt",
            "answer_kinds",
            "grade_max",
        )
        .order_by("position", "pk")
    ):
        kinds = tuple(k for k in t[5].split(",") if k)
        content.setdefault((t[0], t[1], t[2]), ([], []))[1].append(
            TaskSpec(t[3], t[4], kinds, t[6])
        )
    track_specs = []
    for track in tracks:
        by_day: dict[int, list[SlotContentSpec]] = {}
        for (track_id, index, at), (materials, tasks) in sorted(
            content.items(), key=lambda kv: kv[0][1:]
        ):
            if track_id == track.pk:
                by_day.setdefault(index, []).append(
                    SlotContentSpec(at, tuple(materials), tuple(tasks))
                )
        track_specs.append(
            TrackSpec(
                slug=track.slug,
                title=track.title,
                description=track.description,
                follows=track.follows.slug if track.follows else None,
                days=tuple(DaySpec(i, tuple(s)) for i, s in sorted(by_day.items())),
            )
        )
    return ProgramSpec(
        slug=program.slug,
        title=program.title,
        kind=program.kind,
        description=program.description,
        starts_on=program.starts_on,
        ends_on=program.ends_on,
        weekdays=tuple(sorted(program.weekday_numbers)),
        slots=tuple(SlotSpec(s.local_time, s.kind) for s in slots),
        tracks=tuple(track_specs),
    )


def program_matrix_text(program: Program) -> str:
    return dump_matrix(program_matrix_spec(program))


def program_show(program: Program) -> dict[str, Any]:
    """Tracks with their learning days, slots and content: the `program show` JSON."""
    tracks = list(
        Track.objects.filter(program=program).select_related("follows").order_by("position", "slug")
    )
    slots = list(Slot.objects.filter(program=program).order_by("local_time"))
    days = list(LearningDay.objects.filter(program=program).order_by("index"))
    materials: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    for m in Material.objects.filter(track__program=program).order_by("position", "pk"):
        materials.setdefault((m.track_id, m.day_id, m.slot_id), []).append(
            {"title": m.title, "minutes": m.minutes}
        )
    tasks: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    for t in Task.objects.filter(track__program=program).order_by("position", "pk"):
        tasks.setdefault((t.track_id, t.day_id, t.slot_id), []).append(
            {"title": t.title, "answer_kinds": t.answer_kind_list, "grade_max": t.grade_max}
        )
    result_tracks = []
    for track in tracks:
        track_days = []
        for day in days:
            day_slots = []
            for slot in slots:
                key = (track.pk, day.pk, slot.pk)
                if slot.kind == SlotKind.LESSON and key not in materials and key not in tasks:
                    continue
                day_slots.append(
                    {
                        "local_time": f"{slot.local_time:%H:%M}",
                        "kind": slot.kind,
                        "materials": materials.get(key, []),
                        "tasks": tasks.get(key, []),
                    }
                )
            track_days.append(
                {"index": day.index, "date": day.date.isoformat(), "slots": day_slots}
            )
        result_tracks.append(
            {
                "slug": track.slug,
                "title": track.title,
                "follows": track.follows.slug if track.follows else None,
                "days": track_days,
            }
        )
    return {
        "slug": program.slug,
        "title": program.title,
        "kind": program.kind,
        "starts_on": program.starts_on.isoformat(),
        "ends_on": program.ends_on.isoformat(),
        "learning_weekdays": [w for w in program.learning_weekdays.split(",") if w],
        "slots": [{"local_time": f"{s.local_time:%H:%M}", "kind": s.kind} for s in slots],
        "tracks": result_tracks,
    }


def program_occurrences(program: Program) -> dict[int, tuple[SlotOccurrence, ...]]:
    """Per track id, the slot occurrences that are contact points for its participants.

    A lesson slot counts for a track on a day only if the track has a material or a
    task there; digest and reminder slots count on every learning day for every track.
    """
    track_ids = list(Track.objects.filter(program=program).values_list("pk", flat=True))
    days = list(
        LearningDay.objects.filter(program=program)
        .values_list("pk", "index", "date")
        .order_by("index")
    )
    slots = list(
        Slot.objects.filter(program=program)
        .values_list("pk", "local_time", "kind")
        .order_by("local_time")
    )
    filled = set(
        Material.objects.filter(track__program=program).values_list("track_id", "day_id", "slot_id")
    )
    filled |= set(
        Task.objects.filter(track__program=program).values_list("track_id", "day_id", "slot_id")
    )
    result = {}
    for track_id in track_ids:
        result[track_id] = tuple(
            SlotOccurrence(index, day_date, kind, local_time)
            for day_id, index, day_date in days
            for slot_id, local_time, kind in slots
            if kind != SlotKind.LESSON or (track_id, day_id, slot_id) in filled
        )
    return result


def _merge_occurrences(
    occurrences: dict[int, tuple[SlotOccurrence, ...]], track_ids: Iterable[int]
) -> tuple[SlotOccurrence, ...]:
    """One contact point per (day, slot) even for someone in two tracks of a program."""
    merged: dict[tuple[int, time], SlotOccurrence] = {}
    for track_id in track_ids:
        for o in occurrences.get(track_id, ()):
            merged.setdefault((o.day_index, o.slot_time), o)
    return tuple(merged[k] for k in sorted(merged))


def person_contact_points(*, program: Program, person: Person) -> list[ContactPoint]:
    """Every contact point of one person in a program, on their own wall clock."""
    if person.organization_id != program.organization_id:
        return []
    track_ids = Enrollment.objects.filter(
        person=person, track__program=program, status=EnrollmentStatus.ACTIVE
    ).values_list("track_id", flat=True)
    occurrences = _merge_occurrences(program_occurrences(program), track_ids)
    return contact_points(occurrences, person.time_zone)


def program_contact_points(
    *, program: Program, person_ids: Iterable[int] | None = None
) -> dict[int, list[ContactPoint]]:
    """Contact points of many people (all active participants by default), by person id.

    Instants depend only on (zone, set of tracks), so each combination is computed
    once and the lists are shared: treat them as read-only.
    """
    occurrences = program_occurrences(program)
    enrollments = Enrollment.objects.filter(
        track__program=program,
        status=EnrollmentStatus.ACTIVE,
        person__organization_id=program.organization_id,
    )
    if person_ids is not None:
        enrollments = enrollments.filter(person_id__in=list(person_ids))
    tracks_of: dict[int, list[int]] = {}
    zone_of: dict[int, str] = {}
    for person_id, track_id, time_zone in enrollments.values_list(
        "person_id", "track_id", "person__time_zone"
    ):
        tracks_of.setdefault(person_id, []).append(track_id)
        zone_of[person_id] = time_zone
    tables: dict[tuple[int, ...], ContactPointTable] = {}
    result: dict[int, list[ContactPoint]] = {}
    for person_id, track_ids in tracks_of.items():
        key = tuple(sorted(track_ids))
        table = tables.get(key)
        if table is None:
            table = tables[key] = ContactPointTable(_merge_occurrences(occurrences, key))
        result[person_id] = table.for_zone(zone_of[person_id])
    return result


def schedule_rows(points: Iterable[ContactPoint]) -> list[dict[str, Any]]:
    """Contact points as the CLI and API print them: local ISO with offset, UTC with Z."""
    return [
        {
            "day": p.day_index,
            "kind": p.kind,
            "local": p.local.isoformat(),
            "utc": p.utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for p in points
    ]
