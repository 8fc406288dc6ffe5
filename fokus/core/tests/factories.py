"""Two organisations with the same shape of data, for isolation and admin tests.

Every text an organisation owns carries its marker (e.g. "zqxb7"): if organisation B's
marker shows up in a response to organisation A, B's data leaked. Markers are long
and odd enough never to appear by chance (not even inside a random CSRF token).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.db import models
from django.utils import timezone

from fokus.core.models import ApiToken, Organization
from fokus.core.services import api_token_create
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import (
    Enrollment,
    LearningDay,
    Material,
    MaterialView,
    Program,
    Slot,
    SlotKind,
    Task,
    Track,
)

A_MARK = "zqxa7"
B_MARK = "zqxb7"
# Apps whose admin permissions staff get: all of them, so only scoping can stop them.
STAFF_APPS = ("core", "people", "programs", "auth")


@dataclass
class World:
    """One organisation's data; `objects` maps each model to its example row."""

    mark: str
    organization: Organization
    unit: Unit
    people: dict[str, Person]
    users: dict[str, User]
    tokens: dict[str, str]
    program: Program
    track: Track
    follower_track: Track
    slot: Slot
    day: LearningDay
    material: Material
    task: Task
    enrollment: Enrollment
    material_view: MaterialView
    api_token: ApiToken
    objects: dict[type[models.Model], models.Model] = field(default_factory=dict)

    @property
    def admin_user(self) -> User:
        return self.users[Role.ADMIN]

    def object_for(self, model: type[models.Model]) -> models.Model | None:
        return self.objects.get(model)


def grant_staff_permissions(user: User) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=STAFF_APPS))


def build_world(mark: str, *, starts_on: dt.date) -> World:
    """An organisation whose every name, title and number carries `mark`."""
    organization = Organization.objects.create(
        slug=f"{mark}-org", name=f"Org {mark}", default_time_zone="Europe/Moscow"
    )
    unit = Unit.objects.create(organization=organization, name=f"Unit {mark}", city=f"City {mark}")
    people: dict[str, Person] = {}
    users: dict[str, User] = {}
    tokens: dict[str, str] = {}
    manager: Person | None = None
    for role in Role:
        # No password: hashing one costs ~0.3 s; tests sign in with force_login.
        user = User.objects.create_user(
            username=f"{mark}-{role.value}", email=f"{role.value}@{mark}.example"
        )
        grant_staff_permissions(user)
        person = Person.objects.create(
            organization=organization,
            employee_number=f"{mark.upper()}-{role.value}",
            full_name=f"{role.value.title()} {mark}",
            email=f"{role.value}@{mark}.example",
            time_zone="Asia/Vladivostok",
            position=f"Position {mark}",
            unit=unit,
            manager=manager if role == Role.PARTICIPANT else None,
            roles=Person.roles_to_text({role.value}),
            user=user,
        )
        if role == Role.SUPERVISOR:
            manager = person
        people[role.value] = person
        users[role.value] = user
    # The supervisor manages the participant: created in Role order, so fix it up here.
    participant = people[Role.PARTICIPANT]
    participant.manager = people[Role.SUPERVISOR]
    participant.save(update_fields=["manager"])

    program = Program.objects.create(
        organization=organization,
        slug=f"{mark}-marathon",
        title=f"Marathon {mark}",
        description=f"About {mark}",
        starts_on=starts_on,
        ends_on=starts_on + dt.timedelta(days=15),
        learning_weekdays="mon,wed,fri",
    )
    track = Track.objects.create(
        program=program, slug=f"{mark}-consultants", title=f"Consultants {mark}"
    )
    follower = Track.objects.create(
        program=program, slug=f"{mark}-seniors", title=f"Seniors {mark}", follows=track, position=1
    )
    slot = Slot.objects.create(program=program, local_time=dt.time(10, 0), kind=SlotKind.LESSON)
    day = LearningDay.objects.create(program=program, index=1, date=starts_on)
    material = Material.objects.create(
        track=track, day=day, slot=slot, title=f"Material {mark}", body=f"Body {mark}", minutes=15
    )
    task = Task.objects.create(
        track=track, day=day, slot=slot, title=f"Task {mark}", prompt=f"Prompt {mark}"
    )
    enrollment = Enrollment.objects.create(
        person=participant, track=track, enrolled_at=timezone.now()
    )
    material_view = MaterialView.objects.create(
        person=participant, material=material, opened_at=timezone.now()
    )
    api_token = None
    for role_name, user in users.items():
        token, key = api_token_create(
            organization=organization, user=user, name=f"Token {mark} {role_name}"
        )
        tokens[role_name] = key
        api_token = token
    assert api_token is not None
    world = World(
        mark=mark,
        organization=organization,
        unit=unit,
        people=people,
        users=users,
        tokens=tokens,
        program=program,
        track=track,
        follower_track=follower,
        slot=slot,
        day=day,
        material=material,
        task=task,
        enrollment=enrollment,
        material_view=material_view,
        api_token=api_token,
    )
    world.objects = {
        Organization: organization,
        Unit: unit,
        Person: participant,
        User: users[Role.PARTICIPANT],
        Program: program,
        Track: track,
        Slot: slot,
        LearningDay: day,
        Material: material,
        Task: task,
        Enrollment: enrollment,
        MaterialView: material_view,
        ApiToken: api_token,
        # Groups are installation-wide (superusers only); one per world still carries a marker.
        Group: Group.objects.create(name=f"Group {mark}"),
    }
    return world


def build_two_worlds() -> tuple[World, World]:
    # Different dates: a URL carrying B's date must not match one of A's days.
    world_a = build_world(A_MARK, starts_on=dt.date(2026, 3, 2))
    world_b = build_world(B_MARK, starts_on=dt.date(2026, 4, 6))
    return world_a, world_b


def snapshot(world: World) -> dict[str, Any]:
    """Every row of the organisation, to prove that requests from elsewhere changed nothing."""
    org = world.organization
    querysets: dict[str, Any] = {
        "organization": Organization.objects.filter(pk=org.pk),
        "unit": Unit.objects.filter(organization=org),
        "person": Person.objects.filter(organization=org),
        "user": User.objects.filter(person__organization=org),
        "token": ApiToken.objects.filter(organization=org),
        "program": Program.objects.filter(organization=org),
        "track": Track.objects.filter(program__organization=org),
        "slot": Slot.objects.filter(program__organization=org),
        "day": LearningDay.objects.filter(program__organization=org),
        "material": Material.objects.filter(track__program__organization=org),
        "task": Task.objects.filter(track__program__organization=org),
        "enrollment": Enrollment.objects.filter(track__program__organization=org),
        "material_view": MaterialView.objects.filter(person__organization=org),
    }
    exclude = {"last_used_at", "last_login", "updated_at"}
    result: dict[str, Any] = {}
    for name, qs in querysets.items():
        fields = [f.attname for f in qs.model._meta.concrete_fields if f.attname not in exclude]
        result[name] = sorted((tuple(row) for row in qs.values_list(*fields)), key=repr)
    return result
