from django.apps import AppConfig


class AnnouncementsConfig(AppConfig):
    name = "fokus.announcements"
    label = "announcements"
    default_auto_field = "django.db.models.BigAutoField"
