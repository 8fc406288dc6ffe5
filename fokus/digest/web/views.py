"""Digest pages: "my digest today" (a preview) and the consent to quote one's answers.

The preview builds the digest exactly as the 18:00 preparation does, from the data as
it is now, so authors can check the wording and people can see what they will get.
Admins and authors may preview anyone of their organisation (`?person=<number>`).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from fokus.core import clock
from fokus.core.tenancy import request_organization
from fokus.digest import queries, services
from fokus.digest.render import digest_render
from fokus.people.models import Person, Role
from fokus.programs.models import Program
from fokus.programs.schedule import zone


def _previewer_may_choose(person: Person | None) -> bool:
    return person is not None and (person.has_role(Role.ADMIN) or person.has_role(Role.AUTHOR))


@login_required
def today(request: HttpRequest, program_slug: str) -> HttpResponse:
    organization = request_organization(request)
    viewer: Person | None = getattr(request, "person", None)
    program = Program.objects.filter(organization=organization, slug=program_slug).first()
    if program is None or viewer is None:
        raise Http404
    person = viewer
    number = request.GET.get("person", "").strip()
    if number and number != viewer.employee_number:
        if not _previewer_may_choose(viewer):
            raise Http404
        chosen = Person.objects.filter(organization=organization, employee_number=number).first()
        if chosen is None:
            raise Http404
        person = chosen
    now = clock.now()
    local_date = now.astimezone(zone(person.time_zone)).date()
    day = queries.digest_learning_day(program, local_date)
    context: dict[str, object] = {"program": program, "person": person, "day": day}
    if day is not None:
        content = queries.digest_build(person, program, day.date, now)
        message = digest_render(content)
        context.update(
            content=content,
            message=message,
            # Every piece of the fragment is escaped when it is built (render.py).
            message_html=mark_safe(message.html),  # noqa: S308
            due_local=(
                content.due_at.astimezone(zone(person.time_zone)) if content.due_at else None
            ),
        )
    # Template filters show times in the active zone: the person's own.
    with timezone.override(zone(person.time_zone)):
        return render(request, "digest/today.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def showcase(request: HttpRequest) -> HttpResponse:
    request_organization(request)
    person: Person | None = getattr(request, "person", None)
    if person is None:
        raise Http404
    if request.method == "POST":
        if request.POST.get("consent") == "give":
            services.showcase_consent_give(person=person)
            messages.success(request, _("Thank you: your best answers may appear in digests."))
        elif request.POST.get("consent") == "withdraw":
            services.showcase_consent_withdraw(person=person)
            messages.success(request, _("Your answers will no longer appear in digests."))
        else:
            messages.error(request, _("Choose to give or to withdraw the consent."))
        return redirect("digest:showcase")
    consent = queries.showcase_consent_of(person)
    return render(request, "digest/showcase.html", {"consent": consent, "person": person})
