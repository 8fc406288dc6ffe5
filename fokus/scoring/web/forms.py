"""Forms of the scoring pages: the rules (with KPI rules as a formset) and a bonus."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fokus.people.models import Person


class _Form(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def _points(label: Any, required: bool = True, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=required, min_value=Decimal(0), max_digits=10, decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class RulesForm(_Form):
    min_learning_share = forms.DecimalField(
        label=_("Minimum share of learning points, %"), min_value=Decimal(0),
        max_value=Decimal(100), decimal_places=1,
        help_text=_("Of everything a participant can earn, at least this share comes from "
                    "learning."),
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    bonus_max_per_entry = _points(_("Largest single bonus, points"))
    bonus_max_per_person = _points(
        _("Bonus limit per person per program, points"),
        help_text=_("Counts against the learning share like KPI points do."),
    )

    def __init__(self, *args: Any, grades: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grade_fields = []
        for grade in range(1, grades + 1):
            name = f"grade_{grade}"
            self.fields[name] = _points(_("Points for grade %(grade)s") % {"grade": grade})
            self.grade_fields.append(name)

    def grade_points(self) -> dict[int, Decimal]:
        return {int(n.split("_")[1]): self.cleaned_data[n] for n in self.grade_fields}


class KpiRuleForm(_Form):
    metric = forms.SlugField(label=_("Metric"), max_length=64)
    points_per_unit = _points(_("Points per unit"))
    cap_per_day = _points(_("Cap per person per day"), required=False)
    cap_per_program = _points(_("Cap per person per program"), required=False)


KpiRuleFormSet = forms.formset_factory(KpiRuleForm, extra=1, can_delete=True, max_num=20)


class BonusForm(_Form):
    person = forms.TypedChoiceField(label=_("Participant"), coerce=int)
    points = forms.DecimalField(
        label=_("Points"), min_value=Decimal("0.01"), max_digits=8, decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    reason = forms.CharField(
        label=_("What for"), max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. helped a colleague close a deal")}),
    )
    # A fresh id per opened form: a double submit awards once.
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, people: list[Person], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {p.pk: p for p in people}
        self.fields["person"].choices = [  # type: ignore[attr-defined]
            ("", "—"), *((p.pk, f"{p.full_name} ({p.employee_number})") for p in people)
        ]
