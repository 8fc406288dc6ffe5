from django.urls import URLPattern, URLResolver, path

from fokus.digest.web import views

app_name = "digest"
urlpatterns: list[URLPattern | URLResolver] = [
    path("digest/showcase/", views.showcase, name="showcase"),
    path("digest/<slug:program_slug>/today/", views.today, name="today"),
]
