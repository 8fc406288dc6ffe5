from django.urls import path

from fokus.leaderboard.web import views

app_name = "leaderboard"
urlpatterns: list = [
    path("leaderboards/", views.board_index, name="index"),
    path("leaderboards/<slug:program_slug>/", views.board, name="board"),
]
