"""Reads of delivery for the person's own pages: their preferences."""

from __future__ import annotations

from fokus.delivery.models import DeliveryPreference
from fokus.people.models import Person

__all__ = ["preference_by_token", "preference_of"]


def preference_of(person: Person) -> DeliveryPreference:
    """The person's preferences, or the defaults (unsaved) when they never set any."""
    found = DeliveryPreference.objects.filter(person=person).first()
    return found if found is not None else DeliveryPreference(person=person)


def preference_by_token(token: str) -> DeliveryPreference | None:
    """The preferences behind an e-mail footer's link (an active person's), else None."""
    if not token or len(token) > 64:
        return None
    return (
        DeliveryPreference.objects.select_related("person__organization")
        .filter(token=token, person__is_active=True)
        .first()
    )
