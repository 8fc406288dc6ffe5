"""Attach the signed-in user's Person and Organization to the request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from fokus.people.queries import person_for_user


class PersonMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        person = person_for_user(request.user) if request.user.is_authenticated else None
        request.person = person  # type: ignore[attr-defined]
        request.organization = person.organization if person else None  # type: ignore[attr-defined]
        if person is not None and person.language and not request.COOKIES.get("django_language"):
            translation.activate(person.language)
            request.LANGUAGE_CODE = person.language
        return self.get_response(request)
