"""Background task results are installation-wide: only superusers see them.

django-tasks-db registers its own admin for DBTaskResult; a task's arguments carry ids
of any organisation, so staff of one organisation must not browse them.
"""

from __future__ import annotations

from django.contrib import admin
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from fokus.core.admin_scoping import SuperuserOnlyAdmin

admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(SuperuserOnlyAdmin, DBTaskResultAdmin):
    pass
