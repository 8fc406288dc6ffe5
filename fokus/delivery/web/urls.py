from django.urls import URLPattern, URLResolver, path

from fokus.delivery.web import preferences

app_name = "delivery"
urlpatterns: list[URLPattern | URLResolver] = [
    path("profile/messages/", preferences.my_preferences, name="my_preferences"),
    path(
        "delivery/preferences/<str:token>/", preferences.preferences_by_token,
        name="preferences",
    ),
]
