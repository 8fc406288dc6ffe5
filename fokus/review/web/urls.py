"""Answers on the web, participant side (namespace "review"). The curator queue and the
review page live in curator_urls.py (namespace "curator")."""

from django.urls import path

from fokus.review.web import participant

app_name = "review"
urlpatterns: list = [
    path("tasks/<int:task_id>/", participant.task, name="task"),
    path("answers/<int:submission_id>/", participant.answer, name="answer"),
    path("answers/files/<int:file_id>/", participant.file, name="file"),
]
