from django.urls import URLPattern, URLResolver

app_name = "delivery_links"
urlpatterns: list[URLPattern | URLResolver] = []
