from django.urls import URLPattern, URLResolver, path

from fokus.announcements.web import views

app_name = "announcements"
urlpatterns: list[URLPattern | URLResolver] = [
    path("announcements/", views.announcement_list, name="list"),
    path("announcements/new/", views.announcement_create, name="create"),
    path("announcements/<int:announcement_id>/", views.announcement_detail, name="detail"),
    path("announcements/<int:announcement_id>/edit/", views.announcement_edit, name="edit"),
    path("announcements/<int:announcement_id>/send/", views.announcement_send, name="send"),
    path("announcements/posters/", views.poster_list, name="posters"),
    path("announcements/posters/<int:unit_id>/", views.poster, name="poster"),
]
