"""The ledger and the rules in the admin: read-only.

The ledger is append-only (corrections are reversal entries written by the services),
and rules change through the scoring rules page, `fokus scoring set-rules` or the API,
which enforce the learning-first guarantee; an admin form would bypass it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from fokus.core.admin_scoping import OrganizationScopedAdmin, ScopedTabularInline
from fokus.scoring.models import KpiRule, PointsEntry, ScoringRules


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KpiRuleInline(_ReadOnly, ScopedTabularInline):
    model = KpiRule
    fields = ["metric", "points_per_unit", "cap_per_person_per_day", "cap_per_person_per_program"]


@admin.register(ScoringRules)
class ScoringRulesAdmin(_ReadOnly, OrganizationScopedAdmin):
    organization_path = "program__organization"
    list_display = ["program", "min_learning_share", "bonus_max_per_entry", "bonus_max_per_person"]
    list_select_related = ["program"]
    inlines = [KpiRuleInline]


@admin.register(PointsEntry)
class PointsEntryAdmin(_ReadOnly, OrganizationScopedAdmin):
    list_display = [
        "id", "occurred_on", "person", "program", "source", "amount", "reason", "organization",
    ]
    list_filter = ["organization", "source", "program"]
    search_fields = ["person__full_name", "person__employee_number", "reason", "reference"]
    list_select_related = ["person", "program", "organization"]
    raw_id_fields = ["person", "program", "reverses", "created_by"]
    date_hierarchy = "occurred_on"
    ordering = ["-id"]
