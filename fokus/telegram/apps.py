from django.apps import AppConfig


class TelegramConfig(AppConfig):
    name = "fokus.telegram"
    label = "telegram"
    default_auto_field = "django.db.models.BigAutoField"
