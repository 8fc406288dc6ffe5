"""The preferences pages: signed in, and by the e-mail footer's link (one-click unsubscribe)."""

from __future__ import annotations

from datetime import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from fokus.core.models import Organization
from fokus.delivery.models import DeliveryPreference
from fokus.delivery.preferences import delivery_preference_ensure
from fokus.delivery.tests.test_planning import participant
from fokus.people.models import Person


def english(client: Client) -> Client:
    """Pages speak Russian by default; assertions read the English msgids."""
    client.cookies["django_language"] = "en"
    return client


def signed_in(client: Client, person: Person) -> Client:
    english(client)
    person.user = User.objects.create_user(username=f"u-{person.employee_number}")
    person.save(update_fields=["user"])
    client.force_login(person.user)
    return client


VALID = {
    "channel_order": "email", "email_enabled": "on", "mute_reminders": "on",
    "quiet_from": "22:00", "quiet_until": "08:00",
}


def test_a_signed_in_person_saves_their_preferences(client: Client, org_a: Organization) -> None:
    person = participant(org_a, "P1")
    signed_in(client, person)
    url = reverse("delivery:my_preferences")

    page = client.get(url)
    assert page.status_code == 200
    assert "Message preferences" in page.content.decode()

    answer = client.post(url, VALID, follow=True)

    assert "Your message preferences are saved." in answer.content.decode()
    saved = DeliveryPreference.objects.get(person=person)
    assert saved.channels == ["email", "telegram"]
    assert saved.mute_reminders and not saved.email_unsubscribed
    assert (saved.quiet_from, saved.quiet_until) == (time(22), time(8))
    # The form shows what was saved.
    assert 'value="22:00"' in client.get(url).content.decode()


def test_validation_errors_name_the_field(client: Client, org_a: Organization) -> None:
    person = participant(org_a, "P1")
    signed_in(client, person)
    url = reverse("delivery:my_preferences")

    only_start = client.post(url, {**VALID, "quiet_until": ""})
    assert only_start.status_code == 200
    assert "Quiet until: Set both ends of your quiet hours, or neither." in (
        only_start.content.decode()
    )
    bad_time = client.post(url, {**VALID, "quiet_from": "25:99"})
    assert "Quiet from: Enter a valid time." in bad_time.content.decode()
    bad_channel = client.post(url, {**VALID, "channel_order": "pigeon"})
    assert "Send my messages first to:" in bad_channel.content.decode()
    assert not DeliveryPreference.objects.filter(person=person).exists()


def test_the_form_needs_the_csrf_token(org_a: Organization) -> None:
    person = participant(org_a, "P1")
    client = signed_in(Client(enforce_csrf_checks=True), person)

    assert client.post(reverse("delivery:my_preferences"), VALID).status_code == 403
    assert not DeliveryPreference.objects.filter(person=person).exists()


def test_the_signed_in_page_needs_a_sign_in(client: Client) -> None:
    answer = client.get(reverse("delivery:my_preferences"))
    assert answer.status_code == 302 and "login" in answer["Location"]


def test_the_token_page_works_without_signing_in(client: Client, org_a: Organization) -> None:
    person = participant(org_a, "P1")
    preference = delivery_preference_ensure(person)
    url = reverse("delivery:preferences", args=[preference.token])

    page = client.get(url)
    assert page.status_code == 200 and person.full_name in page.content.decode()
    assert '<html lang="ru">' in page.content.decode()  # Russian unless asked otherwise

    client.post(url, {**VALID, "mute_reminders": ""}, follow=True)

    preference.refresh_from_db()
    assert not preference.mute_reminders and preference.quiet_from == time(22)


def test_a_wrong_token_is_404(client: Client, org_a: Organization) -> None:
    delivery_preference_ensure(participant(org_a, "P1"))
    assert client.get(reverse("delivery:preferences", args=["not-a-token"])).status_code == 404
    assert client.post(
        reverse("delivery:preferences", args=["not-a-token"]),
        "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded",
    ).status_code == 404


def test_one_click_unsubscribe_from_the_page(org_a: Organization) -> None:
    person = participant(org_a, "P1")
    preference = delivery_preference_ensure(person)
    client = english(Client(enforce_csrf_checks=True))
    url = reverse("delivery:preferences", args=[preference.token])

    # Without the page's CSRF token the button does nothing ...
    assert client.post(url, {"action": "unsubscribe"}).status_code == 403
    preference.refresh_from_db()
    assert not preference.email_unsubscribed
    # ... with it, one click is enough.
    client.get(url)
    token = client.cookies["csrftoken"].value
    answer = client.post(url, {"action": "unsubscribe", "csrfmiddlewaretoken": token}, follow=True)

    assert "you will get no more e-mail from us" in answer.content.decode()
    preference.refresh_from_db()
    assert preference.email_unsubscribed


@pytest.mark.parametrize("body", ["List-Unsubscribe=One-Click"])
def test_rfc_8058_one_click_post_unsubscribes(org_a: Organization, body: str) -> None:
    person = participant(org_a, "P1")
    preference = delivery_preference_ensure(person)
    client = Client(enforce_csrf_checks=True)  # a mail client sends no CSRF token

    answer = client.post(
        reverse("delivery:preferences", args=[preference.token]), body,
        content_type="application/x-www-form-urlencoded",
    )

    assert answer.status_code == 200
    preference.refresh_from_db()
    assert preference.email_unsubscribed
