"""The curator's pages (fokus/review/web/curator.py), namespace "curator"."""

from django.urls import path

from fokus.review.web import curator

app_name = "curator"
urlpatterns: list = [
    path("review/", curator.queue, name="queue"),
    path("review/next/", curator.next_answer, name="next"),
    path("review/attempts/<int:attempt_id>/", curator.attempt_page, name="attempt"),
    path("review/attempts/<int:attempt_id>/claim/", curator.claim, name="claim"),
    path("review/attempts/<int:attempt_id>/release/", curator.release, name="release"),
    path("review/attempts/<int:attempt_id>/assign/", curator.assign, name="assign"),
    path("review/stats/", curator.stats, name="stats"),
    path("review/audit/", curator.audit, name="audit"),
]
