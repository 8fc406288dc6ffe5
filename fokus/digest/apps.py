from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "fokus.digest"
    label = "digest"
    default_auto_field = "django.db.models.BigAutoField"
