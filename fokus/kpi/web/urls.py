from django.urls import path

from fokus.kpi.web import views

app_name = "kpi"
urlpatterns: list = [
    path("kpi/", views.history, name="history"),
    path("kpi/upload/", views.upload, name="upload"),
    path("kpi/upload/confirm/", views.upload_confirm, name="upload_confirm"),
    path("kpi/imports/<int:import_id>/", views.import_detail, name="import_detail"),
]
