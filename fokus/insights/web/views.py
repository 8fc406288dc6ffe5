"""Insights pages: the dashboard, the uplift report with ROI, the cost form.

Viewers and admins only (others get 403). Exports are the API's routes, which accept
the browser session, so the pages only link to them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Field
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fokus.core import clock
from fokus.core.tenancy import request_organization
from fokus.insights import charts, queries, services
from fokus.insights.models import InsightSettings
from fokus.people.models import Person
from fokus.programs.models import Program

COST_FIELDS = ("completion_percent", "metric", "cost_money", "cost_hours", "hour_value",
               "unit_value")


def _person(request: HttpRequest) -> Person | None:
    return getattr(request, "person", None)


def _allowed(request: HttpRequest) -> None:
    if not queries.person_may_see_insights(_person(request),
                                           is_superuser=request.user.is_superuser):
        raise PermissionDenied


def _program(request: HttpRequest, program_slug: str) -> Program:
    _allowed(request)
    program = queries.program_by_slug(request_organization(request), program_slug)
    if program is None:
        raise Http404
    return program


def _date(request: HttpRequest, name: str) -> date | None:
    text = request.GET.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        messages.error(request, _("%(field)s: enter a date as YYYY-MM-DD.") % {"field": name})
        return None


def _percent(request: HttpRequest) -> int | None:
    text = request.GET.get("completion", "").strip()
    if text.isdigit() and 1 <= int(text) <= 100:
        return int(text)
    if text:
        messages.error(request, _("completion: enter a whole percentage from 1 to 100."))
    return None


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    programs = list(queries.programs_of(request_organization(request)))
    if len(programs) == 1:
        return redirect("insights:dashboard", program_slug=programs[0].slug)
    return render(request, "insights/index.html", {"programs": programs})


def _short(day: date) -> str:
    return formats.date_format(day, "d.m")


class _Numbers:
    """Localised numbers for big tables, formatted once per page (the template filters
    cost ~0.3 ms a cell: 500 dealerships × 7 columns blew the 300 ms budget)."""

    def __init__(self) -> None:
        self.group = str(formats.get_format("THOUSAND_SEPARATOR"))
        self.decimal = str(formats.get_format("DECIMAL_SEPARATOR"))

    def whole(self, value: int) -> str:
        return f"{value:,}".replace(",", self.group)

    def decimal_text(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        return f"{value:,.{digits}f}".replace(",", "\x00").replace(".", self.decimal).replace(
            "\x00", self.group)


def _group_rows(groups: list[queries.GroupRow], *, with_city: bool) -> SafeString:
    # Plain f-strings: the numbers are our own digits and separators; only names and
    # cities are escaped (format_html per cell was a third of the page's time).
    n = _Numbers()
    rows = []
    for g in groups:
        city = f"<td>{escape(g.city)}</td>" if with_city else ""
        rows.append(
            f"<tr><td>{escape(g.name or '—')}</td>{city}"
            f'<td class="num">{n.whole(g.enrolled)}</td><td class="num">{n.whole(g.started)}</td>'
            f'<td class="num">{n.whole(g.completed)}</td>'
            f'<td class="num">{round(100 * g.completion_share)}</td>'
            f'<td class="num">{n.whole(g.answered)}</td><td class="num">{n.whole(g.graded)}</td>'
            "</tr>"
        )
    return mark_safe("".join(rows))  # noqa: S308 - escaped above


def _activity_rows(rows: list[queries.ActivityRow]) -> SafeString:
    n = _Numbers()
    return format_html_join("", "<tr><td>{}</td><td>{}</td>" + '<td class="num">{}</td>' * 4
                            + "</tr>", (
        (formats.date_format(r.day, "SHORT_DATE_FORMAT"), r.slot, n.whole(r.opened),
         n.whole(r.answered), n.whole(r.graded), n.decimal_text(r.turnaround_hours))
        for r in rows))


@login_required
def dashboard(request: HttpRequest, program_slug: str) -> HttpResponse:
    program = _program(request, program_slug)
    data = queries.dashboard(
        program, date_from=_date(request, "from"), date_to=_date(request, "to"),
        completion_percent=_percent(request), today=clock.now().date(),
    )
    days = data.activity_by_day
    activity_chart = charts.bar_chart(
        [_short(d) for d, _o, _a in days],
        [(_("opened"), "s1", [o for _d, o, _a in days]),
         (_("answered"), "s2", [a for _d, _o, a in days])],
        title=_("Activity by day"),
    )
    start_index = next((i for i, p in enumerate(data.kpi) if p.day >= program.starts_on), None)
    kpi_chart = charts.line_chart(
        [_short(p.day) for p in data.kpi],
        [(_("per participant"), "s1", [float(p.participants) for p in data.kpi]),
         (_("per non-participant"), "s2", [float(p.others) for p in data.kpi])],
        title=_("KPI per person by day"), marker=start_index,
    )
    funnel = data.funnel
    funnel_rows = [
        (_("Enrolled"), funnel.enrolled), (_("Started"), funnel.started),
        (_("Completed"), funnel.completed),
    ]
    widest = max(funnel.enrolled, 1)
    context: dict[str, Any] = {
        "program": program, "data": data, "activity_chart": activity_chart,
        "kpi_chart": kpi_chart,
        "unit_rows": _group_rows(data.units, with_city=True),
        "region_rows": _group_rows(data.regions, with_city=False),
        "activity_rows": _activity_rows(data.activity),
        "funnel_rows": [(label, n, round(100 * n / widest)) for label, n in funnel_rows],
        "query": request.GET.urlencode(),
    }
    return render(request, "insights/dashboard.html", context)


@login_required
@require_POST
def refresh(request: HttpRequest, program_slug: str) -> HttpResponse:
    program = _program(request, program_slug)
    services.insights_refresh(program)
    messages.success(request, _("The figures are up to date."))
    return redirect("insights:dashboard", program_slug=program.slug)


@login_required
def uplift(request: HttpRequest, program_slug: str) -> HttpResponse:
    program = _program(request, program_slug)
    baseline_days = None
    text = request.GET.get("baseline_days", "").strip()
    if text:
        if text.isdigit() and 7 <= int(text) <= 730:
            baseline_days = int(text)
        else:
            messages.error(request, _("baseline_days: enter a number of days from 7 to 730."))
    report = queries.uplift_report(program, today=clock.now().date(),
                                   baseline_days=baseline_days)
    settings = queries.insight_settings(program)
    person = _person(request)
    context = {
        "program": program, "report": report, "settings": settings,
        "may_edit": queries.person_may_edit_cost(person, is_superuser=request.user.is_superuser),
        "query": request.GET.urlencode(),
    }
    return render(request, "insights/uplift.html", context)


def _field(name: str) -> Field[Any, Any]:
    field = InsightSettings._meta.get_field(name)
    assert isinstance(field, Field)
    return field


@login_required
@require_POST
def settings_save(request: HttpRequest, program_slug: str) -> HttpResponse:
    program = _program(request, program_slug)
    if not queries.person_may_edit_cost(_person(request), is_superuser=request.user.is_superuser):
        raise PermissionDenied
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name in COST_FIELDS:
        raw = request.POST.get(name, "").strip().replace(",", ".").replace(" ", "")
        if raw == "":
            continue
        field = _field(name)
        try:
            values[name] = field.to_python(raw)
        except ValidationError:
            errors.append(f"{field.verbose_name}: {_('enter a number.')}")
    if not errors:
        try:
            services.insight_settings_save(program, values)
        except ValidationError as error:
            for field_name, problems in error.message_dict.items():
                label = (str(_field(field_name).verbose_name)
                         if field_name in COST_FIELDS else field_name)
                errors.append(f"{label}: {' '.join(problems)}")
    for message in errors:
        messages.error(request, message)
    if not errors:
        messages.success(request, _("Saved."))
    return redirect("insights:uplift", program_slug=program.slug)
