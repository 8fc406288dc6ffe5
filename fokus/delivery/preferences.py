"""Writes of a person's delivery preferences (channel order, reminders, e-mail, quiet hours).

Used by the signed-in preferences page and the sign-in-free page an e-mail footer links
to (DeliveryPreference.token). Validation errors name the field they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fokus.delivery.models import Channel, DeliveryPreference
from fokus.people.models import Person

__all__ = ["delivery_preference_ensure", "delivery_preference_save", "delivery_unsubscribe_email"]


def delivery_preference_ensure(person: Person) -> DeliveryPreference:
    """The person's saved preferences, created with the defaults (and a token) if absent."""
    found = DeliveryPreference.objects.filter(person=person).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return DeliveryPreference.objects.create(person=person)
    except IntegrityError:  # created by a concurrent request (or the e-mail sender)
        return DeliveryPreference.objects.get(person=person)


def _validate(channel_order: Sequence[str], quiet_from: time | None,
              quiet_until: time | None) -> None:
    errors: dict[str, list[str]] = {}
    if not channel_order or len(set(channel_order)) != len(channel_order) or any(
        c not in Channel.values for c in channel_order
    ):
        errors["channel_order"] = [_("Choose the channels from the list, each once.")]
    if (quiet_from is None) != (quiet_until is None):
        field = "quiet_until" if quiet_until is None else "quiet_from"
        errors[field] = [_("Set both ends of your quiet hours, or neither.")]
    elif quiet_from is not None and quiet_from == quiet_until:
        errors["quiet_until"] = [_("Quiet hours must end at a different time than they start.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def delivery_preference_save(
    *,
    person: Person,
    channel_order: Sequence[str],
    mute_reminders: bool,
    email_enabled: bool,
    quiet_from: time | None,
    quiet_until: time | None,
) -> DeliveryPreference:
    """Save all of the person's preferences at once; raises ValidationError by field.

    Quiet hours are on the person's own wall clock; an overnight period (22:00–08:00)
    is allowed. Planned messages keep their times; the next planning uses the new ones.
    """
    _validate(channel_order, quiet_from, quiet_until)
    preference = delivery_preference_ensure(person)
    preference = DeliveryPreference.objects.select_for_update().get(pk=preference.pk)
    order = list(channel_order) + [c for c in Channel.values if c not in channel_order]
    preference.channel_order = ",".join(order)
    preference.mute_reminders = mute_reminders
    preference.email_unsubscribed = not email_enabled
    preference.quiet_from, preference.quiet_until = quiet_from, quiet_until
    preference.save(update_fields=[
        "channel_order", "mute_reminders", "email_unsubscribed", "quiet_from", "quiet_until",
    ])
    return preference


def delivery_unsubscribe_email(preference: DeliveryPreference) -> bool:
    """Stop e-mail to the person (one click, idempotent). True if it was on until now."""
    changed = DeliveryPreference.objects.filter(
        pk=preference.pk, email_unsubscribed=False
    ).update(email_unsubscribed=True)
    preference.email_unsubscribed = True
    return bool(changed)
