"""Operator pages: the delivery log, drop progress, failures and resend.

Admins see and resend; viewers see only. Times are shown in the viewer's own zone
(the pages render inside `timezone.override`); the date filters are the viewer's
local days turned into UTC bounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from fokus.core import clock
from fokus.core.models import Organization
from fokus.delivery import operator
from fokus.delivery.models import Channel, Delivery, DeliveryKind, DeliveryStatus
from fokus.people.models import Person
from fokus.programs.models import Program
from fokus.programs.web.access import staff_view

T = "delivery/operator/"
PAGE_SIZE = 50
LOG_KEYS = ("person", "program", "status", "kind", "channel", "contact_point", "date_from",
            "date_until")
View = Callable[..., HttpResponseBase]


_OPERATORS_ONLY = gettext_lazy("This page is for admins and viewers.")
viewer_view = staff_view(operator.person_may_view_deliveries, _OPERATORS_ONLY)
admin_view = staff_view(operator.person_may_resend, _OPERATORS_ONLY)


def _local_day_start(value: str, tz: dt.tzinfo) -> dt.datetime | None:
    day = parse_date(value) if value else None
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def _program(organization: Organization, slug: str) -> Program | None:
    if not slug:
        return None
    program = Program.objects.filter(organization=organization, slug=slug).first()
    if program is None:
        raise Http404
    return program


def _choice(value: str, allowed: list[str]) -> str:
    return value if value in allowed else ""


def _page(
    organization: Organization, rows: QuerySet[Delivery], number: str | None
) -> Page[Any]:
    """A page cut from the ids, then its rows loaded (operator.deliveries_in_order)."""
    ids = Paginator(rows.values_list("pk", flat=True), PAGE_SIZE).get_page(number)
    loaded = operator.deliveries_in_order(organization=organization, ids=list(ids.object_list))
    return Page(loaded, ids.number, ids.paginator)


@require_GET
@viewer_view
def log(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    values = {key: (request.GET.get(key) or "").strip() for key in LOG_KEYS}
    problems: list[str] = []
    tz = timezone.get_current_timezone()
    due_from = _local_day_start(values["date_from"], tz)
    if values["date_from"] and due_from is None:
        problems.append(_("From: enter a date as YYYY-MM-DD."))
    until_start = _local_day_start(values["date_until"], tz)
    if values["date_until"] and until_start is None:
        problems.append(_("Until: enter a date as YYYY-MM-DD."))
    due_until = until_start + dt.timedelta(days=1) if until_start is not None else None
    filters = operator.LogFilters(
        person=values["person"],
        program=values["program"],
        status=_choice(values["status"], DeliveryStatus.values),
        kind=_choice(values["kind"], DeliveryKind.values),
        channel=_choice(values["channel"], Channel.values),
        contact_point=values["contact_point"],
        due_from=due_from,
        due_until=due_until,
    )
    rows = operator.delivery_log(organization=organization, filters=filters)
    page = _page(organization, rows, request.GET.get("page"))
    query = urlencode({k: v for k, v in values.items() if v})
    return render(request, T + "log.html", {
        "page": page, "values": values, "query": query, "problems": problems,
        "programs": operator.programs_for_filter(organization=organization),
        "statuses": DeliveryStatus.choices, "kinds": DeliveryKind.choices,
        "channels": Channel.choices,
        "may_resend": operator.person_may_resend(person),
    })


@require_GET
@viewer_view
def drops(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    """Per drop progress for one local day of the viewer (today unless `date` is given)."""
    tz = timezone.get_current_timezone()
    day = parse_date(request.GET.get("date") or "") or clock.now().astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    program = _program(organization, (request.GET.get("program") or "").strip())
    progress = operator.drop_progress(
        organization=organization, due_from=start, due_until=start + dt.timedelta(days=1),
        program=program,
    )
    return render(request, T + "drops.html", {
        "drops": progress, "day": day, "program": program,
        "previous_day": day - dt.timedelta(days=1), "next_day": day + dt.timedelta(days=1),
        "programs": operator.programs_for_filter(organization=organization),
        "may_resend": operator.person_may_resend(person),
    })


@require_GET
@viewer_view
def failures(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    program = _program(organization, (request.GET.get("program") or "").strip())
    contact_point = (request.GET.get("contact_point") or "").strip()
    rows = operator.failures(
        organization=organization, program=program, contact_point=contact_point
    )
    page = _page(organization, rows, request.GET.get("page"))
    query = urlencode({k: v for k, v in (
        ("program", program.slug if program else ""), ("contact_point", contact_point)
    ) if v})
    return render(request, T + "failures.html", {
        "page": page, "program": program, "contact_point": contact_point, "query": query,
        "reasons": operator.failure_reasons(
            organization=organization, program=program, contact_point=contact_point
        ),
        "may_resend": operator.person_may_resend(person),
    })


def _back(request: HttpRequest, default: str) -> str:
    """Where to return after a POST: the page's own `next`, if it is one of ours."""
    target = request.POST.get("next") or ""
    return target if target.startswith("/operator/") else default


@require_POST
@admin_view
def resend(
    request: HttpRequest, organization: Organization, person: Person, delivery_id: int
) -> HttpResponse:
    delivery = operator.delivery_for_operator(organization=organization, delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    if operator.delivery_resend(delivery, person):
        messages.success(request, _("The message is back in the outbox and goes out now."))
    else:
        messages.warning(
            request, _("Only failed or skipped messages can be resent; this one is %(status)s.")
            % {"status": delivery.get_status_display()},
        )
    return redirect(_back(request, reverse("delivery_operator:log")))


@require_POST
@admin_view
def resend_drop(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    contact_point = (request.POST.get("contact_point") or "").strip()
    if not contact_point:
        messages.error(request, _("Contact point: choose the drop to resend."))
        return redirect(_back(request, reverse("delivery_operator:drops")))
    program = _program(organization, (request.POST.get("program") or "").strip())
    count = operator.delivery_resend_failed(
        organization=organization, program=program, contact_point=contact_point, by=person
    )
    messages.success(
        request, _("%(count)s failed messages are back in the outbox.") % {"count": count}
    )
    return redirect(_back(request, reverse("delivery_operator:drops")))
