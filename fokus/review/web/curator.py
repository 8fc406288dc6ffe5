"""The curator's side on the web: the review queue, the review page, turnaround stats
and the audit of review events.

Every view resolves the caller's organisation first (no organisation: 404), looks the
attempt up inside it (a foreign id: 404), then checks the role (403). Times render on
the curator's own clock. The queue's filters travel in the query string from the queue
to the review page and back, so "decide, then the next answer" stays in one filter.
Keyboard: fokus/review/static/review/curator.js (no inline script: the CSP forbids it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_date
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fokus.core import clock
from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.markdown import render_markdown
from fokus.programs.web.access import staff_view
from fokus.review import queries
from fokus.review.errors import AlreadyDecided, ClaimConflict, ReviewError, ReviewForbidden
from fokus.review.models import Attempt, AttemptStatus, ReviewEventKind
from fokus.review.queries import FilterNotFound, QueueFilters
from fokus.review.services import (
    attempt_assign,
    attempt_claim,
    attempt_claim_next,
    attempt_grade,
    attempt_release,
    attempt_return_for_revision,
)

T = "review/curator/"
FILTER_KEYS = ("program", "track", "day", "unit", "task", "mine")
View = Callable[..., HttpResponseBase]


_CURATORS_ONLY = gettext_lazy("This page is for curators and admins.")
reviewer_view = staff_view(queries.person_may_review, _CURATORS_ONLY)
stats_view = staff_view(queries.person_may_see_stats, _CURATORS_ONLY)
admin_view = staff_view(queries.person_is_review_admin, _CURATORS_ONLY)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _filter_values(data: Any) -> dict[str, str]:
    """The queue filters present in a query string or form, as strings."""
    values = {key: (data.get(key) or "").strip() for key in FILTER_KEYS}
    return {k: v for k, v in values.items() if v}


def _filters(organization: Organization, values: dict[str, str]) -> QueueFilters:
    try:
        return queries.queue_filters_resolve(
            organization=organization,
            program=values.get("program", ""),
            track=values.get("track", ""),
            day_index=_int(values.get("day")),
            unit_id=_int(values.get("unit")),
            task_id=_int(values.get("task")),
            mine=values.get("mine") in {"1", "on", "true"},
        )
    except FilterNotFound as missing:
        raise Http404 from missing


def _query(values: dict[str, str]) -> str:
    return ("?" + urlencode(values)) if values else ""


def _attempt_url(attempt: Attempt | int, values: dict[str, str]) -> str:
    pk = attempt if isinstance(attempt, int) else attempt.pk
    return reverse("curator:attempt", kwargs={"attempt_id": pk}) + _query(values)


def _queue_url(values: dict[str, str]) -> str:
    return reverse("curator:queue") + _query(values)


# --- the queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowView:
    """One queue row as text: built here, not in the template, as fifty rows of
    blocktranslate, date and url tags cost more than the database does."""

    attempt_id: int
    url: str
    overdue: bool
    claim_live: bool
    who: str
    unit: str
    task: str
    where: str
    waiting: str
    submitted_iso: str
    submitted: str
    is_late: bool
    claim: str
    assigned: str


def _row_views(rows: list[queries.QueueRow], person: Person, query: str) -> list[RowView]:
    prefix = reverse("curator:attempt", kwargs={"attempt_id": 1}).removesuffix("1/")
    day_label, attempt_label = _("Day %(index)s"), _("attempt %(number)s")
    waiting_label, overdue_label = _("%(waited)s of %(target)s h"), _("overdue")
    you, reviewing = _("claimed by you"), _("%(name)s is reviewing")
    assigned_label = _("assigned: %(name)s")
    views = []
    for row in rows:
        a, s = row.attempt, row.attempt.submission
        assert a.submitted_at is not None
        where = [s.program.title, s.track.title, day_label % {"index": s.task.day.index}]
        if a.number > 1:
            where.append(attempt_label % {"number": a.number})
        waiting = waiting_label % {
            "waited": formats.number_format(row.waiting_hours, 1), "target": row.target_hours
        }
        if row.overdue:
            waiting += f" · {overdue_label}"
        claim = ""
        if row.claim_live and a.claimed_by is not None:
            claim = you if a.claimed_by_id == person.pk else reviewing % {
                "name": a.claimed_by.full_name
            }
        local = timezone.localtime(a.submitted_at)
        views.append(RowView(
            attempt_id=a.pk,
            url=f"{prefix}{a.pk}/{query}",
            overdue=row.overdue,
            claim_live=row.claim_live,
            who=s.person.full_name,
            unit=s.unit.name if s.unit else "",
            task=s.task.title,
            where=" · ".join(where),
            waiting=waiting,
            submitted_iso=local.isoformat(),
            submitted=formats.date_format(local, "j E, H:i"),
            is_late=a.is_late,
            claim=claim,
            assigned=assigned_label % {"name": s.assigned_curator.full_name}
            if s.assigned_curator else "",
        ))
    return views



@reviewer_view
@require_GET
def queue(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    values = _filter_values(request.GET)
    filters = _filters(organization, values)
    now = clock.now()
    page = queries.queue_page(
        organization=organization,
        filters=filters,
        curator=person,
        now=now,
        cursor=request.GET.get("after", ""),
        limit=queries.QUEUE_PAGE_SIZE,
    )
    choices = queries.queue_choices(organization=organization, program_id=filters.program_id)
    return render(request, T + "queue.html", {
        "page": page,
        "rows": _row_views(page.rows, person, _query(values)),
        "waiting_title": _("Waiting, in working hours, against the program target"),
        "late_label": _("late"),
        "choices": choices,
        "values": values,
        "filter_query": _query(values),
        "next_page": (
            _queue_url({**values, "after": page.next_cursor}) if page.next_cursor else ""
        ),
        "is_first_page": not request.GET.get("after"),
        "now": now,
        "may_see_stats": queries.person_may_see_stats(person),
        "is_admin": queries.person_is_review_admin(person),
    })


@reviewer_view
@require_POST
def next_answer(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    """Claim the oldest matching answer nobody holds and open it (N on the review page)."""
    values = _filter_values(request.POST)
    filters = _filters(organization, values)
    skip = None
    skip_id = _int(request.POST.get("skip"))
    if skip_id is not None:
        skip = queries.review_attempt(organization=organization, attempt_id=skip_id)
        if skip is None:
            raise Http404
    return _go_next(request, organization, person, filters, values, skip=skip)


def _go_next(
    request: HttpRequest,
    organization: Organization,
    person: Person,
    filters: QueueFilters,
    values: dict[str, str],
    *,
    skip: Attempt | None = None,
) -> HttpResponse:
    try:
        attempt = attempt_claim_next(
            organization=organization, curator=person, filters=filters, skip=skip
        )
    except ReviewForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    if attempt is None:
        messages.info(request, _("No answers are waiting in this filter. Well done!"))
        return redirect(_queue_url(values))
    return redirect(_attempt_url(attempt, values))


# --- the review page ---------------------------------------------------------------------


def _rubric(text: str) -> dict[str, Any] | None:
    """"criterion: mark" per line → a dict; ReviewError names the line at fault."""
    rubric: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        name, sep, mark = line.partition(":")
        if not sep or not name.strip() or not mark.strip():
            raise ReviewError(
                _("Rubric line %(line)s: write “criterion: mark”, e.g. “Structure: 2”.")
                % {"line": number},
                field="rubric",
            )
        value = mark.strip()
        rubric[name.strip()] = int(value) if value.isdigit() else value
    return rubric or None


def _rubric_text(rubric: dict[str, Any] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (rubric or {}).items())


def _review_context(
    request: HttpRequest,
    organization: Organization,
    person: Person,
    attempt_id: int,
    values: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    now = clock.now()
    page = queries.review_page(organization=organization, attempt_id=attempt_id, now=now)
    if page is None:
        raise Http404
    attempt = page.attempt
    submission = attempt.submission
    held_by_me = page.claim_live and attempt.claimed_by_id == person.pk
    held_by_other = page.claim_live and not held_by_me
    may_assign = queries.person_may_assign(person, submission.program_id)
    context = {
        "page": page,
        "attempt": attempt,
        "submission": submission,
        "task": submission.task,
        "prompt_html": mark_safe(render_markdown(submission.task.prompt)),  # noqa: S308 - nh3
        "participant": submission.person,
        "participant_zone": submission.person.time_zone,
        "pending": attempt.status == AttemptStatus.SUBMITTED,
        "held_by_me": held_by_me,
        "held_by_other": held_by_other,
        "values": values,
        "filter_query": _query(values),
        "queue_url": _queue_url(values),
        "may_assign": may_assign,
        "curators": queries.review_curators(organization=organization) if may_assign else [],
        "feedback_value": "",
        "decision_value": "",
        "rubric_value": "",
        "error": None,
        "error_field": "",
    }
    context.update(extra)
    return context


@reviewer_view
@require_http_methods(["GET", "POST"])
def attempt_page(
    request: HttpRequest, organization: Organization, person: Person, attempt_id: int
) -> HttpResponse:
    """GET: the answer and the decision form. POST: the decision, then the next answer."""
    values = _filter_values(request.GET)
    attempt = queries.review_attempt(organization=organization, attempt_id=attempt_id)
    if attempt is None:
        raise Http404
    if request.method == "GET":
        return render(
            request, T + "attempt.html",
            _review_context(request, organization, person, attempt_id, values),
        )

    feedback = request.POST.get("feedback", "")
    decision = request.POST.get("decision", "")
    rubric_text = request.POST.get("rubric", "")
    kept = {"feedback_value": feedback, "decision_value": decision, "rubric_value": rubric_text}
    try:
        if decision == "return":
            attempt_return_for_revision(attempt=attempt, curator=person, feedback=feedback)
            done = _("Returned for revision: %(name)s.") % {
                "name": attempt.submission.person.full_name
            }
        elif decision.isdigit():
            grade = int(decision)
            attempt_grade(
                attempt=attempt, curator=person, grade=grade, feedback=feedback,
                rubric=_rubric(rubric_text),
            )
            done = _("Graded %(grade)s: %(name)s.") % {
                "grade": grade, "name": attempt.submission.person.full_name
            }
        else:
            raise ReviewError(
                _("Choose a decision: return for revision, or a grade."), field="decision"
            )
    except AlreadyDecided as gone:
        messages.warning(request, _("Not saved: %(why)s") % {"why": gone.message})
        return _go_next(request, organization, person, _filters(organization, values), values)
    except ClaimConflict as lost:
        context = _review_context(
            request, organization, person, attempt_id, values,
            error=_("Your decision was not saved: the answer is no longer yours. %(why)s "
                    "Your feedback is kept below; copy it if you need it.")
            % {"why": lost.message},
            **kept,
        )
        return render(request, T + "attempt.html", context, status=409)
    except ReviewForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except ReviewError as invalid:
        context = _review_context(
            request, organization, person, attempt_id, values,
            error=invalid.message, error_field=invalid.field, **kept,
        )
        return render(request, T + "attempt.html", context, status=400)
    messages.success(request, done)
    return _go_next(request, organization, person, _filters(organization, values), values)


@reviewer_view
@require_POST
def claim(
    request: HttpRequest, organization: Organization, person: Person, attempt_id: int
) -> HttpResponse:
    values = _filter_values(request.GET)
    attempt = queries.review_attempt(organization=organization, attempt_id=attempt_id)
    if attempt is None:
        raise Http404
    try:
        attempt_claim(attempt=attempt, curator=person)
    except ClaimConflict as lost:
        messages.warning(request, lost.message)
    except ReviewForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    return redirect(_attempt_url(attempt, values))


@reviewer_view
@require_POST
def release(
    request: HttpRequest, organization: Organization, person: Person, attempt_id: int
) -> HttpResponse:
    values = _filter_values(request.GET)
    attempt = queries.review_attempt(organization=organization, attempt_id=attempt_id)
    if attempt is None:
        raise Http404
    try:
        attempt_release(attempt=attempt, curator=person)
    except ReviewForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    messages.info(request, _("The answer is back in the queue for other curators."))
    return redirect(_queue_url(values))


@reviewer_view
@require_POST
def assign(
    request: HttpRequest, organization: Organization, person: Person, attempt_id: int
) -> HttpResponse:
    values = _filter_values(request.GET)
    attempt = queries.review_attempt(organization=organization, attempt_id=attempt_id)
    if attempt is None:
        raise Http404
    assignee = None
    assignee_id = _int(request.POST.get("assignee"))
    if assignee_id is not None:
        assignee = next(
            (c for c in queries.review_curators(organization=organization) if c.pk == assignee_id),
            None,
        )
        if assignee is None:
            messages.error(request, _("Choose one of the organisation's curators."))
            return redirect(_attempt_url(attempt, values))
    try:
        attempt_assign(attempt=attempt, curator=person, assignee=assignee)
    except ReviewForbidden as refused:
        raise PermissionDenied(refused.message) from refused
    except ReviewError as invalid:
        messages.error(request, invalid.message)
        return redirect(_attempt_url(attempt, values))
    if assignee is None:
        messages.success(request, _("The answer is not assigned to anyone now."))
    else:
        messages.success(request, _("Assigned to %(name)s.") % {"name": assignee.full_name})
    return redirect(_attempt_url(attempt, values))


# --- stats and audit ---------------------------------------------------------------------


def _date_start(value: str | None) -> datetime | None:
    """A date from a form, as the start of that day on the viewer's clock."""
    day = parse_date(value) if value else None
    if day is None:
        return None
    return datetime.combine(day, time(0), tzinfo=timezone.get_current_timezone())


def _program_id(organization: Organization, slug: str) -> int | None:
    if not slug:
        return None
    try:
        return queries.queue_filters_resolve(organization=organization, program=slug).program_id
    except FilterNotFound as missing:
        raise Http404 from missing


@stats_view
@require_GET
def stats(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    now = clock.now()
    until_day = _date_start(request.GET.get("until"))
    until = until_day + timedelta(days=1) if until_day else now
    since = _date_start(request.GET.get("since")) or until - timedelta(days=30)
    program_ids: list[int] | None = None
    if not queries.person_is_review_admin(person):
        program_ids = queries.programs_led_by(person)
    program_slug = request.GET.get("program", "")
    selected = _program_id(organization, program_slug)
    if selected is not None:
        if program_ids is not None and selected not in program_ids:
            raise Http404
        program_ids = [selected]
    report = queries.review_stats(
        organization=organization, program_ids=program_ids, since=since, until=until, now=now
    )
    overdue: list[tuple[Any, queries.OverdueAttempt]] = []
    for program_stats in report.programs:
        if program_stats.pending_overdue:
            overdue.extend(
                (program_stats.program, row)
                for row in queries.review_overdue_list(
                    organization=organization, now=now, program_id=program_stats.program.pk
                )[:50]
            )
    choices = queries.queue_choices(organization=organization, program_id=None).programs
    if not queries.person_is_review_admin(person):
        led = set(queries.programs_led_by(person))
        choices = [p for p in choices if p.pk in led]
    return render(request, T + "stats.html", {
        "report": report,
        "overdue": overdue,
        "programs": choices,
        "program_slug": program_slug,
        "since_value": timezone.localtime(since).date().isoformat(),
        "until_value": (timezone.localtime(until) - timedelta(seconds=1)).date().isoformat(),
    })


def _describe(data: dict[str, Any], names: dict[int, str]) -> list[tuple[str, str]]:
    """An event's before/after as readable pairs: people by name, instants on our clock."""
    pairs = []
    for key, value in (data or {}).items():
        shown: str
        if key in {"claimed_by", "curator", "decided_by"} and isinstance(value, int):
            shown = names.get(value, f"#{value}")
        elif value is None:
            shown = "—"
        elif isinstance(value, str) and key.endswith(("_until", "_at")):
            try:
                shown = timezone.localtime(datetime.fromisoformat(value)).strftime("%d.%m.%Y %H:%M")
            except ValueError:
                shown = value
        elif isinstance(value, dict):
            shown = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            shown = str(value)
        pairs.append((key, shown))
    return pairs


@admin_view
@require_GET
def audit(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    actor_id = _int(request.GET.get("curator"))
    program_slug = request.GET.get("program", "")
    program_id = _program_id(organization, program_slug)
    kind = request.GET.get("kind", "")
    if kind and kind not in ReviewEventKind.values:
        kind = ""
    since_text, until_text = request.GET.get("since", ""), request.GET.get("until", "")
    since = _date_start(since_text)
    until_day = _date_start(until_text)
    until = until_day + timedelta(days=1) if until_day else None
    filters = queries.AuditFilters(
        actor_id=actor_id, program_id=program_id, kind=kind, since=since, until=until
    )
    page = queries.audit_events(
        organization=organization, filters=filters, cursor=request.GET.get("after", "")
    )
    actors = queries.audit_actors(organization=organization)
    mentioned: set[int] = set()
    for event in page.events:
        for data in (event.before, event.after):
            for key in ("claimed_by", "curator", "decided_by"):
                if isinstance((data or {}).get(key), int):
                    mentioned.add(data[key])
    names = dict(
        Person.objects.filter(organization=organization, pk__in=mentioned).values_list(
            "pk", "full_name"
        )
    )
    rows = [
        {"event": e, "before": _describe(e.before, names), "after": _describe(e.after, names)}
        for e in page.events
    ]
    params = {
        k: v for k, v in {
            "curator": request.GET.get("curator", ""), "program": program_slug, "kind": kind,
            "since": since_text, "until": until_text,
        }.items() if v
    }
    return render(request, T + "audit.html", {
        "rows": rows,
        "actors": actors,
        "programs": queries.queue_choices(organization=organization, program_id=None).programs,
        "kinds": ReviewEventKind.choices,
        "params": params,
        "next_page": (
            reverse("curator:audit") + "?" + urlencode({**params, "after": page.next_cursor})
            if page.next_cursor else ""
        ),
    })
