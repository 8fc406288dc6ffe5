"""Admin for units and people, scoped to the staff user's organisation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fokus.core.admin_scoping import OrganizationScopedAdmin
from fokus.people.models import Person, Role, Unit


@admin.register(Unit)
class UnitAdmin(OrganizationScopedAdmin):
    list_display = ["name", "city", "organization"]
    list_filter = ["organization", "city"]
    search_fields = ["name", "city"]


class PersonForm(forms.ModelForm):  # type: ignore[type-arg,unused-ignore]
    roles = forms.TypedMultipleChoiceField(
        label=_("roles"), choices=Role.choices, widget=forms.CheckboxSelectMultiple, required=False,
    )

    class Meta:
        model = Person
        fields = [
            "organization", "employee_number", "full_name", "email", "time_zone", "position",
            "unit", "manager", "roles", "user", "language", "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["roles"] = sorted(self.instance.role_set)

    def clean_roles(self) -> str:
        return Person.roles_to_text(set(self.cleaned_data["roles"]))


class RoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Role.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in Role.values:
            # Role names are not substrings of one another (see Person.roles).
            return queryset.filter(roles__contains=value)
        return queryset


@admin.register(Person)
class PersonAdmin(OrganizationScopedAdmin):
    form = PersonForm
    list_display = [
        "employee_number", "full_name", "unit", "position", "time_zone", "roles", "manager",
        "is_active", "organization",
    ]
    list_filter = ["organization", RoleFilter, "unit", "is_active", "time_zone"]
    search_fields = ["employee_number", "full_name", "email", "position"]
    list_select_related = ["unit", "manager", "organization"]
    # A roster has thousands of people: a search box, not a dropdown of all of them. The
    # autocomplete view asks this same scoped admin, so it offers one organisation only.
    autocomplete_fields = ["manager"]
    raw_id_fields = ["user"]
    ordering = ["full_name"]
