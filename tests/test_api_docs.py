"""The API's OpenAPI document, its local docs UI, and its error shape."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from ninja import NinjaAPI, Router, Schema
from ninja.testing import TestClient

from fokus.core.api.errors import ERROR_RESPONSES, install_error_handlers


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False
        self._script_type = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "script":
            self._in_script = True
            self._script_type = values.get("type") or "text/javascript"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip() and self._script_type != "application/json":
            self.inline_scripts.append(data)


def test_openapi_document_is_served(db: None) -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert "/api/v1/me" in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_docs_ui_loads_only_local_assets_that_exist(db: None) -> None:
    client = Client()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = _Assets()
    page.feed(response.content.decode())
    assert page.urls, "the docs page references no scripts or styles"
    for url in page.urls:
        assert url.startswith("/static/"), f"{url} is not served by Fokus itself"
        assert not re.match(r"^(https?:)?//", url)
        assert finders.find(url.removeprefix("/static/")), f"{url} is not among the static files"
        asset = client.get(url)
        assert asset.status_code == 200, url
    # The CSP allows scripts from 'self' and nonced ones only: an inline script would not run.
    assert page.inline_scripts == []
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "http" not in csp
    # Swagger UI must not send the schema to an outside validator.
    assert '"validatorUrl": null' in response.content.decode()


def test_api_root_leads_to_the_docs(db: None) -> None:
    response = Client().get("/api/v1/")
    assert response.status_code == 302
    assert response["Location"] == "/api/v1/docs"


# A throwaway API with the same error handlers: the real one has no body-taking operation
# that is stable enough to pin the error shape on.
class _ThingIn(Schema):
    name: str
    count: int


def _error_api() -> TestClient:
    router = Router()

    @router.post("/things", response={200: _ThingIn, **ERROR_RESPONSES})
    def create_thing(request: object, payload: _ThingIn) -> _ThingIn:
        if payload.name == "boom":
            raise RuntimeError("secret internals")
        if payload.name == "taken":
            from django.core.exceptions import ValidationError

            raise ValidationError({"name": "That name is taken."})
        return payload

    @router.get("/things/{thing_id}", response={200: _ThingIn, **ERROR_RESPONSES})
    def get_thing(request: object, thing_id: int) -> _ThingIn:
        from django.http import Http404

        raise Http404("thing 7 of organisation beta")

    api = NinjaAPI(urls_namespace="error-shape-test")
    install_error_handlers(api)
    api.add_router("", router)
    return TestClient(api)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/things", {"name": "x"}, 422, "validation_error"),
        ("post", "/things", {"name": "taken", "count": 1}, 400, "bad_request"),
        ("get", "/things/7", None, 404, "not_found"),
        ("get", "/things/seven", None, 422, "validation_error"),
        ("post", "/things", {"name": "boom", "count": 1}, 500, "server_error"),
    ],
)
def test_errors_share_one_shape(
    method: str, path: str, body: object, status: int, code: str
) -> None:
    client = _error_api()
    response = (
        getattr(client, method)(path, json=body)
        if body is not None
        else getattr(client, method)(path)
    )
    assert response.status_code == status
    data = response.json()
    assert set(data) == {"code", "detail", "errors"}
    assert data["code"] == code
    text = str(data)
    assert "Traceback" not in text and "secret internals" not in text
    assert "organisation beta" not in text  # a 404 says nothing about what was looked up
    if path == "/things" and status == 422:
        assert data["errors"] == [{"field": "count", "message": "Field required"}]
    if status == 400:
        assert data["errors"] == [{"field": "name", "message": "That name is taken."}]
    if path == "/things/seven":
        assert data["errors"][0]["field"] == "thing_id"


def test_openapi_declares_error_responses(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    me = schema["paths"]["/api/v1/me"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(me)
