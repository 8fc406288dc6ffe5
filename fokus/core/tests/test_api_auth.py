"""Token and session authentication of the REST API, and its error shape."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from ninja.errors import HttpError

from fokus.core.api.auth import SessionOrganizationAuth
from fokus.core.models import ApiToken
from fokus.core.services import api_token_revoke
from fokus.core.tests.factories import World, build_two_worlds

ME = "/api/v1/me"


@pytest.fixture
def worlds(db: None) -> tuple[World, World]:
    return build_two_worlds()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_valid_token_reads_its_organisation_and_records_use(worlds: tuple[World, World]) -> None:
    world_a, _ = worlds
    token = ApiToken.objects.get(organization=world_a.organization, user=world_a.users["curator"])
    assert token.last_used_at is None
    response = Client().get(ME, headers=_bearer(world_a.tokens["curator"]))
    assert response.status_code == 200
    body = response.json()
    assert body["organization"]["slug"] == world_a.organization.slug
    assert body["person"]["employee_number"] == world_a.people["curator"].employee_number
    assert body["person"]["roles"] == ["curator"]
    assert body["auth"] == "token"
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("header", ["Bearer fk_not-a-real-token", "Bearer ", "Bearer"])
def test_invalid_token_is_401_json(worlds: tuple[World, World], header: str) -> None:
    response = Client().get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["detail"]
    assert "Traceback" not in response.content.decode()


def test_missing_credentials_is_401_json(worlds: tuple[World, World]) -> None:
    for method in ("get", "post"):
        response = getattr(Client(), method)(ME)
        assert response.status_code in {401, 405}
        if response.status_code == 401:
            assert response.json()["code"] == "unauthorized"
    assert Client().get(ME).status_code == 401


def test_revoked_token_stops_working(worlds: tuple[World, World]) -> None:
    world_a, _ = worlds
    key = world_a.tokens["admin"]
    assert Client().get(ME, headers=_bearer(key)).status_code == 200
    api_token_revoke(organization=world_a.organization, prefix=key)
    response = Client().get(ME, headers=_bearer(key))
    assert response.status_code == 401


def test_token_of_a_cannot_be_revoked_by_b(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    key = world_a.tokens["admin"]
    with pytest.raises(CommandError, match="No token"):
        call_command("token", "revoke", key, "--org", world_b.organization.slug)
    assert Client().get(ME, headers=_bearer(key)).status_code == 200


def test_token_of_a_reads_a_not_b(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    response = Client().get(ME, headers=_bearer(world_a.tokens["admin"]))
    assert world_b.mark not in response.content.decode()
    assert response.json()["organization"]["slug"] == world_a.organization.slug


def test_invalid_token_does_not_fall_back_to_the_session(worlds: tuple[World, World]) -> None:
    world_a, _ = worlds
    client = Client()
    client.force_login(world_a.users["viewer"])
    assert client.get(ME).json()["auth"] == "session"
    assert client.get(ME, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_session_auth_requires_csrf_for_unsafe_methods(worlds: tuple[World, World]) -> None:
    world_a, _ = worlds
    user = world_a.users["viewer"]
    auth = SessionOrganizationAuth()
    factory = RequestFactory()

    def request(method: str, csrf: bool) -> object:
        req = getattr(factory, method)(
            "/api/v1/anything", **({"HTTP_X_CSRFTOKEN": "t" * 32} if csrf else {})
        )
        if csrf:
            req.COOKIES["csrftoken"] = "t" * 32
        req.user = user
        req.organization = world_a.organization
        return auth(req)

    assert request("get", csrf=False) == user
    assert request("post", csrf=True) == user
    with pytest.raises(HttpError) as failure:
        request("post", csrf=False)
    assert failure.value.status_code == 403
    # Unknown paths answer the JSON 404 even to an unsafe request without CSRF.
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/no-such-operation", {})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_api_path_is_404_json(worlds: tuple[World, World]) -> None:
    response = Client().get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": response.json()["detail"],
        "errors": [],
    }


def test_token_command_create_list_revoke(
    worlds: tuple[World, World], capsys: pytest.CaptureFixture[str]
) -> None:
    world_a, _world_b = worlds
    org = world_a.organization.slug
    call_command(
        "token", "create", "--org", org, "--user", world_a.users["admin"].username, "--name", "BI"
    )
    created = json.loads(capsys.readouterr().out)
    key = created["token"]
    assert key.startswith(created["prefix"])
    assert Client().get(ME, headers=_bearer(key)).status_code == 200

    call_command("token", "list", "--org", org)
    listed = json.loads(capsys.readouterr().out)
    assert "BI" in {t["name"] for t in listed}
    assert all("token" not in t for t in listed)  # the clear key is never shown again
    assert all(t["organization"] == org for t in listed)

    call_command("token", "revoke", key, "--org", org)
    revoked = json.loads(capsys.readouterr().out)
    assert revoked["revoked"]["name"] == "BI"
    assert Client().get(ME, headers=_bearer(key)).status_code == 401


def test_token_command_refuses_a_user_of_another_organisation(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    with pytest.raises(CommandError, match="not a person of organisation"):
        call_command(
            "token",
            "create",
            "--org",
            world_a.organization.slug,
            "--user",
            world_b.users["admin"].username,
            "--name",
            "x",
        )
    with pytest.raises(CommandError, match="No organisation"):
        call_command("token", "list", "--org", "nope")
