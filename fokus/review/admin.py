"""Answers, their audit trail and the per-program review settings in the admin.

Submissions, attempts and review events are read-only here: a decision must go through
the services (it claims, writes points exactly once and records an event), and the
audit trail is never edited. Review settings (attempts, late answers, claims,
turnaround, lead curator, auto-assignment) are edited here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from fokus.core.admin_scoping import OrganizationScopedAdmin, ScopedTabularInline
from fokus.review.models import Attempt, AttemptFile, ReviewEvent, ReviewSettings, Submission


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_ATTEMPT_FIELDS = ("number", "status", "submitted_at", "is_late", "grade", "decided_by",
                   "decided_at")
_FILE_FIELDS = ("original_name", "content_type", "size", "uploaded_at")
_EVENT_FIELDS = ("at", "kind", "actor", "before", "after")


class AttemptInline(_ReadOnly, ScopedTabularInline):
    model = Attempt
    fields = _ATTEMPT_FIELDS
    readonly_fields = _ATTEMPT_FIELDS
    show_change_link = True


class AttemptFileInline(_ReadOnly, ScopedTabularInline):
    model = AttemptFile
    fields = _FILE_FIELDS
    readonly_fields = _FILE_FIELDS


class ReviewEventInline(_ReadOnly, ScopedTabularInline):
    model = ReviewEvent
    fields = _EVENT_FIELDS
    readonly_fields = _EVENT_FIELDS


@admin.register(Submission)
class SubmissionAdmin(_ReadOnly, OrganizationScopedAdmin):
    list_display = ["id", "person", "task", "program", "status", "assigned_curator", "updated_at",
                    "organization"]
    list_filter = ["organization", "status", "program"]
    search_fields = ["person__full_name", "person__employee_number", "task__title"]
    list_select_related = ["person", "task", "program", "assigned_curator", "organization"]
    raw_id_fields = ["person", "task", "program", "track", "unit", "assigned_curator"]
    ordering = ["-updated_at"]
    inlines = [AttemptInline]


@admin.register(Attempt)
class AttemptAdmin(_ReadOnly, OrganizationScopedAdmin):
    list_display = ["id", "submission", "number", "status", "submitted_at", "is_late", "grade",
                    "decided_by", "organization"]
    list_filter = ["organization", "status", "is_late"]
    search_fields = ["submission__person__full_name", "submission__task__title"]
    list_select_related = ["submission__person", "submission__task", "decided_by", "organization"]
    raw_id_fields = ["submission", "claimed_by", "decided_by"]
    ordering = ["-id"]
    inlines = [AttemptFileInline, ReviewEventInline]


@admin.register(ReviewEvent)
class ReviewEventAdmin(_ReadOnly, OrganizationScopedAdmin):
    """The audit trail: every claim, release, decision and grade change."""

    list_display = ["at", "kind", "actor", "attempt", "organization"]
    list_filter = ["organization", "kind"]
    search_fields = ["actor__full_name", "attempt__submission__person__full_name"]
    list_select_related = ["actor", "attempt", "organization"]
    raw_id_fields = ["attempt", "actor"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]


@admin.register(ReviewSettings)
class ReviewSettingsAdmin(OrganizationScopedAdmin):
    organization_path = "program__organization"
    list_display = ["program", "max_attempts", "accept_late", "answer_days", "turnaround_hours",
                    "claim_minutes", "lead_curator", "auto_assign"]
    list_select_related = ["program", "lead_curator"]
