"""Django admin scoped to the staff user's organisation.

A superuser sees every organisation. Any other staff user sees and changes only the
rows of the organisation of their Person (`request.organization`, set by the people
middleware); without one they see nothing. Each scoped admin names the lookup path
from its model to Organization (`organization_path`); the same paths, read from the
admin site's registry, limit foreign-key choices, so an admin of one model never
offers rows of another organisation. Models without a scoped admin offer no choices
to non-superusers at all: scoping fails closed.

Foreign objects answer 404 in change, delete and history views (Django's default is a
redirect with a message that confirms the id exists).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.http import Http404, HttpRequest, HttpResponse

# The lookup from a model to its Organization when the model is the Organization itself.
SELF = "pk"


def request_organization_or_none(request: HttpRequest) -> Any:
    return getattr(request, "organization", None)


def is_unscoped(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


def scope_queryset(queryset: QuerySet[Any], path: str, request: HttpRequest) -> QuerySet[Any]:
    if is_unscoped(request):
        return queryset
    organization = request_organization_or_none(request)
    if organization is None:
        return queryset.none()
    return queryset.filter(**{path: organization.pk if path == SELF else organization})


def organization_path_for(admin_site: admin.AdminSite, model: type[models.Model]) -> str | None:
    """The organisation lookup of a model as declared by its registered scoped admin."""
    model_admin = admin_site._registry.get(model)
    return getattr(model_admin, "organization_path", None)


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices from the staff user's organisation only."""

    admin_site: admin.AdminSite

    def _scoped_choices(self, db_field: models.Field[Any, Any], request: HttpRequest,
                        kwargs: dict[str, Any]) -> dict[str, Any]:
        if is_unscoped(request):
            return kwargs
        related = db_field.remote_field.model  # type: ignore[union-attr]
        path = organization_path_for(self.admin_site, related)
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = related._default_manager.get_queryset()
        if path is None:
            kwargs["queryset"] = queryset.none()
        else:
            kwargs["queryset"] = scope_queryset(queryset, path, request)
        return kwargs

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        kwargs = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        kwargs = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


def _scoped_list_filter(model: type[models.Model], entry: Any) -> Any:
    """A related-field filter lists only values present in the (scoped) changelist.

    Django's default RelatedFieldListFilter lists every row of the related table, which
    would show other organisations' units, managers and programs in the sidebar.
    """
    if not isinstance(entry, str):
        return entry
    target: Any = model
    field = None
    for part in entry.split("__"):
        try:
            field = target._meta.get_field(part)
        except Exception:  # a non-field name: let Django report it the usual way
            return entry
        target = getattr(field, "related_model", None) or target
    if field is not None and getattr(field, "is_relation", False):
        return (entry, admin.RelatedOnlyFieldListFilter)
    return entry


class OrganizationScopedAdmin(ScopedChoicesMixin, admin.ModelAdmin):  # type: ignore[type-arg,unused-ignore]
    """Base admin for every model that belongs to an organisation."""

    organization_path: str = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), self.organization_path, request)

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if not is_unscoped(request):
            filters = [f for f in filters if f != "organization" and f != self.organization_path]
        return [_scoped_list_filter(self.model, f) for f in filters]

    def get_list_display(self, request: HttpRequest) -> Any:
        display = super().get_list_display(request)
        if is_unscoped(request):
            return display
        return [f for f in display if f != "organization"]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not is_unscoped(request) and self.organization_path == "organization":
            # Staff work in their own organisation only; save_model fills it in.
            exclude.append("organization")
        return exclude

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        if is_unscoped(request):
            return fields
        return [f for f in fields if f != "organization"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if is_unscoped(request):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts.get("fields", ()) if f != "organization"]})
            for name, opts in fieldsets
        ]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not is_unscoped(request) and self.organization_path == "organization":
            organization = request_organization_or_none(request)
            if organization is None:
                raise Http404
            obj.organization = organization
        super().save_model(request, obj, form, change)

    def _has_organization(self, request: HttpRequest) -> bool:
        return is_unscoped(request) or request_organization_or_none(request) is not None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._has_organization(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has_organization(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._has_organization(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has_organization(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has_organization(request) and super().has_delete_permission(request, obj)

    def _object_or_404(self, request: HttpRequest, object_id: str | None) -> None:
        if object_id is None:
            return
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._object_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str,
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._object_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request: HttpRequest, object_id: str,
                     extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)


class ScopedTabularInline(ScopedChoicesMixin, admin.TabularInline):  # type: ignore[type-arg,unused-ignore]
    """Inline rows hang off an already-scoped parent; their own choices are scoped too."""

    extra = 0


class ScopedStackedInline(ScopedChoicesMixin, admin.StackedInline):  # type: ignore[type-arg,unused-ignore]
    extra = 0


class SuperuserOnlyAdmin:
    """For installation-wide models (logins, groups): superusers only.

    A login is not owned by an organisation until a Person links it, and a group's
    permissions apply in every organisation, so staff of one organisation must neither
    see nor change them.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_unscoped(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_unscoped(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_unscoped(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_unscoped(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_unscoped(request)
