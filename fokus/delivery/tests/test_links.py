"""Signed links from messages: the lesson without signing in, and nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from fokus.core.clock import frozen_at
from fokus.delivery.links import LinkTarget, link_url
from fokus.delivery.tests.conftest import Drop
from fokus.people.services import person_grant_login
from fokus.programs.models import MaterialView

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return "/l/" + url.split("/l/", 1)[1]


def material_link(drop: Drop, person_id: int) -> str:
    return path_of(link_url(person_id=person_id, target=LinkTarget.MATERIAL,
                            object_id=drop.materials[0].pk))


def test_the_lesson_link_shows_the_material_without_signing_in(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    with frozen_at(email_drop.lesson_at):
        link = material_link(email_drop, anna.pk)
        response = Client().get(link)
    assert response.status_code == 200
    body = response.content.decode()
    material = email_drop.materials[0]
    assert material.title in body
    assert email_drop.tasks[0].title in body
    assert "Participant P1" in body  # whose link it is
    assert MaterialView.objects.filter(person=anna, material=material).exists()
    assert "_auth_user_id" not in Client().session  # no session was made
    assert not response.cookies.get("sessionid")


def test_before_the_slot_opens_the_link_says_when(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    with frozen_at(email_drop.lesson_at - timedelta(hours=1)):
        response = Client().get(material_link(email_drop, anna.pk))
    assert response.status_code == 200
    assert "This opens on" in response.content.decode()
    assert not MaterialView.objects.filter(person=anna).exists()


def test_the_task_link_shows_the_task_and_a_sign_in_to_answer(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    person_grant_login(person=anna, username="anna", password="a-long-password-1")
    task = email_drop.tasks[0]
    with frozen_at(email_drop.lesson_at):
        link = path_of(link_url(person_id=anna.pk, target=LinkTarget.TASK, object_id=task.pk))
        response = Client().get(link)
    body = response.content.decode()
    assert response.status_code == 200
    assert task.title in body
    assert f"/login/?next=/tasks/{task.pk}/" in body


def test_signed_in_as_that_person_the_link_opens_the_full_page(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    user = person_grant_login(person=anna, username="anna", password="a-long-password-1")
    client = Client()
    client.force_login(user)
    with frozen_at(email_drop.lesson_at):
        response = client.get(material_link(email_drop, anna.pk))
    assert response.status_code == 302
    assert response["Location"] == f"/materials/{email_drop.materials[0].pk}/"


def test_signed_in_as_someone_else_the_link_is_not_found(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    boris = email_drop.person("P2", chat=False)
    user = person_grant_login(person=boris, username="boris", password="a-long-password-1")
    client = Client()
    client.force_login(user)
    with frozen_at(email_drop.lesson_at):
        assert client.get(material_link(email_drop, anna.pk)).status_code == 404
    staff = User.objects.create_user("ops", password="x" * 12, is_staff=True)
    client.force_login(staff)
    with frozen_at(email_drop.lesson_at):
        assert client.get(material_link(email_drop, anna.pk)).status_code == 404


def test_an_altered_link_is_not_found_and_an_old_one_has_expired(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    boris = email_drop.person("P2", chat=False)
    with frozen_at(email_drop.lesson_at):
        link = material_link(email_drop, anna.pk)
        forged = link.replace(f"/l/{anna.pk}.", f"/l/{boris.pk}.")
        assert forged != link
        assert Client().get(forged).status_code == 404
        assert Client().get(link[:-5] + "/").status_code == 404
    with frozen_at(email_drop.lesson_at + timedelta(days=13)):
        assert Client().get(link).status_code == 200
    with frozen_at(email_drop.lesson_at + timedelta(days=15)):
        response = Client().get(link)
    assert response.status_code == 410
    # Whose link it was is no longer trusted: the page speaks the installation's Russian.
    assert "Срок действия ссылки истёк" in response.content.decode()


def test_a_link_to_content_the_person_may_not_see_is_not_found(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    from fokus.programs.models import Enrollment

    Enrollment.objects.filter(person=anna).delete()
    with frozen_at(email_drop.lesson_at):
        assert Client().get(material_link(email_drop, anna.pk)).status_code == 404
        task_link = path_of(link_url(person_id=anna.pk, target=LinkTarget.TASK,
                                     object_id=email_drop.tasks[0].pk))
        assert Client().get(task_link).status_code == 404
