"""The outbox and program branding in the admin, scoped to the staff user's organisation.

Deliveries are read-only here: the operator views (/operator/…) resend; the admin is
for looking a row up. Branding is edited here (colours, logo, sender name).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from fokus.core.admin_scoping import OrganizationScopedAdmin
from fokus.delivery.models import Delivery, ProgramBranding


@admin.register(Delivery)
class DeliveryAdmin(OrganizationScopedAdmin):
    list_display = ["person", "kind", "channel", "due_at", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["person"]
    search_fields = ["person__full_name", "person__employee_number", "contact_point"]
    date_hierarchy = "due_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProgramBranding)
class ProgramBrandingAdmin(OrganizationScopedAdmin):
    organization_path = "program__organization"
    list_display = ["program", "primary_colour", "text_colour", "sender_name"]
    list_select_related = ["program"]
