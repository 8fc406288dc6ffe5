from django.contrib import admin
from django.urls import include, path

from fokus.config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("fokus.core.web.urls")),
    path("", include("fokus.programs.web.urls")),
    path("", include("fokus.leaderboard.web.urls")),
    path("", include("fokus.people.web.urls")),
    path("", include("fokus.scoring.web.urls")),
    path("", include("fokus.kpi.web.urls")),
    path("", include("fokus.telegram.web.urls")),
    path("", include("fokus.review.web.urls")),
    path("", include("fokus.review.web.curator_urls")),
    path("", include("fokus.delivery.web.urls")),
    path("", include("fokus.delivery.web.operator_urls")),
    path("", include("fokus.announcements.web.urls")),
    path("", include("fokus.digest.web.urls")),
    path("", include("fokus.delivery.web.link_urls")),
    path("", include("fokus.supervision.web.urls")),
    path("", include("fokus.insights.web.urls")),
]
