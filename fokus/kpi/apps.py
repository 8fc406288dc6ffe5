from django.apps import AppConfig


class KpiConfig(AppConfig):
    name = "fokus.kpi"
    label = "kpi"
    default_auto_field = "django.db.models.BigAutoField"
