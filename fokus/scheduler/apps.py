from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "fokus.scheduler"
    label = "scheduler"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from fokus.scheduler.checks import check_schedule

        checks.register(check_schedule)
