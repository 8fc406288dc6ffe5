from django.urls import URLPattern, URLResolver

app_name = "digest"
urlpatterns: list[URLPattern | URLResolver] = []
