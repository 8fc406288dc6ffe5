"""Writes of the supervisors' side: templates, generated tasks, confirmations, nudges.

Points go through the scoring ledger (`bonus_award`, keyed per confirmation), messages
through the delivery outbox (`delivery_enqueue`, keyed per supervisor, report and
day), so a double click never awards or sends twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fokus.core import clock
from fokus.delivery.models import Delivery, DeliveryKind
from fokus.delivery.services import delivery_enqueue
from fokus.people.models import Person, Role
from fokus.programs.models import EnrollmentStatus, LearningDay, Program, Task, Track
from fokus.review import files as review_files
from fokus.review.errors import FileRefused
from fokus.review.models import Attempt, AttemptStatus, Submission
from fokus.scoring.services import BonusRefused, bonus_award
from fokus.supervision import queries, rules
from fokus.supervision.models import (
    ApplicationConfirmation,
    RuleKind,
    SupportTask,
    SupportTaskStatus,
    SupportTaskTemplate,
)

logger = logging.getLogger(__name__)

NOTE_MAX = 1000
TEXT_MAX = 500
# Points a confirmation gives the report; the program's bonus limits still apply.
CONFIRMATION_POINTS = Decimal(1)
# The observation checklist: key -> question. The first one is what a confirmation means.
CHECKLIST: dict[str, Any] = {
    "used_with_client": gettext_lazy("Used the day's technique with a real client"),
    "followed_steps": gettext_lazy("Followed the steps of the technique"),
    "client_responded": gettext_lazy("The client responded well"),
}
REQUIRED_ITEM = "used_with_client"


class SupervisionError(ValueError):
    """Bad input or a refused action; the message is for the user, `field` names the input."""

    def __init__(self, message: str, *, field: str = "", permission: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.permission = permission


def _language_of(person: Person) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    return person.language if person.language in known else settings.LANGUAGE_CODE


# --- templates ---------------------------------------------------------------------------


def support_templates_ensure(program: Program) -> dict[tuple[str, str], SupportTaskTemplate]:
    """The program's templates, creating the default ones (Russian and English) if missing."""
    existing = {(t.rule, t.language): t for t in queries.templates_of(program)}
    missing = [
        SupportTaskTemplate(
            program=program,
            rule=rule,
            language=language,
            text=rules.DEFAULT_TEXTS[rule][language],
            parameters=dict(rules.DEFAULT_PARAMETERS[rule]),
            updated_at=clock.now(),
        )
        for rule in RuleKind.values
        for language in rules.LANGUAGES
        if (rule, language) not in existing
    ]
    if missing:
        SupportTaskTemplate.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {(t.rule, t.language): t for t in queries.templates_of(program)}
    return existing


def may_edit_templates(person: Person | None) -> bool:
    return person is not None and (person.has_role(Role.AUTHOR) or person.has_role(Role.ADMIN))


@transaction.atomic
def support_template_save(
    *,
    template: SupportTaskTemplate,
    author: Person,
    text: str,
    parameters: Mapping[str, Any],
    is_active: bool,
) -> SupportTaskTemplate:
    """Change a rule's text and parameters; new tasks use them, generated ones keep theirs."""
    if not may_edit_templates(author) or author.organization_id != template.program.organization_id:
        raise SupervisionError(_("You do not have permission to do this."), permission=True)
    text = (text or "").strip()
    if not text:
        raise SupervisionError(_("The text is required."), field="text")
    if len(text) > TEXT_MAX:
        raise SupervisionError(
            _("The text is longer than %(max)s characters.") % {"max": TEXT_MAX}, field="text"
        )
    problems = rules.placeholder_problems(template.rule, text)
    if problems:
        raise SupervisionError(" ".join(problems), field="text")
    merged = rules.parameters_with_defaults(template.rule, dict(parameters))
    problems = rules.parameter_problems(template.rule, merged)
    if problems:
        raise SupervisionError(" ".join(problems), field="parameters")
    template.text = text
    template.parameters = merged
    template.is_active = is_active
    template.updated_at = clock.now()
    template.updated_by = author
    template.save(update_fields=["text", "parameters", "is_active", "updated_at", "updated_by"])
    return template


# --- generated support tasks -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    rule: str
    subject: str
    values: dict[str, Any]
    report: Person | None = None
    task: Task | None = None


def _end_of_day_utc(supervisor: Person, on: date) -> datetime:
    start = datetime.combine(on + timedelta(days=1), datetime.min.time())
    return start.replace(tzinfo=queries.zone_of(supervisor))


def _not_answered(
    supervisor: Person, team: list[Person], followed: Track, day: LearningDay, now: datetime,
    parameters: dict[str, Any],
) -> list[_Candidate]:
    day_tasks = list(Task.objects.filter(track=followed, day=day).order_by("slot__local_time",
                                                                              "position"))
    if not day_tasks:
        return []
    local = queries.local_now(supervisor, now)
    if local.date() < day.date:
        return []
    if local.date() == day.date and (
        local.hour * 60 + local.minute < rules.minutes_of(str(parameters["after"]))
    ):
        return []
    answered: dict[int, int] = {}
    for person_id in Submission.objects.filter(
        task__in=day_tasks, person__in=team, status__in=queries.ANSWERED
    ).values_list("person_id", flat=True):
        answered[person_id] = answered.get(person_id, 0) + 1
    missing = [p for p in team if answered.get(p.pk, 0) < len(day_tasks)]
    if len(missing) < int(parameters["min_missing"]):
        return []
    return [
        _Candidate(
            rule=RuleKind.NOT_ANSWERED,
            subject="team",
            values={
                "missing": len(missing),
                "total": len(team),
                "names": ", ".join(p.full_name for p in missing),
                "task": "; ".join(t.title for t in day_tasks),
            },
            task=day_tasks[0],
        )
    ]


def _decided_attempts(
    program: Program, team: list[Person], status: str, until: datetime
) -> list[Attempt]:
    """Latest attempts in `status` of the team's answers, decided before `until`."""
    return list(
        Attempt.objects.filter(
            submission__program=program,
            submission__person__in=team,
            submission__status=status,
            status=status,
            decided_at__lt=until,
        )
        .select_related("submission__person", "submission__task")
        .order_by("decided_at", "id")
    )


def _attempt_rules(
    supervisor: Person, program: Program, team: list[Person], day: LearningDay,
    active: set[str],
) -> list[_Candidate]:
    until = _end_of_day_utc(supervisor, day.date)
    candidates: list[_Candidate] = []
    if RuleKind.RETURNED in active:
        for attempt in _decided_attempts(program, team, AttemptStatus.RETURNED, until):
            candidates.append(_Candidate(
                rule=RuleKind.RETURNED,
                subject=f"attempt:{attempt.pk}",
                values={"name": attempt.submission.person.full_name,
                        "task": attempt.submission.task.title},
                report=attempt.submission.person,
                task=attempt.submission.task,
            ))
    if RuleKind.TOP_GRADE in active:
        for attempt in _decided_attempts(program, team, AttemptStatus.GRADED, until):
            task = attempt.submission.task
            if attempt.grade is None or attempt.grade < task.grade_max:
                continue
            candidates.append(_Candidate(
                rule=RuleKind.TOP_GRADE,
                subject=f"attempt:{attempt.pk}",
                values={"name": attempt.submission.person.full_name, "task": task.title,
                        "grade": attempt.grade, "grade_max": task.grade_max},
                report=attempt.submission.person,
                task=task,
            ))
    if not candidates:
        return []
    # An answer's task fires once, ever: not again on the next days while it stays returned.
    fired = set(
        SupportTask.objects.filter(
            supervisor=supervisor, program=program,
            subject__in=[c.subject for c in candidates],
        ).exclude(day=day).values_list("rule", "subject")
    )
    return [c for c in candidates if (c.rule, c.subject) not in fired]


def support_tasks_generate(*, program: Program, day: LearningDay, now: datetime) -> list[
    SupportTask
]:
    """Turn each supervisor's team state on `day` into support tasks; returns the new ones.

    Supervisors are the people enrolled in a track that follows another; their team is
    their direct reports enrolled in the followed track. Idempotent: a rule fires at
    most once per subject and day (a unique row), so every run may call it again.
    """
    if day.program_id != program.pk:
        raise ValueError("the day belongs to another program")
    templates = support_templates_ensure(program)
    created: list[SupportTask] = []
    for supervisor, track in queries.supervisors_of(program):
        followed = track.follows
        if followed is None or queries.local_date(supervisor, now) < day.date:
            continue
        team = queries.team_in_track(supervisor, followed)
        if not team:
            continue
        language = _language_of(supervisor)
        chosen = {
            rule: templates.get((rule, language)) or templates.get((rule, settings.LANGUAGE_CODE))
            for rule in RuleKind.values
        }
        active = {rule for rule, t in chosen.items() if t is not None and t.is_active}
        candidates: list[_Candidate] = []
        not_answered = chosen[RuleKind.NOT_ANSWERED]
        if RuleKind.NOT_ANSWERED in active and not_answered is not None:
            parameters = rules.parameters_with_defaults(
                RuleKind.NOT_ANSWERED, not_answered.parameters
            )
            candidates += _not_answered(supervisor, team, followed, day, now, parameters)
        candidates += _attempt_rules(supervisor, program, team, day, active)
        for candidate in candidates:
            template = chosen[candidate.rule]
            assert template is not None
            row = _support_task_create(
                supervisor=supervisor, program=program, track=track, day=day,
                candidate=candidate, text=rules.render(template.text, candidate.values), now=now,
            )
            if row is not None:
                created.append(row)
    return created


def _support_task_create(
    *, supervisor: Person, program: Program, track: Track, day: LearningDay,
    candidate: _Candidate, text: str, now: datetime,
) -> SupportTask | None:
    if SupportTask.objects.filter(
        supervisor=supervisor, rule=candidate.rule, subject=candidate.subject, day=day
    ).exists():
        return None
    try:
        with transaction.atomic():
            return SupportTask.objects.create(
                organization_id=program.organization_id,
                program=program,
                track=track,
                supervisor=supervisor,
                day=day,
                rule=candidate.rule,
                subject=candidate.subject,
                report=candidate.report,
                task=candidate.task,
                text=text[:1000],
                created_at=now,
            )
    except IntegrityError:
        # Another run made the same row a moment ago: generation stays idempotent.
        return None


def _resolve(task: SupportTask, supervisor: Person, status: str, note: str) -> SupportTask:
    if task.supervisor_id != supervisor.pk:
        raise SupervisionError(_("This task is not yours."), permission=True)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise SupervisionError(
            _("The note is longer than %(max)s characters.") % {"max": NOTE_MAX}, field="note"
        )
    task.status = status
    task.note = note
    task.resolved_at = clock.now()
    task.save(update_fields=["status", "note", "resolved_at"])
    return task


def support_task_complete(*, task: SupportTask, supervisor: Person, note: str = "") -> SupportTask:
    return _resolve(task, supervisor, SupportTaskStatus.DONE, note)


def support_task_skip(*, task: SupportTask, supervisor: Person, note: str) -> SupportTask:
    """Skipping needs a reason: it tells the manager above why the team got no help."""
    if not (note or "").strip():
        raise SupervisionError(_("Say why you skip this task: the note is required."),
                               field="note")
    return _resolve(task, supervisor, SupportTaskStatus.SKIPPED, note)


# --- confirming application at work -------------------------------------------------------


def _check_report(supervisor: Person, report: Person, program: Program) -> None:
    if (
        supervisor.organization_id != program.organization_id
        or report.organization_id != program.organization_id
        or not queries.manages(supervisor, report)
    ):
        raise SupervisionError(
            _("Only a manager of %(person)s may do this.") % {"person": report.full_name},
            permission=True,
        )
    if not report.enrollments.filter(
        track__program=program, status=EnrollmentStatus.ACTIVE
    ).exists():
        raise SupervisionError(
            _("%(person)s is not enrolled in program “%(program)s”.")
            % {"person": report.full_name, "program": program.title}
        )


def application_confirm(
    *,
    supervisor: Person,
    report: Person,
    program: Program,
    day: LearningDay,
    checklist: Mapping[str, bool],
    note: str = "",
    photo: Any = None,
) -> ApplicationConfirmation:
    """Record an observed use of the day's technique and give the report bonus points.

    The points go through `scoring.bonus_award` with a key per confirmation, so the
    program's bonus limits apply; at the limit the confirmation is still recorded and
    says why no points came with it. One confirmation per report and learning day.
    """
    _check_report(supervisor, report, program)
    if day.program_id != program.pk:
        raise SupervisionError(_("Choose a learning day of this program."), field="day")
    if day.date > queries.local_date(report, clock.now()):
        raise SupervisionError(_("This learning day has not come yet."), field="day")
    unknown = [key for key in checklist if key not in CHECKLIST]
    if unknown:
        raise SupervisionError(
            _("Unknown checklist item “%(item)s”.") % {"item": unknown[0]}, field="checklist"
        )
    if not checklist.get(REQUIRED_ITEM):
        raise SupervisionError(
            _("A confirmation means the technique was used with a real client: tick “%(item)s”.")
            % {"item": CHECKLIST[REQUIRED_ITEM]},
            field="checklist",
        )
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise SupervisionError(
            _("The note is longer than %(max)s characters.") % {"max": NOTE_MAX}, field="note"
        )
    if ApplicationConfirmation.objects.filter(report=report, program=program, day=day).exists():
        raise SupervisionError(
            _("%(person)s's work on day %(index)s is already confirmed.")
            % {"person": report.full_name, "index": day.index},
            field="day",
        )
    checked = None
    if photo is not None:
        try:
            checked = review_files.check_upload(photo, photos=True, documents=False)
        except FileRefused as error:
            raise SupervisionError(str(error), field="photo") from error
    stored = review_files.store([checked]) if checked is not None else []
    try:
        confirmation = _confirmation_record(
            supervisor=supervisor, report=report, program=program, day=day,
            checklist={key: bool(checklist.get(key)) for key in CHECKLIST}, note=note,
            storage_name=stored[0] if stored else "",
            content_type=checked.content_type if checked is not None else "",
        )
    except BaseException:
        review_files.remove(stored)
        raise
    return confirmation


@transaction.atomic
def _confirmation_record(
    *, supervisor: Person, report: Person, program: Program, day: LearningDay,
    checklist: dict[str, bool], note: str, storage_name: str, content_type: str,
) -> ApplicationConfirmation:
    task = (
        Task.objects.filter(
            day=day, track__enrollments__person=report,
            track__enrollments__status=EnrollmentStatus.ACTIVE,
        )
        .order_by("slot__local_time", "position")
        .first()
    )
    try:
        with transaction.atomic():
            confirmation = ApplicationConfirmation.objects.create(
                organization_id=program.organization_id, program=program, supervisor=supervisor,
                report=report, day=day, task=task, checklist=checklist, note=note,
                photo_storage_name=storage_name, photo_content_type=content_type,
                created_at=clock.now(),
            )
    except IntegrityError as error:
        raise SupervisionError(
            _("%(person)s's work on day %(index)s is already confirmed.")
            % {"person": report.full_name, "index": day.index},
            field="day",
        ) from error
    with translation.override(_language_of(report)):
        reason = _("Used the technique of day %(index)s with a real client (confirmed by "
                   "%(name)s)") % {"index": day.index, "name": supervisor.full_name}
    try:
        entry = bonus_award(
            program=program, person=report, amount=CONFIRMATION_POINTS, reason=reason[:300],
            awarded_by=supervisor, request_key=f"confirmation:{confirmation.pk}",
            occurred_on=day.date,
        )
    except BonusRefused as refused:
        if refused.permission:
            raise SupervisionError(str(refused), permission=True) from refused
        confirmation.points_refused = str(refused)[:500]
        confirmation.save(update_fields=["points_refused"])
        return confirmation
    confirmation.points = entry.amount
    confirmation.points_entry = entry
    confirmation.save(update_fields=["points", "points_entry"])
    return confirmation


# --- nudges ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NudgeResult:
    delivery: Delivery
    already_sent_today: bool


def nudge_send(
    *, supervisor: Person, report: Person, program: Program, now: datetime | None = None
) -> NudgeResult:
    """A one-click reminder to a report through their channel; once per day per pair."""
    _check_report(supervisor, report, program)
    now = now or clock.now()
    on = queries.local_date(report, now)
    contact_point = f"nudge:{supervisor.pk}:{report.pk}:{on.isoformat()}"
    already = Delivery.objects.filter(person=report, contact_point=contact_point).exists()
    url = settings.FOKUS_PUBLIC_URL.rstrip("/") + reverse("programs:today")
    with translation.override(_language_of(report)):
        payload = {
            "subject": _("A reminder from %(name)s") % {"name": supervisor.full_name},
            "text": _(
                "%(name)s reminds you: today's task in “%(program)s” is waiting for your "
                "answer. It takes a few minutes."
            ) % {"name": supervisor.full_name, "program": program.title},
            "buttons": [[{"text": _("Open today's tasks"), "url": url}]],
        }
    delivery = delivery_enqueue(
        person=report, kind=DeliveryKind.NUDGE, contact_point=contact_point, due_at=now,
        payload=payload, program=program,
    )
    if delivery is None:
        raise SupervisionError(
            _("Fokus cannot reach %(person)s: no linked Telegram and no e-mail address.")
            % {"person": report.full_name}
        )
    return NudgeResult(delivery=delivery, already_sent_today=already)
