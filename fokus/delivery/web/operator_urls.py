from django.urls import URLPattern, URLResolver

app_name = "delivery_operator"
urlpatterns: list[URLPattern | URLResolver] = []
