"""Staff of one organisation see and change only that organisation in the admin."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from fokus.core.tests.factories import (
    B_MARK,
    World,
    build_two_worlds,
    grant_staff_permissions,
)
from fokus.people.models import Person, Unit
from fokus.programs.models import Track


@pytest.fixture
def worlds(db: None) -> tuple[World, World]:
    return build_two_worlds()


def _staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.admin_user)
    return client


def test_staff_changelist_lists_only_their_people(worlds: tuple[World, World]) -> None:
    world_a, _world_b = worlds
    response = _staff_client(world_a).get(reverse("admin:people_person_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert world_a.people["participant"].full_name in body
    assert B_MARK not in body.lower()


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_foreign_person_answers_404(worlds: tuple[World, World], view: str) -> None:
    world_a, world_b = worlds
    foreign = world_b.people["participant"]
    client = _staff_client(world_a)
    url = reverse(f"admin:people_person_{view}", args=[foreign.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"full_name": "hijacked", "post": "yes"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.full_name != "hijacked"
    assert Person.objects.filter(pk=foreign.pk).exists()


def test_bulk_delete_action_ignores_foreign_ids(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    foreign = world_b.unit
    _staff_client(world_a).post(
        reverse("admin:people_unit_changelist"),
        {"action": "delete_selected", "_selected_action": [foreign.pk], "post": "yes"},
    )
    assert Unit.objects.filter(pk=foreign.pk).exists()


def test_person_form_offers_only_own_units_and_managers(worlds: tuple[World, World]) -> None:
    world_a, _world_b = worlds
    request = _admin_request(world_a.admin_user)
    model_admin = admin.site._registry[Person]
    form_class = model_admin.get_form(request, world_a.people["participant"])
    form = form_class(instance=world_a.people["participant"])
    units = set(form.fields["unit"].queryset)  # type: ignore[attr-defined]
    managers = set(form.fields["manager"].queryset)  # type: ignore[attr-defined]
    assert units == {world_a.unit}
    assert managers == set(Person.objects.filter(organization=world_a.organization))
    assert "organization" not in form.fields


def test_manager_autocomplete_offers_only_own_people(worlds: tuple[World, World]) -> None:
    world_a, _ = worlds
    response = _staff_client(world_a).get(
        reverse("admin:autocomplete"),
        {"app_label": "people", "model_name": "person", "field_name": "manager", "term": "zqx"},
    )
    assert response.status_code == 200
    names = {row["text"] for row in response.json()["results"]}
    assert names and all("zqxa7" in name for name in names)


def test_foreign_unit_cannot_be_assigned_by_posting_its_id(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    person = world_a.people["viewer"]
    response = _staff_client(world_a).post(
        reverse("admin:people_person_change", args=[person.pk]),
        {
            "employee_number": person.employee_number,
            "full_name": person.full_name,
            "time_zone": person.time_zone,
            "unit": world_b.unit.pk,
            "roles": ["viewer"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert "unit" in response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.unit == world_a.unit


def test_new_unit_gets_the_staff_organisation(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    response = _staff_client(world_a).post(
        reverse("admin:people_unit_add"),
        # A forged organisation field is ignored: staff cannot choose one.
        {"name": "Новый салон", "city": "Омск", "organization": world_b.organization.pk},
    )
    assert response.status_code == 302
    unit = Unit.objects.get(name="Новый салон")
    assert unit.organization == world_a.organization


def test_new_track_can_only_join_own_program(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    client = _staff_client(world_a)
    page = client.get(reverse("admin:programs_track_add")).content.decode()
    assert world_a.program.title in page
    assert B_MARK not in page.lower()
    response = client.post(
        reverse("admin:programs_track_add"),
        {"program": world_b.program.pk, "slug": "stolen", "title": "Stolen", "position": 0},
    )
    assert response.status_code == 200
    assert not Track.objects.filter(slug="stolen").exists()


def test_list_filters_do_not_name_other_organisations(worlds: tuple[World, World]) -> None:
    world_a, _ = worlds
    client = _staff_client(world_a)
    for name in ["people_person", "programs_material", "programs_track", "programs_enrollment"]:
        body = client.get(reverse(f"admin:{name}_changelist")).content.decode().lower()
        assert B_MARK not in body, name


def test_staff_cannot_see_logins_or_groups(worlds: tuple[World, World]) -> None:
    world_a, _world_b = worlds
    client = _staff_client(world_a)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    own_login = world_a.admin_user.pk
    assert client.get(reverse("admin:auth_user_change", args=[own_login])).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:auth_user_changelist") not in index


def test_staff_sees_only_their_organisation_row(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    client = _staff_client(world_a)
    body = client.get(reverse("admin:core_organization_changelist")).content.decode()
    assert world_a.organization.name in body and world_b.organization.name not in body
    url = reverse("admin:core_organization_change", args=[world_b.organization.pk])
    assert client.get(url).status_code == 404


def test_staff_without_a_person_sees_nothing(worlds: tuple[World, World]) -> None:
    loner = User.objects.create_user(username="loner", is_staff=True)
    grant_staff_permissions(loner)
    client = Client()
    client.force_login(loner)
    response = client.get(reverse("admin:people_person_changelist"))
    assert response.status_code == 403


def test_superuser_sees_both_organisations(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    root = User.objects.create_superuser(username="root", password=None, email="root@example.com")
    client = Client()
    client.force_login(root)
    body = client.get(reverse("admin:people_person_changelist")).content.decode()
    assert world_a.people["participant"].full_name in body
    assert world_b.people["participant"].full_name in body
    url = reverse("admin:people_person_change", args=[world_b.people["participant"].pk])
    assert client.get(url).status_code == 200


def _admin_request(user: User) -> HttpRequest:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    request.person = user.person  # type: ignore[attr-defined]
    request.organization = user.person.organization  # type: ignore[attr-defined]
    return request
