"""Writes for programs: matrix import, enrollment, authoring edits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.core import clock
from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.matrix import (
    WEEKDAYS,
    MaterialSpec,
    ProgramSpec,
    TaskSpec,
    normalize_markdown,
    parse_matrix,
)
from fokus.programs.models import (
    AnswerKind,
    Enrollment,
    EnrollmentStatus,
    LearningDay,
    Material,
    MaterialView,
    Program,
    Slot,
    SlotKind,
    Task,
    Track,
)
from fokus.programs.queries import material_version, task_version

# --- Participant pages


@transaction.atomic
def material_view_record(*, person: Person, material: Material) -> MaterialView:
    """Remember the first time `person` opened `material`; later openings change nothing."""
    view, _created = MaterialView.objects.get_or_create(
        person=person, material=material, defaults={"opened_at": clock.now()}
    )
    return view


# --- Authoring: editing materials and tasks in the matrix ------------------------------

MATERIAL_MINUTES_MIN = 1
MATERIAL_MINUTES_MAX = 120
TASK_GRADE_MAX_LIMIT = 10
_TITLE_MAX_LENGTH = 300


def _authoring_check_place(*, track: Track, day: LearningDay, slot: Slot) -> None:
    if not (track.program_id == day.program_id == slot.program_id):
        raise ValidationError(
            _("The track, the day and the slot belong to different programs."), code="place"
        )
    if slot.kind != SlotKind.LESSON:
        raise ValidationError(
            {
                "slot": _(
                    "Materials and tasks go only into lesson slots; %(time)s is a %(kind)s slot."
                )
                % {"time": f"{slot.local_time:%H:%M}", "kind": slot.get_kind_display()}
            },
            code="slot_kind",
        )


def _authoring_title_errors(title: str) -> list[str]:
    if not title.strip():
        return [_("Enter a title.")]
    if len(title) > _TITLE_MAX_LENGTH:
        return [
            ngettext("Keep the title within %(limit)d character.",
                     "Keep the title within %(limit)d characters.", _TITLE_MAX_LENGTH)
            % {"limit": _TITLE_MAX_LENGTH}
        ]
    return []


def _material_validate(*, title: str, body: str, minutes: int) -> None:
    errors: dict[str, list[str]] = {}
    if title_errors := _authoring_title_errors(title):
        errors["title"] = title_errors
    # The matrix file requires a body, and the UI must not write what export cannot re-import.
    if not body:
        errors["body"] = [_("Write the material's text.")]
    if not MATERIAL_MINUTES_MIN <= minutes <= MATERIAL_MINUTES_MAX:
        errors["minutes"] = [
            _("Estimated minutes must be between %(low)d and %(high)d.")
            % {"low": MATERIAL_MINUTES_MIN, "high": MATERIAL_MINUTES_MAX}
        ]
    if errors:
        raise ValidationError(errors)


def _task_validate(*, title: str, prompt: str, answer_kinds: Sequence[str], grade_max: int) -> str:
    """Validate a task's fields and return its answer kinds as stored (declaration order)."""
    errors: dict[str, list[str]] = {}
    if title_errors := _authoring_title_errors(title):
        errors["title"] = title_errors
    if not prompt.strip():
        errors["prompt"] = [_("Enter the task's prompt.")]
    allowed = list(AnswerKind.values)
    unknown = sorted(set(answer_kinds) - set(allowed))
    if unknown:
        errors["answer_kinds"] = [
            _("Unknown answer kinds: %(unknown)s. Allowed: %(allowed)s.")
            % {"unknown": ", ".join(unknown), "allowed": ", ".join(allowed)}
        ]
    elif not answer_kinds:
        errors["answer_kinds"] = [_("Choose at least one accepted answer kind.")]
    if not 1 <= grade_max <= TASK_GRADE_MAX_LIMIT:
        errors["grade_max"] = [
            _("The highest grade must be between 1 and %(limit)d.")
            % {"limit": TASK_GRADE_MAX_LIMIT}
        ]
    if errors:
        raise ValidationError(errors)
    return ",".join(k for k in allowed if k in answer_kinds)


def _authoring_gone_message() -> str:
    return _("Someone else deleted this item after you opened it; reload the matrix.")


def _authoring_refuse_stale(*, expected_version: str | None, current_version: str) -> None:
    if expected_version is not None and expected_version != current_version:
        raise ValidationError(
            _(
                "Someone else saved a change after you opened this form. Reload the matrix "
                "to see their version, then make your change again."
            ),
            code="stale",
        )


def _next_position(
    model: type[Material] | type[Task], *, track: Track, day: LearningDay, slot: Slot
) -> int:
    # Locking the track row serialises concurrent appends to its cells on PostgreSQL;
    # SQLite's IMMEDIATE transactions already serialise every writer.
    list(Track.objects.select_for_update().filter(pk=track.pk).values_list("pk", flat=True))
    place = model.objects.filter(track=track, day=day, slot=slot)
    top = place.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


def _swap_with_neighbour(item: Material | Task, *, direction: str) -> None:
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move up or down.")}, code="direction")
    model: type[Material] | type[Task] = type(item)
    siblings: list[Any] = list(
        model.objects.select_for_update()
        .filter(track_id=item.track_id, day_id=item.day_id, slot_id=item.slot_id)
        .order_by("position", "pk")
    )
    index = next((i for i, s in enumerate(siblings) if s.pk == item.pk), None)
    if index is None:
        raise ValidationError(_authoring_gone_message(), code="gone")
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(siblings):
        return  # already first (or last): nothing to do, and no error worth showing
    current, other = siblings[index], siblings[other_index]
    a, b = current.position, other.position
    if a == b:  # cannot happen under the unique constraint, but never swap into a clash
        return
    # The place is unique per position and PostgreSQL checks it row by row, so one of
    # the two steps through a free position first.
    parking = max(s.position for s in siblings) + 1
    model.objects.filter(pk=current.pk).update(position=parking)
    model.objects.filter(pk=other.pk).update(position=a)
    model.objects.filter(pk=current.pk).update(position=b)
    item.position = b


@transaction.atomic
def material_create(
    *, track: Track, day: LearningDay, slot: Slot, title: str, body: str, minutes: int = 15
) -> Material:
    _authoring_check_place(track=track, day=day, slot=slot)
    body = normalize_markdown(body)
    _material_validate(title=title, body=body, minutes=minutes)
    return Material.objects.create(
        track=track, day=day, slot=slot,
        position=_next_position(Material, track=track, day=day, slot=slot),
        title=title.strip(), body=body, minutes=minutes,
    )


@transaction.atomic
def material_update(
    *, material: Material, title: str, body: str, minutes: int, expected_version: str | None = None
) -> Material:
    """Save an author's edit; refuse it when the row changed since `expected_version`."""
    body = normalize_markdown(body)
    _material_validate(title=title, body=body, minutes=minutes)
    current = Material.objects.select_for_update().filter(pk=material.pk).first()
    if current is None:
        raise ValidationError(_authoring_gone_message(), code="gone")
    _authoring_refuse_stale(
        expected_version=expected_version, current_version=material_version(current)
    )
    current.title, current.body, current.minutes = title.strip(), body, minutes
    current.save(update_fields=["title", "body", "minutes"])
    material.title, material.body, material.minutes = current.title, current.body, current.minutes
    return material


def _close_gap(
    model: type[Material] | type[Task], *, track_id: int, day_id: int, slot_id: int
) -> None:
    # Positions stay 0..n-1 in every cell: the matrix import matches rows by position,
    # so a gap would make a re-import replace rows instead of keeping them. Ascending
    # order only ever moves a row into a position that is already free.
    rows = model.objects.filter(track_id=track_id, day_id=day_id, slot_id=slot_id)
    for index, (pk, position) in enumerate(rows.order_by("position").values_list("pk", "position")):
        if position != index:
            model.objects.filter(pk=pk).update(position=index)


@transaction.atomic
def material_delete(*, material: Material) -> None:
    Material.objects.filter(pk=material.pk).delete()
    _close_gap(
        Material, track_id=material.track_id, day_id=material.day_id, slot_id=material.slot_id
    )


@transaction.atomic
def material_move(*, material: Material, direction: str) -> Material:
    """Swap a material with its neighbour above ("up") or below ("down") in its cell."""
    _swap_with_neighbour(material, direction=direction)
    return material


@transaction.atomic
def task_create(
    *,
    track: Track,
    day: LearningDay,
    slot: Slot,
    title: str,
    prompt: str,
    answer_kinds: Sequence[str] = (AnswerKind.TEXT,),
    grade_max: int = 3,
) -> Task:
    _authoring_check_place(track=track, day=day, slot=slot)
    prompt = normalize_markdown(prompt)
    stored_kinds = _task_validate(
        title=title, prompt=prompt, answer_kinds=answer_kinds, grade_max=grade_max
    )
    return Task.objects.create(
        track=track, day=day, slot=slot,
        position=_next_position(Task, track=track, day=day, slot=slot),
        title=title.strip(), prompt=prompt, answer_kinds=stored_kinds, grade_max=grade_max,
    )


@transaction.atomic
def task_update(
    *,
    task: Task,
    title: str,
    prompt: str,
    answer_kinds: Sequence[str],
    grade_max: int,
    expected_version: str | None = None,
) -> Task:
    prompt = normalize_markdown(prompt)
    stored_kinds = _task_validate(
        title=title, prompt=prompt, answer_kinds=answer_kinds, grade_max=grade_max
    )
    current = Task.objects.select_for_update().filter(pk=task.pk).first()
    if current is None:
        raise ValidationError(_authoring_gone_message(), code="gone")
    _authoring_refuse_stale(
        expected_version=expected_version, current_version=task_version(current)
    )
    current.title, current.prompt = title.strip(), prompt
    current.answer_kinds, current.grade_max = stored_kinds, grade_max
    current.save(update_fields=["title", "prompt", "answer_kinds", "grade_max"])
    task.title, task.prompt = current.title, current.prompt
    task.answer_kinds, task.grade_max = current.answer_kinds, current.grade_max
    return task


@transaction.atomic
def task_delete(*, task: Task) -> None:
    Task.objects.filter(pk=task.pk).delete()
    _close_gap(Task, track_id=task.track_id, day_id=task.day_id, slot_id=task.slot_id)


@transaction.atomic
def task_move(*, task: Task, direction: str) -> Task:
    """Swap a task with its neighbour above ("up") or below ("down") in its cell."""
    _swap_with_neighbour(task, direction=direction)
    return task


# --- The program matrix as a file, and enrollment ---------------------------------------


class ProgramImportError(ValueError):
    """The matrix is valid YAML but cannot be applied to what is in the database."""


def _import_check_removals(*, program: Program, spec: ProgramSpec, source_name: str) -> None:
    # Removing a track deletes its enrollments (and later, everything hanging off them);
    # a file edit must not do that silently.
    keep = {t.slug for t in spec.tracks}
    gone = (
        Track.objects.filter(program=program)
        .exclude(slug__in=keep)
        .annotate(n=Count("enrollments"))
        .filter(n__gt=0)
        .order_by("slug")
    )
    problems = [
        ngettext(
            '%(source)s: track "%(slug)s" is not in the file but has %(n)d enrolled person; '
            "withdraw them first or keep the track",
            '%(source)s: track "%(slug)s" is not in the file but has %(n)d enrolled people; '
            "withdraw them first or keep the track",
            t.n,
        )
        % {"source": source_name, "slug": t.slug, "n": t.n}
        for t in gone
    ]
    if problems:
        raise ProgramImportError("\n".join(problems))


def _import_days(*, program: Program, dates: list[date]) -> dict[int, LearningDay]:
    existing = {d.index: d for d in LearningDay.objects.filter(program=program)}
    LearningDay.objects.filter(program=program, index__gt=len(dates)).delete()
    changed = [d for i, d in existing.items() if i <= len(dates) and d.date != dates[i - 1]]
    if changed:
        # Dates are unique per program, and shifting starts_on moves day N onto the old
        # date of day N+k: park the moved days far in the past first.
        for day in changed:
            day.date = _PARKING_DATE + timedelta(days=day.index)
        LearningDay.objects.bulk_update(changed, ["date"])
        for day in changed:
            day.date = dates[day.index - 1]
        LearningDay.objects.bulk_update(changed, ["date"])
    new = [
        LearningDay(program=program, index=i, date=d)
        for i, d in enumerate(dates, 1)
        if i not in existing
    ]
    LearningDay.objects.bulk_create(new)
    return {d.index: d for d in LearningDay.objects.filter(program=program)}


_PARKING_DATE = date(1900, 1, 1)


def _import_content(
    *,
    program: Program,
    spec: ProgramSpec,
    tracks: dict[str, Track],
    days: dict[int, LearningDay],
    slots: dict[time, Slot],
) -> None:
    """Upsert materials and tasks by their place (track, day, slot, position)."""
    wanted_materials: dict[tuple[int, int, int, int], MaterialSpec] = {}
    wanted_tasks: dict[tuple[int, int, int, int], TaskSpec] = {}
    for track_spec in spec.tracks:
        track = tracks[track_spec.slug]
        for day_spec in track_spec.days:
            day = days[day_spec.index]
            for content in day_spec.slots:
                slot = slots[content.at]
                for pos, m in enumerate(content.materials):
                    wanted_materials[(track.pk, day.pk, slot.pk, pos)] = m
                for pos, k in enumerate(content.tasks):
                    wanted_tasks[(track.pk, day.pk, slot.pk, pos)] = k

    materials = {
        (m.track_id, m.day_id, m.slot_id, m.position): m
        for m in Material.objects.filter(track__program=program)
    }
    Material.objects.filter(
        pk__in=[m.pk for key, m in materials.items() if key not in wanted_materials]
    ).delete()
    changed_m, new_m = [], []
    for key, ms in wanted_materials.items():
        row = materials.get(key)
        if row is None:
            new_m.append(
                Material(
                    track_id=key[0],
                    day_id=key[1],
                    slot_id=key[2],
                    position=key[3],
                    title=ms.title,
                    minutes=ms.minutes,
                    body=ms.body,
                )
            )
        elif (row.title, row.minutes, row.body) != (ms.title, ms.minutes, ms.body):
            row.title, row.minutes, row.body = ms.title, ms.minutes, ms.body
            changed_m.append(row)
    Material.objects.bulk_update(changed_m, ["title", "minutes", "body"])
    Material.objects.bulk_create(new_m)

    tasks = {
        (t.track_id, t.day_id, t.slot_id, t.position): t
        for t in Task.objects.filter(track__program=program)
    }
    Task.objects.filter(
        pk__in=[t.pk for key, t in tasks.items() if key not in wanted_tasks]
    ).delete()
    changed_t, new_t = [], []
    for key, ts in wanted_tasks.items():
        kinds = ",".join(ts.answer_kinds)
        row_t = tasks.get(key)
        if row_t is None:
            new_t.append(
                Task(
                    track_id=key[0],
                    day_id=key[1],
                    slot_id=key[2],
                    position=key[3],
                    title=ts.title,
                    prompt=ts.prompt,
                    answer_kinds=kinds,
                    grade_max=ts.grade_max,
                )
            )
        elif (row_t.title, row_t.prompt, row_t.answer_kinds, row_t.grade_max) != (
            ts.title,
            ts.prompt,
            kinds,
            ts.grade_max,
        ):
            row_t.title, row_t.prompt, row_t.answer_kinds, row_t.grade_max = (
                ts.title,
                ts.prompt,
                kinds,
                ts.grade_max,
            )
            changed_t.append(row_t)
    Task.objects.bulk_update(changed_t, ["title", "prompt", "answer_kinds", "grade_max"])
    Task.objects.bulk_create(new_t)


@transaction.atomic
def program_import(*, organization: Organization, text: str, source_name: str) -> Program:
    """Create or update, in place, the program the matrix text describes.

    Rows are matched by their place (track slug, slot time, day index, position), so
    ids survive a re-import and what the file no longer has is removed. Raises
    MatrixError (located problems in the file) or ProgramImportError; either way
    nothing is written.
    """
    spec = parse_matrix(text, source_name)
    program = (
        Program.objects.select_for_update()
        .filter(organization=organization, slug=spec.slug)
        .first()
    )
    weekdays = ",".join(WEEKDAYS[n] for n in spec.weekdays)
    if program is None:
        program = Program.objects.create(
            organization=organization,
            slug=spec.slug,
            title=spec.title,
            kind=spec.kind,
            description=spec.description,
            starts_on=spec.starts_on,
            ends_on=spec.ends_on,
            learning_weekdays=weekdays,
        )
    else:
        _import_check_removals(program=program, spec=spec, source_name=source_name)
        program.title, program.kind, program.description = spec.title, spec.kind, spec.description
        program.starts_on, program.ends_on, program.learning_weekdays = (
            spec.starts_on,
            spec.ends_on,
            weekdays,
        )
        program.save()

    slot_rows = {s.local_time: s for s in Slot.objects.filter(program=program)}
    Slot.objects.filter(
        pk__in=[s.pk for t, s in slot_rows.items() if t not in {x.at for x in spec.slots}]
    ).delete()
    for slot_spec in spec.slots:
        row = slot_rows.get(slot_spec.at)
        if row is None:
            slot_rows[slot_spec.at] = Slot.objects.create(
                program=program, local_time=slot_spec.at, kind=slot_spec.kind
            )
        elif row.kind != slot_spec.kind:
            row.kind = slot_spec.kind
            row.save(update_fields=["kind"])
    slots = {s.at: slot_rows[s.at] for s in spec.slots}

    Track.objects.filter(program=program).exclude(slug__in=[t.slug for t in spec.tracks]).delete()
    track_rows = {t.slug: t for t in Track.objects.filter(program=program)}
    for position, track_spec in enumerate(spec.tracks):
        track = track_rows.get(track_spec.slug) or Track(program=program, slug=track_spec.slug)
        track.title, track.description, track.position = (
            track_spec.title,
            track_spec.description,
            position,
        )
        track.save()
        track_rows[track.slug] = track
    for track_spec in spec.tracks:
        track = track_rows[track_spec.slug]
        follows = track_rows[track_spec.follows] if track_spec.follows else None
        if track.follows_id != (follows.pk if follows else None):
            track.follows = follows
            track.save(update_fields=["follows"])

    days = _import_days(program=program, dates=spec.learning_dates)
    _import_content(program=program, spec=spec, tracks=track_rows, days=days, slots=slots)
    return program


@dataclass(frozen=True)
class EnrollmentReport:
    track: Track
    enrolled: list[Person]
    already_enrolled: list[Person]
    # Direct managers put into each track that follows `track` (with_supervisors).
    supervisors: dict[str, tuple[list[Person], list[Person]]]  # track slug -> (enrolled, already)


def _enroll_into(
    *, track: Track, people: Sequence[Person], at: datetime
) -> tuple[list[Person], list[Person]]:
    existing = {e.person_id: e for e in Enrollment.objects.filter(track=track, person__in=people)}
    enrolled, already, revived = [], [], []
    for person in people:
        row = existing.get(person.pk)
        if row is None:
            enrolled.append(person)
        elif row.status != EnrollmentStatus.ACTIVE:
            row.status, row.enrolled_at = EnrollmentStatus.ACTIVE, at
            revived.append(row)
            enrolled.append(person)
        else:
            already.append(person)
    Enrollment.objects.bulk_create(
        [
            Enrollment(person=p, track=track, enrolled_at=at)
            for p in enrolled
            if p.pk not in existing
        ]
    )
    Enrollment.objects.bulk_update(revived, ["status", "enrolled_at"])
    return enrolled, already


@transaction.atomic
def program_enroll(
    *,
    program: Program,
    track: Track,
    people: Sequence[Person],
    with_supervisors: bool = False,
    enrolled_at: datetime | None = None,
) -> EnrollmentReport:
    """Enrol people into a track; enrolling someone twice changes nothing.

    With `with_supervisors`, the direct managers of those people join every track
    that follows `track` (the seniors' track follows the consultants').
    """
    if track.program_id != program.pk:
        raise ValueError(f"track {track.slug} is not in program {program.slug}")
    foreign = [p.employee_number for p in people if p.organization_id != program.organization_id]
    if foreign:
        raise ValueError(f"people of another organisation: {', '.join(foreign)}")
    at = enrolled_at or clock.now()
    unique = list({p.pk: p for p in people}.values())
    enrolled, already = _enroll_into(track=track, people=unique, at=at)
    supervisors: dict[str, tuple[list[Person], list[Person]]] = {}
    if with_supervisors:
        manager_ids = {p.manager_id for p in unique if p.manager_id is not None}
        managers = list(
            Person.objects.filter(
                pk__in=manager_ids, organization_id=program.organization_id
            ).order_by("employee_number")
        )
        for follower in Track.objects.filter(program=program, follows=track).order_by(
            "position", "slug"
        ):
            supervisors[follower.slug] = _enroll_into(track=follower, people=managers, at=at)
    return EnrollmentReport(
        track=track, enrolled=enrolled, already_enrolled=already, supervisors=supervisors
    )
