"""Scoring pages: the program's rules with the share report (admins), bonuses (managers).

The program is looked up inside the caller's organisation first (a foreign slug is a
404), then the role is checked (403).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from fokus.core.tenancy import request_organization
from fokus.people.models import Person, Role
from fokus.programs.models import Program
from fokus.programs.queries import program_by_slug, programs_of
from fokus.scoring import queries
from fokus.scoring.guarantee import KpiRuleSpec, points_text
from fokus.scoring.services import BonusRefused, RulesRejected, bonus_award, scoring_rules_save
from fokus.scoring.web.forms import BonusForm, KpiRuleFormSet, RulesForm

TEMPLATES = "scoring/"


def _person(request: HttpRequest) -> Person | None:
    person = getattr(request, "person", None)
    organization = request_organization(request)
    if person is not None and person.organization_id != organization.pk:
        return None
    return person


def _program(request: HttpRequest, slug: str) -> Program:
    program = program_by_slug(request_organization(request), slug)
    if program is None:
        raise Http404
    return program


def _is_admin(request: HttpRequest) -> bool:
    person = _person(request)
    return bool(request.user.is_superuser) or (person is not None and person.has_role(Role.ADMIN))


def _may_award(request: HttpRequest) -> bool:
    person = _person(request)
    if person is None:
        return False
    return person.has_role(Role.ADMIN) or person.has_role(Role.SUPERVISOR) or (
        person.reports.exists()
    )


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    organization = request_organization(request)
    person = _person(request)
    rows = []
    for program in programs_of(organization):
        totals = None
        if person is not None and queries.person_is_participant(program, person):
            totals = queries.person_totals(program, person)
        rows.append({"program": program, "totals": totals})
    return render(request, TEMPLATES + "index.html", {
        "rows": rows, "is_admin": _is_admin(request), "may_award": _may_award(request),
    })


def _rules_initial(program: Program) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    rules = queries.scoring_rules_for(program)
    grades = queries.grade_points_of(rules)
    top = max([3, queries.program_max_grade(program), *grades])
    initial: dict[str, Any] = {
        "min_learning_share": Decimal(points_text(rules.min_learning_share * 100)),
        "bonus_max_per_entry": rules.bonus_max_per_entry,
        "bonus_max_per_person": rules.bonus_max_per_person,
        **{f"grade_{g}": p for g, p in grades.items()},
    }
    kpi = [
        {"metric": s.metric, "points_per_unit": s.points_per_unit,
         "cap_per_day": s.cap_per_person_per_day, "cap_per_program": s.cap_per_person_per_program}
        for s in queries.kpi_specs_of(rules)
    ]
    return initial, kpi, top


@login_required
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    if not _is_admin(request):
        raise PermissionDenied(_("Only admins of the organisation set scoring rules."))
    initial, kpi_initial, grades = _rules_initial(program)
    problems: list[str] = []
    rejected = None
    if request.method == "POST":
        form = RulesForm(request.POST, grades=grades)
        formset = KpiRuleFormSet(request.POST, prefix="kpi")
        if form.is_valid() and formset.is_valid():
            specs = [
                KpiRuleSpec(
                    f.cleaned_data["metric"], f.cleaned_data["points_per_unit"],
                    f.cleaned_data.get("cap_per_day"), f.cleaned_data.get("cap_per_program"),
                )
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            try:
                scoring_rules_save(
                    program=program,
                    grade_points=form.grade_points(),
                    min_learning_share=form.cleaned_data["min_learning_share"] / 100,
                    kpi_rules=specs,
                    bonus_max_per_entry=form.cleaned_data["bonus_max_per_entry"],
                    bonus_max_per_person=form.cleaned_data["bonus_max_per_person"],
                )
            except RulesRejected as exc:
                problems = [m for _f, m in exc.problems]
                rejected = exc.report
            else:
                messages.success(request, _("The scoring rules are saved."))
                return redirect("scoring:rules", slug=program.slug)
    else:
        form = RulesForm(initial=initial, grades=grades)
        formset = KpiRuleFormSet(initial=kpi_initial, prefix="kpi")
    return render(request, TEMPLATES + "rules.html", {
        "program": program,
        "form": form,
        "grade_fields": [form[n] for n in form.grade_fields],
        "formset": formset,
        "problems": problems,
        "rejected": rejected,
        "report": queries.learning_share_report(program),
        "status": 400 if problems else 200,
    }, status=400 if problems else 200)


@login_required
@require_http_methods(["GET", "POST"])
def bonus(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    awarder = _person(request)
    if awarder is None or not _may_award(request):
        raise PermissionDenied(_("Only managers and admins award bonuses."))
    people = queries.bonus_recipients(program, awarder)
    rules_ = queries.scoring_rules_for(program)
    status = 200
    if request.method == "POST":
        form = BonusForm(request.POST, people=people)
        if form.is_valid():
            person = form.people.get(form.cleaned_data["person"])
            if person is None:
                form.add_error("person", _("Choose one of the participants in the list."))
            else:
                try:
                    entry = bonus_award(
                        program=program, person=person, amount=form.cleaned_data["points"],
                        reason=form.cleaned_data["reason"], awarded_by=awarder,
                        request_key=f"web:{awarder.pk}:{form.cleaned_data['request_key']}",
                    )
                except BonusRefused as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, _("%(person)s: +%(points)s bonus points.") % {
                        "person": person.full_name, "points": points_text(entry.amount),
                    })
                    return redirect("scoring:bonus", slug=program.slug)
        status = 400
    else:
        form = BonusForm(initial={"request_key": uuid.uuid4().hex}, people=people)
    given = {p.pk: queries.bonus_points_sum(program, p) for p in people}
    return render(request, TEMPLATES + "bonus.html", {
        "program": program,
        "form": form,
        "rules": rules_,
        "people": [
            {"person": p, "given": given[p.pk],
             "left": max(Decimal(0), rules_.bonus_max_per_person - given[p.pk])}
            for p in people
        ],
        "recent": queries.recent_bonuses(program, people),
    }, status=status)
