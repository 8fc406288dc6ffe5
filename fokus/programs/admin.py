"""Admin for programs and their content, scoped to the staff user's organisation."""

from __future__ import annotations

from django.contrib import admin

from fokus.core.admin_scoping import OrganizationScopedAdmin, ScopedTabularInline
from fokus.programs.models import (
    Enrollment,
    LearningDay,
    Material,
    MaterialView,
    Program,
    Slot,
    Task,
    Track,
)


class TrackInline(ScopedTabularInline):
    model = Track
    fields = ["slug", "title", "follows", "position"]


class SlotInline(ScopedTabularInline):
    model = Slot
    fields = ["local_time", "kind"]


class LearningDayInline(ScopedTabularInline):
    model = LearningDay
    fields = ["index", "date"]


@admin.register(Program)
class ProgramAdmin(OrganizationScopedAdmin):
    list_display = [
        "slug", "title", "kind", "starts_on", "ends_on", "learning_weekdays", "organization",
    ]
    list_filter = ["organization", "kind"]
    search_fields = ["slug", "title"]
    date_hierarchy = "starts_on"
    inlines = [TrackInline, SlotInline, LearningDayInline]


@admin.register(Track)
class TrackAdmin(OrganizationScopedAdmin):
    organization_path = "program__organization"
    list_display = ["slug", "title", "program", "follows", "position"]
    list_filter = ["program"]
    search_fields = ["slug", "title", "program__title"]
    list_select_related = ["program", "follows"]


@admin.register(Slot)
class SlotAdmin(OrganizationScopedAdmin):
    organization_path = "program__organization"
    list_display = ["local_time", "kind", "program"]
    list_filter = ["program", "kind"]
    list_select_related = ["program"]


@admin.register(LearningDay)
class LearningDayAdmin(OrganizationScopedAdmin):
    organization_path = "program__organization"
    list_display = ["index", "date", "program"]
    list_filter = ["program"]
    list_select_related = ["program"]


@admin.register(Material)
class MaterialAdmin(OrganizationScopedAdmin):
    organization_path = "track__program__organization"
    list_display = ["title", "day", "slot", "track", "position", "minutes"]
    list_filter = ["track__program", "track", "slot__local_time"]
    search_fields = ["title", "body"]
    list_select_related = ["day", "slot", "track"]


@admin.register(Task)
class TaskAdmin(OrganizationScopedAdmin):
    organization_path = "track__program__organization"
    list_display = ["title", "day", "slot", "track", "position", "answer_kinds", "grade_max"]
    list_filter = ["track__program", "track", "slot__local_time"]
    search_fields = ["title", "prompt"]
    list_select_related = ["day", "slot", "track"]


@admin.register(Enrollment)
class EnrollmentAdmin(OrganizationScopedAdmin):
    organization_path = "track__program__organization"
    list_display = ["person", "track", "status", "enrolled_at"]
    list_filter = ["track__program", "track", "status"]
    search_fields = ["person__full_name", "person__employee_number"]
    autocomplete_fields = ["person"]
    list_select_related = ["person", "track"]


@admin.register(MaterialView)
class MaterialViewAdmin(OrganizationScopedAdmin):
    organization_path = "person__organization"
    list_display = ["person", "material", "opened_at"]
    list_filter = ["material__track"]
    search_fields = ["person__full_name", "person__employee_number", "material__title"]
    autocomplete_fields = ["person"]
    list_select_related = ["person", "material"]
