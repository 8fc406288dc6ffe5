"""Answering and reviewing in Telegram, end to end through the fake Bot API: updates are
long-polled from it (getUpdates), files downloaded from it (getFile + /file/bot…), and
every reply is a real sendMessage it accepted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.utils import timezone

from fokus.core import clock
from fokus.core.models import Organization
from fokus.delivery.dispatch import delivery_dispatch_all
from fokus.delivery.models import Channel, Delivery, DeliveryKind, DeliveryStatus
from fokus.delivery.services import delivery_enqueue
from fokus.people.models import Person
from fokus.review import services
from fokus.review.models import Attempt, AttemptStatus, ReviewSettings, TelegramDialog
from fokus.review.tests.answer_factories import (
    AFTER_PROGRAM,
    DAY1_AFTERNOON,
    jpeg_with_gps,
    make_seed,
    png_bytes,
    submit,
)
from fokus.scoring.models import PointsEntry
from fokus.scoring.tests.factories import Seed
from fokus.telegram import services as telegram_services
from fokus.telegram.client import BadRequest, TelegramClient
from fokus.telegram.models import TelegramBot, TelegramChat, TelegramUpdate
from fokus.telegram.polling import poll_once
from fokus.telegram.testing import fixtures as telegram_fixtures
from fokus.telegram.testing.fake_bot_api import FakeBotApi, SentMessage

pytestmark = pytest.mark.usefixtures("media")
fake_bot_api = telegram_fixtures.fake_bot_api  # the running fake server, as `api` below

PARTICIPANT_CHAT = 810_001
LEAD_CHAT = 810_002
CURATOR_CHAT = 810_003


@pytest.fixture
def api(request: pytest.FixtureRequest) -> FakeBotApi:
    server: FakeBotApi = request.getfixturevalue("fake_bot_api")
    return server


@pytest.fixture
def bot(db: None, api: FakeBotApi) -> TelegramBot:
    found = telegram_services.telegram_bot_resolve(organization=None)
    assert found is not None
    return found


@pytest.fixture
def telegram(bot: TelegramBot) -> Iterator[TelegramClient]:
    with TelegramClient(bot.token) as client:
        yield client


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(DAY1_AFTERNOON):
        yield


def bind(bot: TelegramBot, person: Person, chat_id: int) -> None:
    """A linked chat; the person reads English (the replies are asserted as msgids)."""
    Person.objects.filter(pk=person.pk).update(language="en")
    person.language = "en"
    TelegramChat.objects.create(person=person, bot=bot, chat_id=chat_id, bound_at=timezone.now())


def poll(bot: TelegramBot, client: TelegramClient) -> list[str]:
    """Process everything the fake server holds; the outcomes, in order."""
    before = set(TelegramUpdate.objects.values_list("pk", flat=True))
    poll_once(bot, client, timeout=0)
    return list(
        TelegramUpdate.objects.exclude(pk__in=before).order_by("update_id")
        .values_list("outcome", flat=True)
    )


def texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [m.text for m in api.sent_to(chat_id)]


@pytest.fixture
def world(org_a: Organization, bot: TelegramBot) -> Seed:
    seed = make_seed(org_a)
    bind(bot, seed["c1"], PARTICIPANT_CHAT)
    bind(bot, seed["lead"], LEAD_CHAT)
    return seed


def test_two_photos_and_a_text_make_one_attempt_when_confirmed(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
    frozen: None,
) -> None:
    task = world.tasks[0]
    token = bot.token
    api.callback_query(token, PARTICIPANT_CHAT, f"rv:a:{task.pk}")
    api.user_photo(token, PARTICIPANT_CHAT, jpeg_with_gps(), media_group_id="g1")
    api.user_photo(token, PARTICIPANT_CHAT, png_bytes(), media_group_id="g1")
    api.user_message(token, PARTICIPANT_CHAT, "Клиенту предложил тест-драйв")
    assert poll(bot, telegram) == ["review:answering", "review:added", "review:added",
                                   "review:added"]
    # Still a draft: nothing reaches the curator before the participant confirms.
    draft = Attempt.objects.get(submission__person=world["c1"])
    assert draft.status == AttemptStatus.DRAFT
    assert not Delivery.objects.filter(kind=DeliveryKind.CURATOR).exists()
    api.callback_query(token, PARTICIPANT_CHAT, "rv:s")
    assert poll(bot, telegram) == ["review:submitted"]

    (attempt,) = Attempt.objects.filter(submission__person=world["c1"], submission__task=task)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.number == 1
    assert attempt.text == "Клиенту предложил тест-драйв"
    files = list(attempt.files.order_by("pk"))
    assert [f.content_type for f in files] == ["image/jpeg", "image/png"]
    from PIL import Image

    from fokus.review import files as answer_files

    with Image.open(answer_files.path_of(files[0].storage_name)) as image:
        assert 0x8825 not in image.getexif()  # no GPS directory
    assert len(api.answered_callbacks) == 2
    replies = texts(api, PARTICIPANT_CHAT)
    assert "You are answering “Задание 1.10”" in replies[0]
    assert "text, files: 2" in replies[3]
    assert "sent for review (attempt 1)" in replies[-1]
    assert not TelegramDialog.objects.filter(person=world["c1"]).exists()
    # The lead curator (bound) is told, with the task's scale and "Return" as buttons.
    notice = Delivery.objects.get(kind=DeliveryKind.CURATOR, person=world["lead"])
    assert notice.contact_point == f"review-new:{attempt.pk}"
    assert notice.channel == Channel.TELEGRAM
    assert notice.payload["buttons"][0] == [
        {"text": str(g), "callback_data": f"rv:g:{attempt.pk}:{g}"} for g in (1, 2, 3)
    ]
    assert notice.payload["buttons"][1] == [
        {"text": "Return for revision", "callback_data": f"rv:r:{attempt.pk}"}
    ]


def test_forged_oversized_and_empty_answers_are_refused_with_a_message(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
    frozen: None,
) -> None:
    token = bot.token
    api.callback_query(token, PARTICIPANT_CHAT, f"rv:a:{world.tasks[0].pk}")
    api.callback_query(token, PARTICIPANT_CHAT, "rv:s")  # nothing in it yet
    program = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
    api.user_document(token, PARTICIPANT_CHAT, program, file_name="отчёт.pdf",
                               mime_type="application/pdf")
    api.user_document(token, PARTICIPANT_CHAT, b"%PDF" + b"0" * (20 * 1024 * 1024),
                               file_name="huge.pdf", mime_type="application/pdf")
    assert poll(bot, telegram) == ["review:answering", "review:submit_refused",
                                   "review:refused", "review:refused"]
    replies = texts(api, PARTICIPANT_CHAT)
    assert "The answer is empty" in replies[1]
    assert "“отчёт.pdf” is not a file Fokus accepts" in replies[2]
    assert "“huge.pdf” is larger than 20 MB" in replies[3]
    draft = Attempt.objects.get(submission__person=world["c1"])
    assert draft.status == AttemptStatus.DRAFT and draft.files.count() == 0
    # The fake server keeps Telegram's own download limit as well.
    big = api.add_file(b"0" * (20 * 1024 * 1024 + 1))
    with pytest.raises(BadRequest, match="too big"):
        telegram.call(telegram.bot.get_file(big["file_id"]))
    # Cancel throws the draft away.
    api.user_message(token, PARTICIPANT_CHAT, "/cancel")
    assert poll(bot, telegram) == ["review:draft_discarded"]
    assert not Attempt.objects.filter(submission__person=world["c1"]).exists()


def test_a_reply_to_the_task_message_answers_that_task(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi, frozen: None,
) -> None:
    task = world.tasks[1]
    # The lesson goes out through the outbox; its row remembers the Telegram message id.
    lesson = delivery_enqueue(person=world["c1"], kind=DeliveryKind.LESSON,
                              contact_point="lesson:test", due_at=DAY1_AFTERNOON,
                              payload={"tasks": [task.pk]}, program=world.program)
    assert lesson is not None
    assert delivery_dispatch_all().sent == 1
    (sent,) = api.sent_to(PARTICIPANT_CHAT)
    api.user_message(bot.token, PARTICIPANT_CHAT, "Мой ответ ответом на сообщение",
                     reply_to_message_id=sent.message_id)
    api.user_message(bot.token, PARTICIPANT_CHAT, "/done")
    assert poll(bot, telegram) == ["review:added", "review:submitted"]
    attempt = Attempt.objects.get(submission__person=world["c1"])
    assert attempt.submission.task_id == task.pk
    assert (attempt.status, attempt.text) == ("submitted", "Мой ответ ответом на сообщение")
    # A reply to a message that is not one of hers maps to nothing: only a hint.
    api.user_message(bot.token, PARTICIPANT_CHAT, "ещё", reply_to_message_id=999_999)
    assert poll(bot, telegram) == ["review:hint"]


def pressed(message: SentMessage, text: str) -> str:
    """The callback data of the button labelled `text` on a message the bot sent."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    (data,) = [b["callback_data"] for row in rows for b in row
               if b["text"] == text and "callback_data" in b]
    return str(data)


def decide_in_telegram(
    bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi, data: str, feedback: str
) -> list[str]:
    api.callback_query(bot.token, LEAD_CHAT, data)
    api.user_message(bot.token, LEAD_CHAT, feedback)
    return poll(bot, telegram)


def test_the_lead_curator_grades_in_telegram_points_once_and_the_participant_is_told(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
    frozen: None,
) -> None:
    attempt = submit(world)
    # The new-answer notice reaches the lead curator's chat with the grade buttons.
    assert delivery_dispatch_all().sent == 1
    (notice_message,) = api.sent_to(LEAD_CHAT)
    assert "Консультант Иван answered “Задание 1.10”" in notice_message.text
    outcomes = decide_in_telegram(bot, telegram, api, pressed(notice_message, "2"),
                                  "Хорошо, но назовите цену")
    assert outcomes == ["review:grade_pressed", "review:graded"]
    attempt.refresh_from_db()
    assert (attempt.status, attempt.grade, attempt.feedback) == (
        "graded", 2, "Хорошо, но назовите цену")
    assert attempt.decided_by == world["lead"]
    entries = PointsEntry.objects.filter(person=world["c1"])
    assert entries.count() == 1
    assert entries.get().amount > 0
    toasts = [c.get("text") for c in api.answered_callbacks]
    assert toasts == ["Grade 2 of 3"]
    assert "Now write the feedback" in texts(api, LEAD_CHAT)[1]
    assert "Done: graded 2" in texts(api, LEAD_CHAT)[2]
    # Pressing again (an old message) decides nothing twice.
    api.callback_query(bot.token, LEAD_CHAT, f"rv:g:{attempt.pk}:3")
    assert poll(bot, telegram) == ["review:claim_refused"]
    assert "no longer awaiting review" in texts(api, LEAD_CHAT)[-1]
    assert PointsEntry.objects.filter(person=world["c1"]).count() == 1
    assert len(api.answered_callbacks) == 2
    # The participant's feedback notice is in the outbox, with a link to the answer.
    notice = Delivery.objects.get(person=world["c1"], kind=DeliveryKind.FEEDBACK)
    assert notice.contact_point.startswith(f"review-feedback:{attempt.pk}:")
    assert notice.channel == Channel.TELEGRAM
    assert "graded your answer to “Задание 1.10”: 2 of 3" in notice.payload["text"]
    assert "Хорошо, но назовите цену" in notice.payload["text"]
    assert notice.payload["buttons"][0][0]["url"].endswith(f"/tasks/{attempt.submission.task_id}/")
    # …and the dispatcher sends it to the participant's chat, with the link.
    assert delivery_dispatch_all().sent == 1
    notice.refresh_from_db()
    assert notice.status == DeliveryStatus.SENT
    (told,) = api.sent_to(PARTICIPANT_CHAT)
    assert "2 of 3" in told.text and "Хорошо, но назовите цену" in told.text
    rows = (told.reply_markup or {})["inline_keyboard"]
    assert rows[0][0]["url"] == notice.payload["buttons"][0][0]["url"]


def test_return_for_revision_then_the_participant_answers_again(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
    frozen: None,
) -> None:
    first = submit(world)
    outcomes = decide_in_telegram(bot, telegram, api, f"rv:r:{first.pk}",
                                  "Добавьте фото стенда")
    assert outcomes == ["review:return_pressed", "review:returned"]
    first.refresh_from_db()
    assert (first.status, first.feedback) == ("returned", "Добавьте фото стенда")
    notice = Delivery.objects.get(person=world["c1"], kind=DeliveryKind.FEEDBACK)
    again = notice.payload["buttons"][1][0]
    assert again == {"text": "Answer again", "callback_data": f"rv:a:{first.submission.task_id}"}
    # The lead's new-answer notice and the participant's feedback go out together.
    assert delivery_dispatch_all().sent == 2
    (told,) = api.sent_to(PARTICIPANT_CHAT)
    assert "returned your answer" in told.text
    api.callback_query(bot.token, PARTICIPANT_CHAT, pressed(told, "Answer again"))
    api.user_photo(bot.token, PARTICIPANT_CHAT, png_bytes())
    api.user_message(bot.token, PARTICIPANT_CHAT, "/done")
    assert poll(bot, telegram) == ["review:answering", "review:added", "review:submitted"]
    attempts = list(Attempt.objects.filter(submission=first.submission).order_by("number"))
    assert [(a.number, a.status) for a in attempts] == [(1, "returned"), (2, "submitted")]
    # A new attempt starts empty, as on the web; the photo is its content.
    assert attempts[1].text == "" and attempts[1].files.count() == 1


def test_a_claim_held_by_another_curator_is_said_and_kept(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
    frozen: None,
) -> None:
    attempt = submit(world)
    services.attempt_claim(attempt=attempt, curator=world["curator"])
    api.callback_query(bot.token, LEAD_CHAT, f"rv:g:{attempt.pk}:3")
    assert poll(bot, telegram) == ["review:claim_refused"]
    assert "Куратор Ксения is reviewing this answer" in texts(api, LEAD_CHAT)[0]
    assert "Куратор Ксения" in str(api.answered_callbacks[0].get("text"))
    attempt.refresh_from_db()
    assert attempt.claimed_by == world["curator"] and attempt.status == "submitted"


def test_another_organisation_cannot_act_on_answers_through_forged_buttons(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
    org_b: Organization, frozen: None,
) -> None:
    attempt = submit(world)
    other = make_seed(org_b, "other-marathon")
    bind(bot, other["lead"], 820_001)
    bind(bot, other["c1"], 820_002)
    token = bot.token
    api.callback_query(token, 820_001, f"rv:g:{attempt.pk}:3")
    api.callback_query(token, 820_001, f"rv:r:{attempt.pk}")
    api.user_message(token, 820_001, "Отлично!")  # no feedback step was opened
    api.callback_query(token, 820_002, f"rv:a:{world.tasks[0].pk}")
    api.callback_query(token, 820_002, "rv:s")
    # The free text: no feedback step is open and B's lead is not enrolled anywhere, so
    # it is not the review app's; the telegram app keeps it.
    assert poll(bot, telegram) == [
        "review:attempt_not_found", "review:attempt_not_found", "stored",
        "review:task_not_found", "review:nothing_to_submit",
    ]
    attempt.refresh_from_db()
    assert attempt.status == "submitted" and attempt.claimed_by is None
    assert not PointsEntry.objects.exists()
    assert not Attempt.objects.filter(submission__person=other["c1"]).exists()
    assert {c.get("text") for c in api.answered_callbacks[:2]} == {
        "This answer is not available."}
    # An unknown chat pressing a review button learns how to link, nothing else.
    api.callback_query(token, 899_999, f"rv:g:{attempt.pk}:3")
    assert poll(bot, telegram) == ["review:unknown_chat"]


def test_no_curator_notice_without_a_bound_chat(world: Seed, frozen: None) -> None:
    TelegramChat.objects.filter(person=world["lead"]).delete()
    attempt = submit(world)
    assert attempt.status == "submitted"
    assert not Delivery.objects.filter(kind=DeliveryKind.CURATOR).exists()


def test_late_answers_and_the_attempt_limit_follow_the_program_settings(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi,
) -> None:
    task = world.tasks[0]
    ReviewSettings.objects.filter(program=world.program).update(accept_late=False,
                                                                max_attempts=1)
    with clock.frozen_at(AFTER_PROGRAM):
        api.callback_query(bot.token, PARTICIPANT_CHAT, f"rv:a:{task.pk}")
        api.user_message(bot.token, PARTICIPANT_CHAT, "Поздний ответ")
        api.user_message(bot.token, PARTICIPANT_CHAT, "/done")
        assert poll(bot, telegram) == ["review:answering", "review:added",
                                       "review:submit_refused"]
        assert "late answers are not accepted" in texts(api, PARTICIPANT_CHAT)[-1]
        ReviewSettings.objects.filter(program=world.program).update(accept_late=True)
        api.user_message(bot.token, PARTICIPANT_CHAT, "/done")
        assert poll(bot, telegram) == ["review:submitted"]
        assert "It is marked late." in texts(api, PARTICIPANT_CHAT)[-1]
        attempt = Attempt.objects.get(submission__person=world["c1"])
        assert attempt.is_late and attempt.text == "Поздний ответ"
        # Graded on its only attempt: no "Return" button, and no second answer.
        services.attempt_grade(attempt=attempt, curator=world["lead"], grade=1,
                               feedback="Поздно, но засчитано")
        notice = Delivery.objects.get(contact_point=f"review-new:{attempt.pk}")
        assert all("rv:r:" not in b.get("callback_data", "")
                   for row in notice.payload["buttons"] for b in row)
        api.callback_query(bot.token, PARTICIPANT_CHAT, f"rv:a:{task.pk}")
        assert poll(bot, telegram) == ["review:answer_refused"]
        assert "already graded" in texts(api, PARTICIPANT_CHAT)[-1]


def broken_handler(*_args: object) -> str | None:
    raise RuntimeError("a bug in a handler")


def test_handlers_run_in_their_order_and_a_broken_one_still_answers_the_button(
    world: Seed, bot: TelegramBot, telegram: TelegramClient, api: FakeBotApi, frozen: None,
) -> None:
    here = f"{__name__}.broken_handler"
    review = "fokus.review.telegram_flows.telegram_review_handler"
    with override_settings(FOKUS_TELEGRAM_HANDLERS=[here, review]):
        api.callback_query(bot.token, PARTICIPANT_CHAT, f"rv:a:{world.tasks[0].pk}")
        assert poll(bot, telegram) == ["handler_failed"]
    assert len(api.answered_callbacks) == 1  # no spinning button
    assert not TelegramDialog.objects.exists()
    with override_settings(FOKUS_TELEGRAM_HANDLERS=[review, here]):
        api.callback_query(bot.token, PARTICIPANT_CHAT, f"rv:a:{world.tasks[0].pk}")
        api.callback_query(bot.token, PARTICIPANT_CHAT, "not-review:1")
        assert poll(bot, telegram) == ["review:answering", "handler_failed"]
    with override_settings(FOKUS_TELEGRAM_HANDLERS=[]):
        api.callback_query(bot.token, PARTICIPANT_CHAT, "rv:s")
        assert poll(bot, telegram) == ["callback:answered"]  # nobody's: acknowledged
    assert len(api.answered_callbacks) == 4
