"""The person's message preferences: signed in (/profile/messages/) or by the e-mail
footer's sign-in-free link (/delivery/preferences/<token>/), with one-click unsubscribe.

The token page also answers RFC 8058 one-click unsubscribe: a mail client POSTs
`List-Unsubscribe=One-Click` to the List-Unsubscribe URL without a CSRF token. That
POST is accepted on its own (the token is the secret, unsubscribing is idempotent);
every other POST to the page is CSRF-checked as usual.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from fokus.delivery import preferences as services
from fokus.delivery import queries
from fokus.delivery.models import Channel, DeliveryPreference
from fokus.people.models import Person

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


class PreferencesForm(forms.Form):
    channel_order = forms.ChoiceField(
        label=gettext_lazy("Send my messages first to"),
        choices=[
            (Channel.TELEGRAM.value, gettext_lazy("Telegram, then e-mail")),
            (Channel.EMAIL.value, gettext_lazy("E-mail, then Telegram")),
        ],
        widget=forms.RadioSelect,
    )
    email_enabled = forms.BooleanField(label=gettext_lazy("Send e-mail"), required=False)
    mute_reminders = forms.BooleanField(
        label=gettext_lazy("No reminders about unanswered tasks"), required=False
    )
    quiet_from = forms.TimeField(
        label=gettext_lazy("Quiet from"), required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_until = forms.TimeField(
        label=gettext_lazy("Quiet until"), required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    @classmethod
    def initial_for(cls, preference: DeliveryPreference) -> dict[str, Any]:
        channels = preference.channels or [Channel.TELEGRAM.value]
        return {
            "channel_order": channels[0],
            "email_enabled": not preference.email_unsubscribed,
            "mute_reminders": preference.mute_reminders,
            "quiet_from": preference.quiet_from,
            "quiet_until": preference.quiet_until,
        }


def _save(request: HttpRequest, person: Person, form: PreferencesForm) -> bool:
    """Validate and save; errors land on the form's fields. True when saved."""
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        services.delivery_preference_save(
            person=person,
            channel_order=[data["channel_order"]],
            mute_reminders=data["mute_reminders"],
            email_enabled=data["email_enabled"],
            quiet_from=data["quiet_from"],
            quiet_until=data["quiet_until"],
        )
    except ValidationError as error:
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
        return False
    messages.success(request, _("Your message preferences are saved."))
    return True


@login_required
def my_preferences(request: HttpRequest) -> HttpResponse:
    person = getattr(request, "person", None)
    if person is None:
        raise Http404
    preference = queries.preference_of(person)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if _save(request, person, form):
            return redirect("delivery:my_preferences")
    else:
        form = PreferencesForm(initial=PreferencesForm.initial_for(preference))
    return render(request, "delivery/preferences.html", {
        "form": form, "person": person, "preference": preference, "by_token": False,
    })


def _no_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def _csrf_checked(request: HttpRequest) -> HttpResponse:
    """Stands for the view in the manual CSRF check (the real one is exempt)."""
    return HttpResponse()


@never_cache
@csrf_exempt
def preferences_by_token(request: HttpRequest, token: str) -> HttpResponse:
    preference = queries.preference_by_token(token)
    if preference is None:
        raise Http404
    person = preference.person
    # Signed in as somebody else: the link is not theirs (as with the signed links).
    if request.user.is_authenticated and getattr(request, "person", None) != person:
        raise Http404
    # The page speaks the person's language unless the browser chose one in Fokus.
    language = request.COOKIES.get("django_language") or person.language or None
    with translation.override(language) if language else nullcontext():
        return _token_page(request, preference, person)


def _token_page(
    request: HttpRequest, preference: DeliveryPreference, person: Person
) -> HttpResponse:
    if request.method == "POST":
        if request.body.decode("utf-8", "replace").strip() == ONE_CLICK_BODY:
            services.delivery_unsubscribe_email(preference)
            return HttpResponse(_("You will get no more e-mail from Fokus."),
                                content_type="text/plain; charset=utf-8")
        rejected = CsrfViewMiddleware(_no_response).process_view(request, _csrf_checked, (), {})
        if rejected is not None:
            return rejected
        if request.POST.get("action") == "unsubscribe":
            services.delivery_unsubscribe_email(preference)
            messages.success(request, _("Done: you will get no more e-mail from us."))
            return redirect("delivery:preferences", token=preference.token)
        form = PreferencesForm(request.POST)
        if _save(request, person, form):
            return redirect("delivery:preferences", token=preference.token)
    elif request.method in ("GET", "HEAD"):
        form = PreferencesForm(initial=PreferencesForm.initial_for(preference))
    else:
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    return render(request, "delivery/preferences.html", {
        "form": form, "person": person, "preference": preference, "by_token": True,
    })
