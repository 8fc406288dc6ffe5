"""Reads of the supervisors' side: who manages whom, the team view and its rollup.

Every function takes the organisation's objects and stays inside that organisation.
Numbers for a set of reports are read in a handful of grouped queries, never one per
person: a regional manager's subtree can hold hundreds of consultants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, Sum

from fokus.kpi.models import KpiRecord, RecordKind
from fokus.people.models import Person, Role
from fokus.programs.models import (
    Enrollment,
    EnrollmentStatus,
    LearningDay,
    MaterialView,
    Program,
    Task,
    Track,
)
from fokus.review.models import Attempt, AttemptStatus, Submission
from fokus.scoring.queries import ledger_totals
from fokus.supervision.models import (
    ApplicationConfirmation,
    SupervisorStanding,
    SupportTask,
    SupportTaskStatus,
    SupportTaskTemplate,
)

ZERO = Decimal(0)
ANSWERED = (AttemptStatus.SUBMITTED, AttemptStatus.RETURNED, AttemptStatus.GRADED)
# Behind on this many tasks of past days (or waiting on a returned answer): "stuck".
STUCK_MISSED = 2


def zone_of(person: Person) -> ZoneInfo:
    try:
        return ZoneInfo(person.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(person: Person, now: datetime) -> date:
    return now.astimezone(zone_of(person)).date()


def local_now(person: Person, now: datetime) -> datetime:
    return now.astimezone(zone_of(person))


# --- the reporting tree ------------------------------------------------------------------


def _manager_map(organization_id: int) -> dict[int, list[int]]:
    """manager id -> ids of active direct reports, for one organisation."""
    children: dict[int, list[int]] = {}
    rows = Person.objects.filter(
        organization_id=organization_id, is_active=True, manager__isnull=False
    ).values_list("id", "manager_id")
    for person_id, manager_id in rows:
        children.setdefault(manager_id, []).append(person_id)
    return children


def subtree_ids(manager: Person) -> set[int]:
    """Everyone below `manager` (direct and indirect), never `manager` themselves."""
    children = _manager_map(manager.organization_id)
    seen: set[int] = set()
    stack = list(children.get(manager.pk, []))
    while stack:
        person_id = stack.pop()
        if person_id in seen or person_id == manager.pk:
            continue
        seen.add(person_id)
        stack.extend(children.get(person_id, []))
    return seen


def manages(viewer: Person, person: Person) -> bool:
    """Is `viewer` above `person` in the reporting chain of the same organisation?"""
    if viewer.organization_id != person.organization_id or viewer.pk == person.pk:
        return False
    return person.pk in subtree_ids(viewer)


def may_view_team(viewer: Person, supervisor: Person) -> bool:
    """A supervisor sees their own team; a higher manager or an admin sees every team below."""
    if viewer.organization_id != supervisor.organization_id:
        return False
    return viewer.pk == supervisor.pk or viewer.has_role(Role.ADMIN) or manages(viewer, supervisor)


def program_people_ids(program: Program) -> set[int]:
    return set(
        Enrollment.objects.filter(
            track__program=program, status=EnrollmentStatus.ACTIVE,
            person__organization_id=program.organization_id,
        ).values_list("person_id", flat=True)
    )


def direct_reports(supervisor: Person, program: Program) -> list[Person]:
    """Active direct reports of `supervisor` actively enrolled in `program`, by name."""
    return _active_reports(supervisor, enrollments__track__program=program)


def _active_reports(supervisor: Person, **enrolled_in: object) -> list[Person]:
    """Active direct reports with an active enrollment matching `enrolled_in`, by name."""
    return list(
        Person.objects.filter(
            organization_id=supervisor.organization_id,
            manager=supervisor,
            is_active=True,
            enrollments__status=EnrollmentStatus.ACTIVE,
            **enrolled_in,
        )
        .distinct()
        .order_by("full_name", "pk")
    )


def person_in_org(organization_id: int, employee_number: str) -> Person | None:
    return Person.objects.filter(
        organization_id=organization_id, employee_number=employee_number
    ).first()


def programs_with_team(viewer: Person) -> list[Program]:
    """Programs in which someone below `viewer` is actively enrolled."""
    below = subtree_ids(viewer)
    if not below:
        return []
    return list(
        Program.objects.filter(
            organization_id=viewer.organization_id,
            tracks__enrollments__person_id__in=below,
            tracks__enrollments__status=EnrollmentStatus.ACTIVE,
        )
        .distinct()
        .order_by("-starts_on", "slug")
    )


def program_of(viewer: Person, slug: str) -> Program | None:
    return Program.objects.filter(organization_id=viewer.organization_id, slug=slug).first()


def learning_day_on(program: Program, on: date) -> LearningDay | None:
    return LearningDay.objects.filter(program=program, date=on).first()


# --- the team view -----------------------------------------------------------------------


@dataclass(slots=True)
class ReportProgress:
    person: Person
    tasks_today: int = 0
    answered_today: int = 0
    opened_today: int = 0
    tasks_so_far: int = 0
    opened: int = 0
    answered: int = 0
    returned: int = 0
    graded: int = 0
    grade_sum: Decimal = ZERO  # sum of grade / grade_max over graded answers
    points: Decimal = ZERO
    sales: Decimal = ZERO
    confirmed_today: bool = False
    today_task_titles: list[str] = field(default_factory=list)

    @property
    def not_started(self) -> bool:
        return self.opened == 0 and self.answered == 0

    @property
    def missed(self) -> int:
        """Tasks of past days (and today's) with no answer."""
        return max(0, self.tasks_so_far - self.answered)

    @property
    def stuck(self) -> bool:
        past_missed = self.missed - (self.tasks_today - self.answered_today)
        return not self.not_started and (self.returned > 0 or past_missed >= STUCK_MISSED)

    @property
    def has_not_answered_today(self) -> bool:
        return self.tasks_today > 0 and self.answered_today < self.tasks_today

    @property
    def average_grade_percent(self) -> int | None:
        if not self.graded:
            return None
        return int((self.grade_sum / self.graded * 100).quantize(Decimal(1)))

    @property
    def state(self) -> str:
        if self.not_started:
            return "not_started"
        if self.stuck:
            return "stuck"
        return "on_track"


@dataclass(slots=True)
class TeamSummary:
    program: Program
    supervisor: Person
    on_date: date
    day: LearningDay | None
    rows: list[ReportProgress]

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def not_started(self) -> list[ReportProgress]:
        return [r for r in self.rows if r.not_started]

    @property
    def stuck(self) -> list[ReportProgress]:
        return [r for r in self.rows if r.stuck]

    @property
    def not_answered_today(self) -> list[ReportProgress]:
        return [r for r in self.rows if r.has_not_answered_today]


def progress_of(
    program: Program, people: Iterable[Person], now: datetime
) -> dict[int, ReportProgress]:
    """Each person's progress in `program` today (their local date) and overall."""
    people = list(people)
    result = {p.pk: ReportProgress(person=p) for p in people}
    if not people:
        return result
    ids = list(result)
    today_of = {p.pk: local_date(p, now) for p in people}
    tracks_of: dict[int, set[int]] = {}
    for person_id, track_id in Enrollment.objects.filter(
        person_id__in=ids, track__program=program, status=EnrollmentStatus.ACTIVE
    ).values_list("person_id", "track_id"):
        tracks_of.setdefault(person_id, set()).add(track_id)
    tasks = list(
        Task.objects.filter(track__program=program).values_list(
            "id", "track_id", "day__date", "grade_max", "title"
        )
    )
    grade_max = {t[0]: t[3] for t in tasks}
    for person_id, row in result.items():
        mine = tracks_of.get(person_id, set())
        today = today_of[person_id]
        for _task_id, track_id, day_date, _max, title in tasks:
            if track_id not in mine or day_date > today:
                continue
            row.tasks_so_far += 1
            if day_date == today:
                row.tasks_today += 1
                row.today_task_titles.append(title)
    task_dates = {t[0]: t[2] for t in tasks}
    for person_id, task_id, status in Submission.objects.filter(
        program=program, person_id__in=ids, status__in=ANSWERED
    ).values_list("person_id", "task_id", "status"):
        row = result[person_id]
        row.answered += 1
        if task_dates.get(task_id) == today_of[person_id]:
            row.answered_today += 1
        if status == AttemptStatus.RETURNED:
            row.returned += 1
    # The latest graded attempt of each submission decides its grade.
    latest: dict[tuple[int, int], tuple[int, int]] = {}
    for person_id, task_id, number, grade in Attempt.objects.filter(
        submission__program=program, submission__person_id__in=ids,
        status=AttemptStatus.GRADED, grade__isnull=False,
    ).values_list("submission__person_id", "submission__task_id", "number", "grade"):
        key = (person_id, task_id)
        if key not in latest or latest[key][0] < number:
            latest[key] = (number, grade or 0)
    for (person_id, task_id), (_number, grade) in latest.items():
        row = result[person_id]
        row.graded += 1
        row.grade_sum += Decimal(grade) / Decimal(max(1, grade_max.get(task_id, 1)))
    for person_id, day_date in MaterialView.objects.filter(
        person_id__in=ids, material__track__program=program
    ).values_list("person_id", "material__day__date"):
        row = result[person_id]
        row.opened += 1
        if day_date == today_of[person_id]:
            row.opened_today += 1
    totals = ledger_totals(program)
    for person_id in ids:
        if person_id in totals:
            result[person_id].points = totals[person_id].total
    sales = (
        KpiRecord.objects.filter(
            organization_id=program.organization_id, person_id__in=ids,
            occurred_on__gte=program.starts_on, occurred_on__lte=program.ends_on,
        )
        .values("person_id")
        .annotate(
            sold=Sum("quantity", filter=Q(kind=RecordKind.SALE)),
            cancelled=Sum("quantity", filter=Q(kind=RecordKind.CANCELLATION)),
        )
        .order_by()
    )
    for row_data in sales:
        result[row_data["person_id"]].sales = (row_data["sold"] or ZERO) - (
            row_data["cancelled"] or ZERO
        )
    confirmed = ApplicationConfirmation.objects.filter(
        program=program, report_id__in=ids
    ).values_list("report_id", "day__date")
    for person_id, day_date in confirmed:
        if day_date == today_of[person_id]:
            result[person_id].confirmed_today = True
    return result


def team_summary(*, supervisor: Person, program: Program, now: datetime) -> TeamSummary:
    """The supervisor's direct reports in `program`: today and overall, by name."""
    reports = direct_reports(supervisor, program)
    progress = progress_of(program, reports, now)
    on_date = local_date(supervisor, now)
    return TeamSummary(
        program=program,
        supervisor=supervisor,
        on_date=on_date,
        day=learning_day_on(program, on_date),
        rows=[progress[p.pk] for p in reports],
    )


@dataclass(slots=True)
class RollupRow:
    """One manager's whole subtree in a program, summed."""

    manager: Person
    people: int = 0
    answered_today: int = 0
    with_task_today: int = 0
    not_started: int = 0
    stuck: int = 0
    returned: int = 0
    answered: int = 0
    tasks_so_far: int = 0
    graded: int = 0
    grade_sum: Decimal = ZERO
    points: Decimal = ZERO
    sales: Decimal = ZERO

    @property
    def adoption_percent(self) -> int | None:
        if not self.tasks_so_far:
            return None
        return int(Decimal(100 * self.answered) / self.tasks_so_far)

    @property
    def average_grade_percent(self) -> int | None:
        if not self.graded:
            return None
        return int((self.grade_sum / self.graded * 100).quantize(Decimal(1)))

    def add(self, row: ReportProgress) -> None:
        self.people += 1
        self.with_task_today += 1 if row.tasks_today else 0
        self.answered_today += 1 if row.tasks_today and not row.has_not_answered_today else 0
        self.not_started += 1 if row.not_started else 0
        self.stuck += 1 if row.stuck else 0
        self.returned += row.returned
        self.answered += row.answered
        self.tasks_so_far += row.tasks_so_far
        self.graded += row.graded
        self.grade_sum += row.grade_sum
        self.points += row.points
        self.sales += row.sales


def team_rollup(*, manager: Person, program: Program, now: datetime) -> list[RollupRow]:
    """For each direct report of `manager` who manages people: their subtree in `program`.

    Only people without reports of their own are counted (the consultants); the last
    row is the manager's whole subtree.
    """
    children = _manager_map(manager.organization_id)
    enrolled = program_people_ids(program)
    # The people who do the learning: managers below have their own row and board.
    below_all = {p for p in subtree_ids(manager) & enrolled if p not in children}
    people = {p.pk: p for p in Person.objects.filter(pk__in=below_all)}
    progress = progress_of(program, people.values(), now)
    rows: list[RollupRow] = []
    heads = Person.objects.filter(
        organization_id=manager.organization_id, manager=manager, is_active=True
    ).order_by("full_name", "pk")
    for head in heads:
        if head.pk not in children:
            continue
        row = RollupRow(manager=head)
        stack, seen = list(children[head.pk]), set()
        while stack:
            person_id = stack.pop()
            if person_id in seen:
                continue
            seen.add(person_id)
            stack.extend(children.get(person_id, []))
            if person_id in progress:
                row.add(progress[person_id])
        if row.people:
            rows.append(row)
    if rows:
        total = RollupRow(manager=manager)
        for item in progress.values():
            total.add(item)
        rows.append(total)
    return rows


# --- support tasks, templates, confirmations, the board ----------------------------------


def support_tasks_of(
    supervisor: Person, program: Program | None = None, on: date | None = None
) -> list[SupportTask]:
    """A supervisor's generated tasks (of one program and/or day), open ones first."""
    tasks = SupportTask.objects.filter(
        supervisor=supervisor, organization_id=supervisor.organization_id
    ).select_related("program", "day", "report")
    if program is not None:
        tasks = tasks.filter(program=program)
    if on is not None:
        tasks = tasks.filter(day__date=on)
    order = {SupportTaskStatus.OPEN: 0, SupportTaskStatus.DONE: 1, SupportTaskStatus.SKIPPED: 2}
    return sorted(tasks, key=lambda t: (order.get(SupportTaskStatus(t.status), 3), t.pk))


def support_tasks_today(supervisor: Person, now: datetime) -> list[SupportTask]:
    """What the supervisor's Today page, digest and Telegram show: today's tasks."""
    return support_tasks_of(supervisor, on=local_date(supervisor, now))


def support_tasks_for_digest(supervisor: Person, on: date) -> list[SupportTask]:
    """Open tasks of the day for the evening digest (the digest app calls this)."""
    return [t for t in support_tasks_of(supervisor, on=on) if t.status == SupportTaskStatus.OPEN]


def support_task_for(supervisor: Person, support_task_id: int) -> SupportTask | None:
    return SupportTask.objects.filter(
        pk=support_task_id, supervisor=supervisor, organization_id=supervisor.organization_id
    ).first()


def templates_of(program: Program) -> list[SupportTaskTemplate]:
    return list(SupportTaskTemplate.objects.filter(program=program).order_by("rule", "language"))


def confirmation_for_viewer(viewer: Person, confirmation_id: int) -> ApplicationConfirmation | None:
    """A confirmation its supervisor, its report, or a manager above the report may see."""
    confirmation = (
        ApplicationConfirmation.objects.filter(
            pk=confirmation_id, organization_id=viewer.organization_id
        )
        .select_related("report", "supervisor")
        .first()
    )
    if confirmation is None:
        return None
    if viewer.pk in (confirmation.supervisor_id, confirmation.report_id) or manages(
        viewer, confirmation.report
    ):
        return confirmation
    return None


def confirmations_by(supervisor: Person, program: Program, limit: int = 20) -> list[
    ApplicationConfirmation
]:
    return list(
        ApplicationConfirmation.objects.filter(program=program, supervisor=supervisor)
        .select_related("report", "day")
        .order_by("-created_at")[:limit]
    )


def supervisors_board(program: Program) -> list[SupervisorStanding]:
    return list(
        SupervisorStanding.objects.filter(program=program)
        .select_related("supervisor")
        .order_by("rank", "supervisor__full_name")
    )


def follower_tracks(program: Program) -> list[Track]:
    """Tracks that accompany another one: the supervisors' tracks."""
    return list(
        Track.objects.filter(program=program, follows__isnull=False).select_related("follows")
    )


def supervisors_of(program: Program) -> list[tuple[Person, Track]]:
    """Active people enrolled in a supervisors' track, with that track."""
    result: list[tuple[Person, Track]] = []
    seen: set[int] = set()
    for track in follower_tracks(program):
        for enrollment in Enrollment.objects.filter(
            track=track, status=EnrollmentStatus.ACTIVE, person__is_active=True
        ).select_related("person").order_by("person__full_name", "person_id"):
            if enrollment.person_id not in seen:
                seen.add(enrollment.person_id)
                result.append((enrollment.person, track))
    return result


def team_in_track(supervisor: Person, track: Track) -> list[Person]:
    """Active direct reports actively enrolled in `track` (the one a supervisors' track follows)."""
    return _active_reports(supervisor, enrollments__track=track)


def open_support_task_counts(supervisor_ids: Iterable[int], program: Program) -> dict[int, int]:
    rows = (
        SupportTask.objects.filter(
            program=program, supervisor_id__in=list(supervisor_ids),
            status=SupportTaskStatus.OPEN,
        )
        .values("supervisor_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["supervisor_id"]: r["n"] for r in rows}
