from django.urls import path

from fokus.telegram.web import views

app_name = "telegram"
urlpatterns = [
    path("telegram/webhook/<int:bot_id>/", views.webhook, name="webhook"),
    path("profile/telegram/", views.profile_telegram, name="profile"),
]
