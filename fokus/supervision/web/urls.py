from django.urls import URLPattern, URLResolver, path

from fokus.supervision.web import views

app_name = "supervision"
urlpatterns: list[URLPattern | URLResolver] = [
    path("team/", views.team_index, name="team_index"),
    path("team/confirmations/<int:confirmation_id>/photo/", views.confirmation_photo,
         name="confirmation_photo"),
    path("team/<slug:program>/", views.team, name="team"),
    path("team/<slug:program>/board/", views.board, name="board"),
    path("team/<slug:program>/people/<str:manager>/", views.team_of, name="team_of"),
    path("team/<slug:program>/nudge/<str:person>/", views.nudge, name="nudge"),
    path("team/<slug:program>/confirm/<str:person>/", views.confirm, name="confirm"),
    path("team/<slug:program>/tasks/<int:support_task_id>/", views.support_task_resolve,
         name="support_task_resolve"),
    path("author/programs/<slug:program>/support-templates/", views.support_templates,
         name="support_templates"),
]
