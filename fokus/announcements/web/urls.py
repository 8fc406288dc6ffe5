from django.urls import URLPattern, URLResolver

app_name = "announcements"
urlpatterns: list[URLPattern | URLResolver] = []
