from django.urls import path

from fokus.scoring.web import views

app_name = "scoring"
urlpatterns: list = [
    path("scoring/", views.index, name="index"),
    path("scoring/programs/<slug:slug>/rules/", views.rules, name="rules"),
    path("scoring/programs/<slug:slug>/bonus/", views.bonus, name="bonus"),
]
