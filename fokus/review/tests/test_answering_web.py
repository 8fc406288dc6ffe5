"""Answering on the web and over the API: the task page, Today's badges, the read-only
answer page, and /api/v1/answers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from fokus.core import clock
from fokus.core.services import api_token_create, organization_create
from fokus.review import services
from fokus.review.models import Attempt, AttemptStatus
from fokus.review.tests.answer_factories import (
    DAY1_AFTERNOON,
    client_for,
    jpeg_with_gps,
    make_seed,
    png_bytes,
    submit,
    upload,
)
from fokus.scoring.tests.factories import Seed

pytestmark = pytest.mark.usefixtures("media", "english")


def _url(seed: Seed, index: int = 0) -> str:
    return f"/tasks/{seed.tasks[index].pk}/"


def _text(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def test_task_page_shows_the_prompt_and_a_form_for_the_accepted_kinds(seed: Seed) -> None:
    with clock.frozen_at(DAY1_AFTERNOON):
        response = client_for(seed.users["c1"]).get(_url(seed))
    assert response.status_code == 200
    html = response.content.decode()
    assert seed.tasks[0].title in html
    assert 'name="text"' in html and 'name="link"' in html
    assert 'type="file"' in html and 'enctype="multipart/form-data"' in html
    assert "3 attempts of 3 left" in _text(response.content)
    assert "<script>" not in html and ' style="' not in html, "CSP: no inline script or style"


def test_a_photo_only_task_offers_the_camera(seed: Seed) -> None:
    task = seed.tasks[0]
    task.answer_kinds = "photo"
    task.save()
    with clock.frozen_at(DAY1_AFTERNOON):
        html = client_for(seed.users["c1"]).get(_url(seed)).content.decode()
    assert 'accept="image/*" capture="environment"' in html
    assert 'name="text"' not in html


def test_draft_then_submit_on_the_web(seed: Seed) -> None:
    client = client_for(seed.users["c1"])
    with clock.frozen_at(DAY1_AFTERNOON):
        saved = client.post(_url(seed), {"text": "Черновик", "action": "draft"})
        assert saved.status_code == 302
        page = client.get(_url(seed))
        assert "Черновик" in page.content.decode() and "Draft saved" in _text(page.content)
        sent = client.post(
            _url(seed),
            {"text": "Готово", "action": "submit",
             "files": [upload("IMG_1.jpg", jpeg_with_gps(), "image/jpeg")]},
        )
        assert sent.status_code == 302
        page = client.get(_url(seed))
    attempt = Attempt.objects.get(submission__person=seed["c1"])
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.text == "Готово"
    assert attempt.files.count() == 1
    text = _text(page.content)
    assert "Awaiting review" in text and "Your answer is sent for review." in text
    assert 'name="text"' not in page.content.decode(), "no form while the answer awaits review"
    assert f"/answers/files/{attempt.files.get().pk}/" in page.content.decode()


def test_a_refused_answer_keeps_what_was_typed_and_names_the_file(seed: Seed) -> None:
    client = client_for(seed.users["c1"])
    with clock.frozen_at(DAY1_AFTERNOON):
        response = client.post(
            _url(seed),
            {"text": "Мой длинный ответ", "action": "submit",
             "files": [upload("scan.jpg", b"MZ\x90\x00 not a photo")]},
        )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Мой длинный ответ" in html
    assert "“scan.jpg” is not a file Fokus accepts" in _text(response.content)
    assert not Attempt.objects.exists()


def test_after_a_return_the_participant_sees_feedback_and_answers_again(seed: Seed) -> None:
    first = submit(seed, text="Первая")
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_return_for_revision(attempt=first, curator=seed["curator"],
                                             feedback="Добавьте цифры")
    client = client_for(seed.users["c1"])
    with clock.frozen_at(DAY1_AFTERNOON):
        page = client.get(_url(seed))
        text = _text(page.content)
        assert "Returned for revision" in text and "Добавьте цифры" in text
        assert "Answer again" in text and "2 attempts of 3 left" in text
        today = client.get("/")
        assert "Returned for revision" in _text(today.content)
        assert f'href="{_url(seed)}"' in today.content.decode()
        client.post(_url(seed), {"text": "Вторая, с цифрами", "action": "submit"})
        services.attempt_grade(attempt=Attempt.objects.get(number=2), curator=seed["curator"],
                               grade=3, feedback="Отлично")
        page = client.get(_url(seed))
        today = client.get("/")
    text = _text(page.content)
    assert "Graded: 3 of 3" in text and "Отлично" in text and "Добавьте цифры" in text
    assert "Graded: 3 of 3" in _text(today.content)


def test_a_late_answer_is_announced_and_marked(seed: Seed) -> None:
    late_time = dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)
    client = client_for(seed.users["c1"])
    with clock.frozen_at(late_time):
        page = client.get(_url(seed))
        assert "will be accepted and marked late" in _text(page.content)
        client.post(_url(seed), {"text": "Поздно", "action": "submit"})
        page = client.get(_url(seed))
    assert "late" in _text(page.content)
    assert Attempt.objects.get().is_late


def test_pages_of_a_task_not_open_yet_and_of_someone_else(seed: Seed) -> None:
    before = dt.datetime(2026, 11, 22, 20, 0, tzinfo=dt.UTC)
    with clock.frozen_at(before):
        page = client_for(seed.users["c1"]).get(_url(seed))
    assert page.status_code == 200 and "This task opens on" in _text(page.content)
    assert 'name="text"' not in page.content.decode()
    # Not enrolled in the consultants' track: the task is not theirs to answer.
    with clock.frozen_at(DAY1_AFTERNOON):
        assert client_for(seed.users["outsider"]).get(_url(seed)).status_code == 404
        assert client_for(seed.users["outsider"]).post(
            _url(seed), {"text": "x"}).status_code == 404
    other = make_seed(organization_create(slug="other", name="Другая"), slug="other")
    with clock.frozen_at(DAY1_AFTERNOON):
        assert client_for(other.users["c1"]).get(_url(seed)).status_code == 404


def test_answer_page_read_only_for_managers_and_curators(seed: Seed) -> None:
    attempt = submit(seed, text="Ответ Ивана")
    url = f"/answers/{attempt.submission_id}/"
    for who in ("c1", "senior", "boss", "curator", "admin"):
        response = client_for(seed.users[who]).get(url)
        assert response.status_code == 200, who
        assert "Ответ Ивана" in response.content.decode()
        assert "<form method=\"post\" enctype" not in response.content.decode()
    for who in ("c2", "peer", "viewer"):
        assert client_for(seed.users[who]).get(url).status_code == 404, who
    other = make_seed(organization_create(slug="other", name="Другая"), slug="other")
    for who in ("curator", "admin"):
        assert client_for(other.users[who]).get(url).status_code == 404, f"other org's {who}"
    assert client_for(seed.users["senior"]).post(url).status_code == 405


# --- the API -----------------------------------------------------------------------------


def _api() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _token(seed: Seed, who: str) -> dict[str, Any]:
    _t, key = api_token_create(organization=seed.organization, user=seed.users[who], name=who)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_api_post_an_attempt_then_read_it(seed: Seed) -> None:
    headers = _token(seed, "c1")
    url = f"/api/v1/answers/tasks/{seed.tasks[0].pk}/attempts"
    with clock.frozen_at(DAY1_AFTERNOON):
        draft = _api().post(url, {"text": "Черновик", "action": "draft"}, **headers)
        assert draft.status_code == 201, draft.content
        assert draft.json()["status"] == "draft"
        sent = _api().post(
            url, {"text": "Ответ", "files": [upload("p.png", png_bytes())]}, **headers
        )
    assert sent.status_code == 201, sent.content
    body = sent.json()
    assert body["status"] == "submitted" and body["number"] == 1
    assert body["files"][0]["name"] == "p.png" and body["files"][0]["content_type"] == "image/png"
    mine = _api().get("/api/v1/answers", **headers).json()
    assert [s["task_id"] for s in mine] == [seed.tasks[0].pk]
    one = _api().get(f"/api/v1/answers/{mine[0]['id']}", **headers)
    assert one.status_code == 200 and one.json()["attempts"][0]["text"] == "Ответ"


def test_api_refusals_name_the_field(seed: Seed) -> None:
    headers = _token(seed, "c1")
    url = f"/api/v1/answers/tasks/{seed.tasks[0].pk}/attempts"
    with clock.frozen_at(DAY1_AFTERNOON):
        bad = _api().post(url, {"link": "not a url"}, **headers)
        empty = _api().post(url, {}, **headers)
        foreign = _api().post(url, {"text": "x"}, **_token(seed, "outsider"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "link"
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    assert foreign.status_code == 404


def test_api_answers_of_others_follow_the_permission_matrix(seed: Seed) -> None:
    attempt = submit(seed)
    url = f"/api/v1/answers/{attempt.submission_id}"
    for who in ("c1", "senior", "curator", "admin"):
        assert _api().get(url, **_token(seed, who)).status_code == 200, who
    for who in ("c2", "peer", "viewer"):
        assert _api().get(url, **_token(seed, who)).status_code == 404, who
    assert _api().get("/api/v1/answers", **_token(seed, "c2")).json() == []


def test_todays_polling_fragment_carries_the_answer_state(seed: Seed) -> None:
    submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        fragment = client_for(seed.users["c1"]).get("/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert "Awaiting review" in _text(fragment.content)
