from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "fokus.supervision"
    label = "supervision"
    default_auto_field = "django.db.models.BigAutoField"
