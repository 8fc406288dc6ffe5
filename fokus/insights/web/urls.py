from django.urls import URLPattern, URLResolver, path

from fokus.insights.web import views

app_name = "insights"
urlpatterns: list[URLPattern | URLResolver] = [
    path("insights/", views.index, name="index"),
    path("insights/<slug:program_slug>/", views.dashboard, name="dashboard"),
    path("insights/<slug:program_slug>/refresh/", views.refresh, name="refresh"),
    path("insights/<slug:program_slug>/uplift/", views.uplift, name="uplift"),
    path("insights/<slug:program_slug>/settings/", views.settings_save, name="settings"),
]
