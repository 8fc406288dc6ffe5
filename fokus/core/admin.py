"""Admin for tenancy: organisations, API tokens, and the installation-wide logins."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from fokus.core.admin_scoping import SELF, OrganizationScopedAdmin, SuperuserOnlyAdmin
from fokus.core.models import ApiToken, Organization


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    organization_path = SELF
    list_display = ["slug", "name", "default_time_zone", "created_at"]
    search_fields = ["slug", "name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting an organisation cascades to all its data: superusers only.
        return bool(request.user.is_superuser)


@admin.register(ApiToken)
class ApiTokenAdmin(OrganizationScopedAdmin):
    """Tokens are created with `fokus token create` (the key is shown once); here they are
    listed and revoked by deleting them."""

    list_display = ["name", "key_prefix", "user", "organization", "created_at", "last_used_at"]
    list_filter = ["organization"]
    search_fields = ["name", "key_prefix", "user__username"]
    readonly_fields = ["name", "key_prefix", "user", "organization", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(SuperuserOnlyAdmin, DjangoUserAdmin):  # type: ignore[type-arg,unused-ignore]
    # Not used to scope this admin (superusers only) but to scope the login choices that
    # other admins offer staff: a Person or token can only point at a login of the same
    # organisation.
    organization_path = "person__organization"


@admin.register(Group)
class GroupAdmin(SuperuserOnlyAdmin, DjangoGroupAdmin):
    pass
