"""The gate in front of staff pages: who may open them, and on whose clock."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.functional import Promise

from fokus.core.tenancy import request_organization
from fokus.people.models import Person
from fokus.programs.schedule import zone

View = Callable[..., HttpResponseBase]


def staff_view(
    may_open: Callable[[Person | None], bool], refusal: str | Promise
) -> Callable[[View], View]:
    """Login, the organisation (404 without one), the role (403 with `refusal`), and
    times shown on the person's own clock. The view gets (request, organization,
    person, *args)."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            organization = request_organization(request)
            person: Person | None = getattr(request, "person", None)
            if person is None or person.organization_id != organization.pk:
                raise Http404
            if not may_open(person):
                raise PermissionDenied(str(refusal))
            with timezone.override(zone(person.time_zone)):
                return view(request, organization, person, *args, **kwargs)

        return wrapper

    return decorate
