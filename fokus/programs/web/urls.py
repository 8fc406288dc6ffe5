from django.urls import path

from fokus.programs.web import authoring, participant

_CELL = (
    "author/programs/<slug:slug>/matrix/days/<int:day_index>/slots/<int:slot_id>"
    "/tracks/<slug:track_slug>/"
)

app_name = "programs"
urlpatterns: list = [
    # Participant pages
    path("", participant.today, name="today"),
    path("calendar/", participant.calendar_index, name="calendar_index"),
    path("programs/<slug:slug>/calendar/", participant.calendar, name="calendar"),
    path("programs/<slug:slug>/calendar.ics", participant.calendar_ics, name="calendar_ics"),
    path("materials/<int:material_id>/", participant.material, name="material"),
    # Authors: the program matrix (fokus/programs/web/authoring.py)
    path("author/", authoring.program_list, name="author_programs"),
    path("author/programs/<slug:slug>/matrix/", authoring.matrix, name="author_matrix"),
    path(_CELL, authoring.cell, name="author_cell"),
    path(_CELL + "materials/new/", authoring.material_create, name="author_material_create"),
    path(_CELL + "tasks/new/", authoring.task_create, name="author_task_create"),
    path("author/materials/<int:material_id>/", authoring.material_edit, name="author_material"),
    path(
        "author/materials/<int:material_id>/delete/",
        authoring.material_delete,
        name="author_material_delete",
    ),
    path(
        "author/materials/<int:material_id>/move/",
        authoring.material_move,
        name="author_material_move",
    ),
    path("author/tasks/<int:task_id>/", authoring.task_edit, name="author_task"),
    path("author/tasks/<int:task_id>/delete/", authoring.task_delete, name="author_task_delete"),
    path("author/tasks/<int:task_id>/move/", authoring.task_move, name="author_task_move"),
]
