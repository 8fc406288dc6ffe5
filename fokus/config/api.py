"""The REST API root: each domain app contributes a router from its `api/` package.

Served at /api/v1/: the OpenAPI document at /api/v1/openapi.json and the Swagger UI at
/api/v1/docs, whose scripts and styles come from django-ninja's own static files (no
CDN, no inline script, so the strict CSP in settings holds). docs/api.md explains
authentication, the error shape and how a new endpoint joins the isolation test.
"""

from typing import Any

from django.urls import URLPattern, URLResolver, path, re_path
from django.views.generic import RedirectView
from ninja import NinjaAPI, Swagger

from fokus.core.api.auth import ApiTokenAuth, SessionOrganizationAuth
from fokus.core.api.errors import install_error_handlers, not_found_view
from fokus.core.api.routes import router as core_router
from fokus.insights.api.routes import router as insights_router
from fokus.kpi.api.routes import router as kpi_router
from fokus.leaderboard.api.routes import router as leaderboards_router
from fokus.people.api.routes import router as people_router
from fokus.programs.api.routes import router as programs_router
from fokus.review.api.curator import router as review_curator_router
from fokus.review.api.routes import router as review_router
from fokus.scoring.api.routes import router as scoring_router


class FokusAPI(NinjaAPI):
    def _get_urls(self) -> list[URLResolver | URLPattern]:
        # ninja's own root answers an HTML 404 unless DEBUG; ours leads to the docs.
        urls: list[Any] = [u for u in super()._get_urls() if getattr(u, "name", "") != "api-root"]
        docs = RedirectView.as_view(pattern_name="api:openapi-view")
        urls.append(path("", docs, name="api-root"))
        # Last, so it only catches what no operation matched.
        urls.append(re_path(r"^(?P<unknown>.+)$", not_found_view, name="not-found"))
        return urls


api = FokusAPI(
    title="Fokus API",
    version="1",
    description="Organisation-scoped access to people and programs. See docs/api.md.",
    urls_namespace="api",
    # Order matters: a bearer token is tried first, then the browser session.
    auth=[ApiTokenAuth(), SessionOrganizationAuth()],
    docs_url="/docs",
    # validatorUrl=None: Swagger UI would otherwise send the schema to an outside service.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
)
install_error_handlers(api)
api.add_router("", core_router)
api.add_router("/people", people_router)
api.add_router("/kpi", kpi_router)
api.add_router("/programs", programs_router)
api.add_router("/leaderboards", leaderboards_router)
api.add_router("/answers", review_router)
api.add_router("/review", review_curator_router)
api.add_router("/scoring", scoring_router)
api.add_router("/insights", insights_router)
