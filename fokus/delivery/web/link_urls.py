"""Sign-in-free signed links from messages (fokus/delivery/links.py)."""

from django.urls import URLPattern, URLResolver, path

from fokus.delivery.web import links

app_name = "delivery_links"
urlpatterns: list[URLPattern | URLResolver] = [
    path("l/<str:link_token>/", links.open_link, name="open"),
]
