"""Forms authors fill in the matrix editor.

The forms check shape and ranges so each field gets its own message; the services
check the same rules again, because they are also called from commands and the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fokus.programs.models import AnswerKind
from fokus.programs.services import (
    MATERIAL_MINUTES_MAX,
    MATERIAL_MINUTES_MIN,
    TASK_GRADE_MAX_LIMIT,
)


class AuthoringForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    # The fingerprint of the row when the form was opened (see queries.material_version).
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def add_service_error(self, error: ValidationError) -> None:
        """Attach a service's ValidationError: known fields to themselves, the rest on top."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


class MaterialForm(AuthoringForm):
    title = forms.CharField(label=_("Title"), max_length=300)
    minutes = forms.IntegerField(
        label=_("Estimated minutes"),
        min_value=MATERIAL_MINUTES_MIN,
        max_value=MATERIAL_MINUTES_MAX,
        initial=15,
        help_text=_("Micro-modules take 10–20 minutes."),
    )
    body = forms.CharField(
        label=_("Text (Markdown)"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 16}),
    )


class TaskForm(AuthoringForm):
    title = forms.CharField(label=_("Title"), max_length=300)
    prompt = forms.CharField(
        label=_("Prompt (Markdown)"), strip=False, widget=forms.Textarea(attrs={"rows": 10})
    )
    answer_kinds = forms.MultipleChoiceField(
        label=_("Accepted answer kinds"),
        choices=AnswerKind.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[AnswerKind.TEXT],
    )
    grade_max = forms.IntegerField(
        label=_("Highest grade"),
        min_value=1,
        max_value=TASK_GRADE_MAX_LIMIT,
        initial=3,
        help_text=_("The curator grades from 1 to this number."),
    )

    def clean_prompt(self) -> str:
        prompt: str = self.cleaned_data["prompt"]
        if not prompt.strip():
            raise ValidationError(_("Enter the task's prompt."), code="required")
        return prompt


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("up")), ("down", _("down"))])
