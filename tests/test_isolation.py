"""Cross-organisation isolation: organisation A never reaches organisation B's data.

Every URL pattern of the project (pages, admin, the API) and every operation in the
OpenAPI document is enumerated here. Two organisations with the same shape of data are
built (fokus/core/tests/factories.py); every text of B carries the marker "zqxb7".

* A pattern or operation with parameters is requested as each role of A (session for
  pages, token and session for the API; every declared method) with B's values, and
  with A's values where only one parameter is B's: the answer must be 404 or 403.
* Parameterless pages, list operations and A's own objects are requested as A: B's
  marker must not appear in the body.
* Afterwards B's rows are unchanged and no row links the two organisations.

A new endpoint whose parameters this file does not know fails
`test_every_endpoint_is_classified`: add its parameter names to PARAMS (or the endpoint
to ENDPOINT_PARAMS / PUBLIC with a reason). docs/api.md tells how.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.admin import site as admin_site
from django.contrib.contenttypes.models import ContentType
from django.db.models import F
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fokus.announcements.tests import isolation as announcements_isolation
from fokus.config.api import api
from fokus.core.tests.factories import B_MARK, World, build_two_worlds, snapshot
from fokus.delivery.tests import isolation as delivery_isolation
from fokus.digest.tests import isolation as digest_isolation
from fokus.insights.tests import isolation as insights_isolation
from fokus.kpi.models import KpiImport, KpiSource
from fokus.kpi.tests.factories import add_kpi_examples
from fokus.people.models import Person, Role
from fokus.programs.models import Enrollment, Material, MaterialView, Task, Track
from fokus.review.models import Attempt, AttemptFile, Submission
from fokus.review.tests.answer_factories import add_review_examples
from fokus.scheduler.tests.factories import add_scheduler_examples
from fokus.scoring.models import PointsEntry
from fokus.scoring.tests.factories import add_scoring_examples
from fokus.supervision.tests import isolation as supervision_isolation
from fokus.telegram.models import TelegramBot, TelegramChat
from fokus.telegram.tests.factories import add_telegram_examples

ROLES = [r.value for r in Role]
Picker = Callable[[str], World]

# --- the registry -----------------------------------------------------------------------

# URL, path and query parameter names -> the value of one organisation.
PARAMS: dict[str, Callable[[World], Any]] = {
    # Program pages name the program `slug`; no page takes an organisation slug.
    "slug": lambda w: w.program.slug,
    "program_slug": lambda w: w.program.slug,
    "program": lambda w: w.program.slug,
    "track_slug": lambda w: w.track.slug,
    "track": lambda w: w.track.slug,
    "employee_number": lambda w: w.people[Role.PARTICIPANT].employee_number,
    "person": lambda w: w.people[Role.PARTICIPANT].employee_number,
    "manager": lambda w: w.people[Role.SUPERVISOR].employee_number,
    "unit_id": lambda w: w.unit.pk,
    "person_id": lambda w: w.people[Role.PARTICIPANT].pk,
    "program_id": lambda w: w.program.pk,
    "track_id": lambda w: w.track.pk,
    "slot_id": lambda w: w.slot.pk,
    "day_id": lambda w: w.day.pk,
    # The same in A and B (both programs start with day 1): never the only B value.
    "day_index": lambda w: w.day.index,
    "index": lambda w: w.day.index,
    "date": lambda w: w.day.date.isoformat(),
    "material_id": lambda w: w.material.pk,
    "task_id": lambda w: w.task.pk,
    "enrollment_id": lambda w: w.enrollment.pk,
    "prefix": lambda w: w.api_token.key_prefix,
    "org_slug": lambda w: w.organization.slug,
    "source": lambda w: w.objects[KpiSource].slug,
    "import_id": lambda w: w.objects[KpiImport].pk,
    # The Telegram webhook: B's bot id without B's secret must be refused.
    "bot_id": lambda w: w.objects[TelegramBot].pk,
    # Answers (fokus/review): the world's participant has a submitted attempt with a photo.
    "submission_id": lambda w: w.objects[Submission].pk,
    "attempt_id": lambda w: w.objects[Attempt].pk,
    "file_id": lambda w: w.objects[AttemptFile].pk,
}

# Whole-endpoint parameter builders where a name alone is ambiguous (key: URL name).
ENDPOINT_PARAMS: dict[str, Callable[[World], dict[str, Any]]] = {
    "admin:view_on_site": lambda w: {
        "content_type_id": ContentType.objects.get_for_model(Person).pk,
        "object_id": w.people[Role.PARTICIPANT].pk,
    },
    # UserAdmin's own URL, wrapped without `model_admin`.
    "admin:auth_user_password_change": lambda w: {"id": w.people[Role.PARTICIPANT].user_id},
}

# Optional query parameters that filter a list by one of an organisation's objects: with
# B's value, A's list must show none of B's rows (an empty list or 404 are both fine).
FILTER_PARAMS: dict[str, Callable[[World], Any]] = {
    "unit": lambda w: w.unit.name,
    "manager": lambda w: w.people[Role.SUPERVISOR].employee_number,
}

# Optional query parameters that name no organisation's data.
NEUTRAL_QUERY = {"limit", "offset", "page", "page_size", "role", "format", "q", "search",
                 "mine", "cursor", "since", "until",
                 # leaderboards: a period key, the team-board switch, how many neighbours
                 "period", "teams", "neighbours",
                 # insights: a date range, the completion rule, a table's name, baseline length
                 "date_from", "date_to", "completion", "section", "table", "baseline_days"}

# Parameters that name no object of an organisation: each value is requested and the
# answer must show no B marker.
STATIC_PARAMS: dict[str, list[Any]] = {
    "app_label": ["core", "people", "programs", "auth"],
}

# Endpoints that show no organisation data, with the reason. Keep it short.
PUBLIC: dict[str, str] = {
    "core:login": "the sign-in form",
    "core:logout": "signs out; requesting it would end the test's session",
    "core:set_language": "stores the UI language in a cookie",
    "admin:login": "the admin sign-in form",
    "admin:logout": "signs out; requesting it would end the test's session",
    "admin:jsi18n": "the admin's JavaScript translation catalogue",
    "admin:<url>": "admin catch-all: 404 or a redirect to the admin sign-in",
    "api:openapi-json": "the OpenAPI document: operations, not data",
    "api:openapi-view": "the Swagger UI page (static assets)",
    "api:api-root": "redirects to the docs",
    "api:not-found": "answers 404 to any path no operation matched",
}

# JSON bodies for unsafe API operations (key: operationId), where generated ones fail.
API_BODIES: dict[str, Callable[[World], dict[str, Any]]] = {}

# Extra query strings for parameterless GET endpoints that filter by them.
EXTRA_QUERIES: dict[str, list[dict[str, str]]] = {
    "admin:autocomplete": [
        {"app_label": "people", "model_name": "person", "field_name": "manager", "term": "zqx"},
        {"app_label": "programs", "model_name": "enrollment", "field_name": "person", "term": ""},
        {"app_label": "programs", "model_name": "materialview", "field_name": "person", "term": ""},
    ],
}

# Apps above core add their example rows to each World (core's factories cannot import
# them): each callable stores its objects in `world.objects`.
WORLD_EXTENSIONS: list[Callable[[World], None]] = [
    add_scoring_examples, add_kpi_examples, add_telegram_examples, add_review_examples,
    add_scheduler_examples,
    delivery_isolation.add_examples, announcements_isolation.add_examples,
    digest_isolation.add_examples, supervision_isolation.add_examples,
    insights_isolation.add_examples,
]

# Newer apps keep their parameters next to their examples (fokus/<app>/tests/isolation.py).
for _app in (delivery_isolation, announcements_isolation, digest_isolation,
             supervision_isolation, insights_isolation):
    PARAMS.update(_app.PARAMS)

DENIED = {403, 404}


# --- discovery --------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    route: str
    name: str | None
    params: tuple[str, ...]
    callback: Any

    @property
    def key(self) -> str:
        if self.name:
            return self.name
        namespace = "admin" if self.route.startswith("admin/") else ""
        tail = self.route.rsplit("/", 1)[-1] if namespace else self.route
        return (
            f"{namespace}:<{'|'.join(self.params)}>"
            if namespace and tail.startswith("(?P")
            else self.route
        )

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def model_admin(self) -> Any:
        return getattr(self.callback, "model_admin", None)


def _walk(
    patterns: list[Any],
    prefix: str = "",
    namespace: tuple[str, ...] = (),
    params: tuple[str, ...] = (),
) -> Iterator[Endpoint]:
    for pattern in patterns:
        names = tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            ns = namespace + ((pattern.namespace,) if pattern.namespace else ())
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), ns, params + names
            )
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespace, pattern.name)) if pattern.name else None
            yield Endpoint(prefix + str(pattern.pattern), name, params + names, pattern.callback)


def all_endpoints() -> list[Endpoint]:
    return list(_walk(get_resolver().url_patterns))


def openapi_operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema()
    return [
        (path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
    ]


def _object_param_value(endpoint: Endpoint, param: str, world: World) -> Any:
    model_admin = endpoint.model_admin
    if model_admin is not None and param in {"object_id", "id", "pk"}:
        obj = world.object_for(model_admin.model)
        if obj is None:
            raise LookupError(f"factories.World has no example {model_admin.model.__name__}")
        return obj.pk
    view_model = getattr(getattr(endpoint.callback, "view_class", None), "model", None)
    if view_model is not None and param in {"pk", "id", "object_id"}:
        obj = world.object_for(view_model)
        if obj is None:
            raise LookupError(f"factories.World has no example {view_model.__name__}")
        return obj.pk
    if param in PARAMS:
        return PARAMS[param](world)
    raise LookupError(param)


def endpoint_kwargs(endpoint: Endpoint, world: World) -> dict[str, Any]:
    if endpoint.key in ENDPOINT_PARAMS:
        return ENDPOINT_PARAMS[endpoint.key](world)
    return {p: _object_param_value(endpoint, p, world) for p in endpoint.params}


def classify(endpoint: Endpoint) -> str:
    """public | api | static | object | plain; raises LookupError for unknown parameters."""
    if endpoint.key in PUBLIC:
        return "public"
    if endpoint.is_api:
        return "api"
    if not endpoint.params:
        return "plain"
    if all(p in STATIC_PARAMS for p in endpoint.params):
        return "static"
    if endpoint.key in ENDPOINT_PARAMS:
        return "object"
    unknown = []
    for param in endpoint.params:
        try:
            _object_param_value(endpoint, param, _DUMMY_WORLD)
        except LookupError:
            unknown.append(param)
        except Exception:
            continue
    if unknown:
        raise LookupError(", ".join(unknown))
    return "object"


class _DummyWorld:
    """Answers attribute access so classify() can tell known names from unknown ones."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    def object_for(self, model: Any) -> Any:
        return self


_DUMMY_WORLD: Any = _DummyWorld()


def _api_route_to_operation() -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    by_route: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, method, op in openapi_operations():
        route = _django_route_of(path)
        by_route.setdefault(route, []).append((path, method, op))
    return by_route


def _django_route_of(openapi_path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"{\1}", openapi_path.removeprefix("/"))


def _normalise_route(route: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def worlds(db: None) -> tuple[World, World]:
    world_a, world_b = build_two_worlds()
    for extend in WORLD_EXTENSIONS:
        extend(world_a)
        extend(world_b)
    return world_a, world_b


def _session(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _leaks(body: bytes) -> bool:
    return B_MARK in body.decode("utf-8", errors="replace").lower()


def _assert_b_untouched_and_no_cross_links(world_b: World, before: dict[str, Any]) -> None:
    assert snapshot(world_b) == before, "a request from organisation A changed B's rows"
    cross = {
        "person.unit": Person.objects.exclude(unit=None).exclude(
            unit__organization=F("organization")
        ),
        "person.manager": Person.objects.exclude(manager=None).exclude(
            manager__organization=F("organization")
        ),
        "track.follows": Track.objects.exclude(follows=None).exclude(follows__program=F("program")),
        "enrollment": Enrollment.objects.exclude(
            person__organization=F("track__program__organization")
        ),
        "material.day": Material.objects.exclude(day__program=F("track__program")),
        "material.slot": Material.objects.exclude(slot__program=F("track__program")),
        "task.day": Task.objects.exclude(day__program=F("track__program")),
        "task.slot": Task.objects.exclude(slot__program=F("track__program")),
        "material_view": MaterialView.objects.exclude(
            person__organization=F("material__track__program__organization")
        ),
        "telegram_chat": TelegramChat.objects.exclude(bot__organization=None).exclude(
            bot__organization=F("person__organization")
        ),
        "points_entry": PointsEntry.objects.exclude(
            person__organization=F("organization"), program__organization=F("organization")
        ),
    }
    linked = {
        name: list(qs.values_list("pk", flat=True)) for name, qs in cross.items() if qs.exists()
    }
    assert not linked, f"rows link two organisations: {linked}"


def _mixed_kwargs(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """All of B's values, then A's values with one of B's where the two differ."""
    combos = [dict(b)]
    if len(a) > 1:
        for name in a:
            if a[name] != b[name]:
                combos.append({**a, name: b[name]})
    return combos


# --- tests ------------------------------------------------------------------------------


def test_every_endpoint_is_classified() -> None:
    problems = []
    api_routes = {_normalise_route(r) for r in _api_route_to_operation()}
    for endpoint in all_endpoints():
        try:
            kind = classify(endpoint)
        except LookupError as unknown:
            problems.append(
                f"{endpoint.route} (name {endpoint.key!r}): parameter(s) {unknown} are not in "
                "tests/test_isolation.py PARAMS; add how to find organisation A's and B's value"
            )
            continue
        if kind == "api" and _normalise_route(endpoint.route) not in api_routes:
            problems.append(
                f"{endpoint.route} (name {endpoint.key!r}) is served under /api/ but is not an "
                "operation in the OpenAPI document; add it to PUBLIC with a reason or to the schema"
            )
        if kind == "public" and endpoint.params and not endpoint.key.startswith(("admin:", "api:")):
            problems.append(f"{endpoint.route}: a public page with parameters needs a review")
    for path, method, op in openapi_operations():
        for param in op.get("parameters", []):
            if param["in"] == "path" and param["name"] not in PARAMS:
                problems.append(
                    f"{method.upper()} {path}: path parameter {param['name']!r} is not in PARAMS"
                )
            known = PARAMS if param.get("required") else {**PARAMS, **FILTER_PARAMS}
            if (
                param["in"] == "query"
                and param["name"] not in known
                and (param.get("required") or param["name"] not in NEUTRAL_QUERY)
            ):
                problems.append(
                    f"{method.upper()} {path}: query parameter {param['name']!r} is in none of "
                    "PARAMS, FILTER_PARAMS, NEUTRAL_QUERY"
                )
    assert not problems, "Endpoints the isolation test cannot check:\n" + "\n".join(problems)


def test_public_allowlist_has_no_stale_entries() -> None:
    keys = {e.key for e in all_endpoints()}
    assert set(PUBLIC) <= keys, f"PUBLIC names endpoints that no longer exist: {set(PUBLIC) - keys}"


def test_pages_deny_b_objects_and_show_no_b_data(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    before = snapshot(world_b)
    clients = {role: _session(world_a.users[role]) for role in ROLES}
    failures: list[str] = []
    checked = 0
    pages = [e for e in all_endpoints() if not e.is_api and not e.route.startswith("admin/")]
    for endpoint in pages:
        kind = classify(endpoint)
        if kind == "public":
            continue
        if kind == "object":
            a_kwargs, b_kwargs = (
                endpoint_kwargs(endpoint, world_a),
                endpoint_kwargs(endpoint, world_b),
            )
            for kwargs, role in itertools.product(_mixed_kwargs(a_kwargs, b_kwargs), ROLES):
                url = reverse(endpoint.name, kwargs=kwargs)
                # Pages do not declare their methods: both are tried. 405 means the view
                # refused the method before reading anything, but one must answer 404/403.
                statuses = {m: getattr(clients[role], m)(url).status_code for m in ("get", "post")}
                checked += 1
                wrong = {m: s for m, s in statuses.items() if s not in DENIED | {405}}
                if wrong or set(statuses.values()) == {405}:
                    failures.append(f"{url} as A's {role}: {statuses}, expected 404/403")
            _check_own_page(endpoint, reverse(endpoint.name, kwargs=a_kwargs), clients, failures)
        else:
            for url in _plain_urls(endpoint):
                _check_own_page(endpoint, url, clients, failures)
    assert not failures, "Organisation A reached B's pages:\n" + "\n".join(failures)
    _assert_b_untouched_and_no_cross_links(world_b, before)
    assert checked, "no parameterised page was checked"


def _plain_urls(endpoint: Endpoint) -> list[str]:
    if endpoint.params:
        values = [STATIC_PARAMS[p] for p in endpoint.params]
        return [
            reverse(endpoint.name, kwargs=dict(zip(endpoint.params, combo, strict=True)))
            for combo in itertools.product(*values)
        ]
    base = reverse(endpoint.name)
    extra = EXTRA_QUERIES.get(endpoint.key, [])
    from urllib.parse import urlencode

    return [base] + [f"{base}?{urlencode(q)}" for q in extra]


def _check_own_page(
    endpoint: Endpoint, url: str, clients: dict[str, Client], failures: list[str]
) -> None:
    """A's own page (or a page without parameters) must not show any of B's data."""
    reachable = False
    for role, client in clients.items():
        response = client.get(url)
        if response.status_code < 400 or response.status_code == 405:
            reachable = True
        # File downloads (answers' attachments) stream their body.
        body = (
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False) else response.content
        )
        if _leaks(body):
            failures.append(f"GET {url} as A's {role} shows B's data ({B_MARK})")
    if not reachable and endpoint.params and classify(endpoint) == "object":
        failures.append(
            f"GET {url} with A's own values answers an error to every role of A, so the 404 "
            "for B's values proves nothing; fix the values in PARAMS"
        )


def test_admin_denies_b_objects_and_lists_no_b_data(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    before = snapshot(world_b)
    client = _session(world_a.admin_user)
    failures: list[str] = []
    for endpoint in [e for e in all_endpoints() if e.route.startswith("admin/")]:
        kind = classify(endpoint)
        if kind == "public":
            continue
        if kind == "object":
            b_kwargs = endpoint_kwargs(endpoint, world_b)
            a_kwargs = endpoint_kwargs(endpoint, world_a)
            if endpoint.name is None:
                # The admin's bare "<object_id>/" redirect to the change page.
                changelist = reverse(
                    f"admin:{endpoint.model_admin.opts.app_label}_"
                    f"{endpoint.model_admin.opts.model_name}_changelist"
                )
                b_url, a_url = f"{changelist}{b_kwargs['object_id']}/", None
            else:
                b_url, a_url = (
                    reverse(endpoint.name, kwargs=b_kwargs),
                    reverse(endpoint.name, kwargs=a_kwargs),
                )
            for method in ("get", "post"):
                response = getattr(client, method)(b_url, follow=True)
                if response.status_code not in DENIED:
                    failures.append(
                        f"{method.upper()} {b_url}: {response.status_code}, expected 404/403"
                    )
            if a_url is not None and _leaks(client.get(a_url).content):
                failures.append(f"GET {a_url} (A's own object) shows B's data")
        else:
            for url in _plain_urls(endpoint):
                response = client.get(url)
                if _leaks(response.content):
                    failures.append(f"GET {url} shows B's data ({B_MARK})")
    # Bulk actions take ids in the body: B's ids must select nothing.
    for model in admin_site._registry:
        obj = world_b.object_for(model)
        if obj is None:
            failures.append(f"factories.World has no example {model.__name__} for the admin check")
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        client.post(url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert not failures, "Organisation A's staff reached B in the admin:\n" + "\n".join(failures)
    _assert_b_untouched_and_no_cross_links(world_b, before)


# --- API --------------------------------------------------------------------------------


def _example(
    schema: dict[str, Any], components: dict[str, Any], pick: Picker, name: str = ""
) -> Any:
    """A body for a schema; fields named in PARAMS get the value of the world `pick` names."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components, pick, name)
    if name in PARAMS:
        return PARAMS[name](pick(name))
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], components, pick, name) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            prop: _example(sub, components, pick, prop)
            for prop, sub in schema.get("properties", {}).items()
            if prop in schema.get("required", []) or prop in PARAMS
        }
    if kind == "array":
        item = _example(schema.get("items", {}), components, pick, name.removesuffix("s"))
        return [item]
    fmt = schema.get("format")
    if kind == "string":
        return {
            "date": "2026-04-06",
            "date-time": "2026-04-06T10:00:00Z",
            "time": "10:00",
            "email": "x@example.com",
        }.get(fmt or "", "x")
    return {"integer": 1, "number": 1, "boolean": False}.get(kind or "", "x")


def _filter_names(op: dict[str, Any]) -> list[str]:
    return [
        p["name"]
        for p in op.get("parameters", [])
        if p["in"] == "query" and not p.get("required") and p["name"] in FILTER_PARAMS
    ]


def _param_names(op: dict[str, Any]) -> list[str]:
    """Path parameters and the query parameters that name an object."""
    return [
        p["name"]
        for p in op.get("parameters", [])
        if p["in"] == "path" or (p["in"] == "query" and p["name"] in PARAMS)
    ]


def _values(op: dict[str, Any], world: World) -> dict[str, Any]:
    return {name: PARAMS[name](world) for name in _param_names(op)}


def _api_request(
    path: str,
    op: dict[str, Any],
    values: dict[str, Any],
    body_world: World | Picker,
) -> tuple[str, dict[str, Any], Any]:
    pick: Picker = body_world if callable(body_world) else (lambda _name: body_world)
    url = path
    query: dict[str, Any] = {}
    for param in op.get("parameters", []):
        name = param["name"]
        if param["in"] == "path":
            url = url.replace("{" + name + "}", str(values[name]))
        elif param["in"] == "query" and name in values:
            query[name] = values[name]
    body = None
    if "requestBody" in op:
        components = api.get_openapi_schema()["components"]["schemas"]
        op_id = op.get("operationId", "")
        if op_id in API_BODIES:
            body = API_BODIES[op_id](pick(""))
        else:
            content = op["requestBody"]["content"]
            schema = content.get("application/json", next(iter(content.values())))["schema"]
            body = _example(schema, components, pick)
    return url, query, body


def _call(
    client: Client, method: str, url: str, query: dict[str, Any], body: Any, headers: dict[str, str]
) -> Any:
    if query:
        from urllib.parse import urlencode

        url = f"{url}?{urlencode(query)}"
    if method == "get":
        return client.get(url, **headers)
    return getattr(client, method)(
        url,
        data="{}" if body is None else json.dumps(body),
        content_type="application/json",
        **headers,
    )


def _body_pickers(op: dict[str, Any], world_a: World, world_b: World) -> list[Picker]:
    if "requestBody" not in op:
        return []
    names: list[str] = []

    def record(name: str) -> World:
        names.append(name)
        return world_a

    _api_request("/", {**op, "parameters": []}, {}, record)
    pickers: list[Picker] = [lambda _n: world_b]
    for field_name in dict.fromkeys(n for n in names if n):
        pickers.append(lambda n, f=field_name: world_b if n == f else world_a)  # type: ignore[misc]
    return pickers


def _refers_to_objects(op: dict[str, Any]) -> bool:
    return bool(_param_names(op))


def test_api_denies_b_objects_and_lists_no_b_data(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    before = snapshot(world_b)
    failures: list[str] = []
    sessions = {role: _session(world_a.users[role]) for role in ROLES}
    auths: list[tuple[str, Client, dict[str, str]]] = []
    for role in ROLES:
        auths.append(
            (
                f"token of A's {role}",
                Client(),
                {"HTTP_AUTHORIZATION": f"Bearer {world_a.tokens[role]}"},
            )
        )
        auths.append((f"session of A's {role}", sessions[role], {}))
    operations = openapi_operations()
    # Reads first, then writes: a write with A's values may change what A's reads show.
    operations.sort(key=lambda o: o[1] != "get")
    for path, method, op in operations:
        if _refers_to_objects(op):
            for combo in _mixed_kwargs(_values(op, world_a), _values(op, world_b)):
                url, query, body = _api_request(path, op, combo, world_b)
                for label, client, headers in auths:
                    response = _call(client, method, url, query, body, headers)
                    if response.status_code not in DENIED:
                        hint = (
                            " (add a valid body to API_BODIES so the check reaches the view)"
                            if response.status_code == 422
                            else ""
                        )
                        failures.append(
                            f"{method.upper()} {url} {query or ''} as {label}: "
                            f"{response.status_code}, expected 404/403{hint}"
                        )
        if method == "get":
            url, query, _ = _api_request(path, op, _values(op, world_a), world_a)
            reachable = False
            for label, client, headers in auths:
                response = _call(client, method, url, query, None, headers)
                reachable |= response.status_code == 200
                if _leaks(response.content):
                    failures.append(f"GET {url} {query or ''} as {label} shows B's data")
            for name in _filter_names(op):
                filtered = {**query, name: FILTER_PARAMS[name](world_b)}
                for label, client, headers in auths:
                    response = _call(client, method, url, filtered, None, headers)
                    if response.status_code >= 500 or _leaks(response.content):
                        failures.append(
                            f"GET {url}?{name}=<B's value> as {label} shows B's data "
                            f"({response.status_code})"
                        )
            if not reachable:
                failures.append(
                    f"GET {url} {query or ''} answers an error to every role of A, so it shows "
                    "nothing; fix PARAMS so A's own values resolve"
                )
        else:
            # A write to A's own objects with B's ids in the body, all of them and one at a
            # time: whatever it answers, no row may end up linking A and B (checked below).
            for pick in _body_pickers(op, world_a, world_b):
                url, query, body = _api_request(path, op, _values(op, world_a), pick)
                for label, client, headers in auths[:2]:
                    response = _call(client, method, url, query, body, headers)
                    if response.status_code >= 500:
                        failures.append(
                            f"{method.upper()} {url} as {label}: {response.status_code}"
                        )
    assert not failures, "Organisation A reached B through the API:\n" + "\n".join(failures)
    _assert_b_untouched_and_no_cross_links(world_b, before)


def test_api_lists_with_a_token_never_return_b_rows(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    token = {"HTTP_AUTHORIZATION": f"Bearer {world_a.tokens[Role.ADMIN]}"}
    lists = [
        (path, op)
        for path, method, op in openapi_operations()
        if method == "get" and "{" not in path
    ]
    assert any(path == "/api/v1/me" for path, _ in lists)
    for path, op in lists:
        url, query, _ = _api_request(path, op, _values(op, world_a), world_a)
        response = _call(Client(), "get", url, query, None, token)
        assert not _leaks(response.content), f"GET {url} with A's token returned B's rows"
        if response.status_code == 200 and path != "/api/v1/me":
            assert world_b.organization.slug not in response.content.decode()


def test_registry_values_differ_between_organisations(worlds: tuple[World, World]) -> None:
    world_a, world_b = worlds
    same = {name for name, get in PARAMS.items() if get(world_a) == get(world_b)}
    # Day numbers repeat in every program; everything else must tell A from B.
    assert same == {"day_index", "index"}, same
    assert world_a.day.date != world_b.day.date
    assert dt.date.fromisoformat(PARAMS["date"](world_b)) == world_b.day.date
