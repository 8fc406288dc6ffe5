"""Answering tasks and reviewing answers in Telegram (docs/review.md, "In Telegram").

`telegram_review_handler` is listed in settings.FOKUS_TELEGRAM_HANDLERS; the telegram
app calls it for every message and button press that is not /start. It only routes:
drafts, submission, claims and decisions go through fokus.review.services, exactly as
on the web, so the same rules (task kinds, files, late answers, attempts, claims,
mandatory feedback, points once) hold.

Participant: "Answer" under a task (callback `rv:a:<task>`) or a reply to the task
message starts collecting; text, photos and documents then add to one draft, until
"Submit" (`rv:s`, or /done) or "Cancel" (`rv:c`, or /cancel, which discards the draft).

Curator: the new-answer notice carries `rv:g:<attempt>:<grade>` and `rv:r:<attempt>`;
pressing one claims the attempt, and the curator's next text is the feedback that
makes the decision. Every id in callback data is looked up within the presser's own
organisation: forged data about another organisation's answer finds nothing.

Where each person stands is a TelegramDialog row (so it survives restarts and works
across web and worker processes).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from fokus.core import clock
from fokus.delivery.models import Channel, Delivery
from fokus.delivery.rendering import TASK_ANSWER_CALLBACK
from fokus.people.models import Person
from fokus.programs.models import AnswerKind, Enrollment, EnrollmentStatus, Task
from fokus.review import files as answer_files
from fokus.review import services
from fokus.review.errors import ClaimConflict, FileRefused, ReviewError
from fokus.review.models import (
    Attempt,
    AttemptStatus,
    Submission,
    TelegramDialog,
    TelegramDialogStep,
)
from fokus.telegram.client import BadRequest, Button, TelegramClient
from fokus.telegram.models import TelegramBot, TelegramChat, TelegramUpdate
from fokus.telegram.updates import answer_callback, reply

logger = logging.getLogger(__name__)

ANSWER = TASK_ANSWER_CALLBACK
SUBMIT = "rv:s"
CANCEL = "rv:c"
GRADE = "rv:g:"
RETURN = "rv:r:"
_URL = re.compile(r"^https?://\S+$")


# --- entry ---------------------------------------------------------------------------------


def telegram_review_handler(
    update: TelegramUpdate, payload: dict[str, Any], bot: TelegramBot, client: TelegramClient
) -> str | None:
    """Act on a review button or a message of a bound person; None when not ours."""
    query = payload.get("callback_query")
    if isinstance(query, dict):
        data = str(query.get("data") or "")
        if not data.startswith("rv:"):
            return None
        chat_id = _chat_id(query.get("message") or {}) or _int((query.get("from") or {}).get("id"))
        person = _person_of(bot, chat_id)
        with translation.override(_language(person, query.get("from") or {})):
            if person is None or chat_id is None:
                answer_callback(client, query, _("Link your Telegram to Fokus first: open the "
                                                 "personal link from your Fokus profile."))
                return "review:unknown_chat"
            flow = _Flow(bot=bot, client=client, person=person, chat_id=chat_id)
            return flow.button(data, query)
    message = payload.get("message")
    if not isinstance(message, dict) or (message.get("chat") or {}).get("type") != "private":
        return None
    chat_id = _chat_id(message)
    person = _person_of(bot, chat_id)
    if person is None or chat_id is None:
        return None
    with translation.override(_language(person, message.get("from") or {})):
        flow = _Flow(bot=bot, client=client, person=person, chat_id=chat_id)
        return flow.message(message)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _chat_id(message: dict[str, Any]) -> int | None:
    return _int((message.get("chat") or {}).get("id"))


def _person_of(bot: TelegramBot, chat_id: int | None) -> Person | None:
    if chat_id is None:
        return None
    chat = (
        TelegramChat.objects.filter(bot=bot, chat_id=chat_id, person__is_active=True)
        .select_related("person")
        .order_by("-bound_at")
        .first()
    )
    return chat.person if chat is not None else None


def _language(person: Person | None, from_user: dict[str, Any]) -> str:
    if person is not None and person.language:
        return services.person_language(person)
    known = {code for code, _name in settings.LANGUAGES}
    code = str(from_user.get("language_code") or "")[:2]
    return code if code in known else settings.LANGUAGE_CODE


@dataclass(frozen=True)
class _TelegramFile:
    """A downloaded file in the shape review.files checks (Django's UploadedFile's)."""

    name: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self, chunk_size: int | None = None) -> Iterable[bytes]:
        yield self.data


# --- the conversation ----------------------------------------------------------------------


@dataclass
class _Flow:
    bot: TelegramBot
    client: TelegramClient
    person: Person
    chat_id: int

    # -- plumbing --

    def say(self, text: str, buttons: Sequence[Sequence[Button]] = ()) -> None:
        reply(self.bot, self.chat_id, text, self.client, buttons=buttons)

    def dialog(self) -> TelegramDialog | None:
        return TelegramDialog.objects.filter(person=self.person).first()

    def set_dialog(self, step: str, *, task: Task | None = None, attempt: Attempt | None = None,
                   decision: str = "", grade: int | None = None) -> None:
        TelegramDialog.objects.update_or_create(
            person=self.person,
            defaults={"step": step, "task": task, "attempt": attempt, "decision": decision,
                      "grade": grade, "updated_at": clock.now()},
        )

    def end_dialog(self) -> None:
        TelegramDialog.objects.filter(person=self.person).delete()

    def task(self, task_id: int | None) -> Task | None:
        if task_id is None:
            return None
        return (
            Task.objects.filter(pk=task_id,
                                track__program__organization_id=self.person.organization_id)
            .select_related("track__program", "day", "slot")
            .first()
        )

    # -- button presses --

    def button(self, data: str, query: dict[str, Any]) -> str:
        if data.startswith(ANSWER):
            task = self.task(_int(data.removeprefix(ANSWER)))
            if task is None:
                answer_callback(self.client, query, _("This task is not available."))
                return "review:task_not_found"
            answer_callback(self.client, query)
            return self.start_answer(task)
        if data == SUBMIT:
            answer_callback(self.client, query)
            return self.submit()
        if data == CANCEL:
            answer_callback(self.client, query)
            return self.cancel()
        if data.startswith(GRADE):
            attempt_part, _sep, grade_part = data.removeprefix(GRADE).partition(":")
            grade = _int(grade_part)
            return self.decision_pressed(query, _int(attempt_part), "grade", grade)
        if data.startswith(RETURN):
            return self.decision_pressed(query, _int(data.removeprefix(RETURN)), "return", None)
        answer_callback(self.client, query)
        return "review:unknown_button"

    # -- messages --

    def message(self, message: dict[str, Any]) -> str | None:
        text = str(message.get("text") or "").strip()
        command = text.split(maxsplit=1)[0].split("@", 1)[0].lower() if text.startswith("/") else ""
        if command == "/done":
            return self.submit()
        if command == "/cancel":
            return self.cancel()
        if command:
            return None  # other commands belong to other handlers
        replied = message.get("reply_to_message")
        if isinstance(replied, dict) and _int(replied.get("message_id")) is not None:
            tasks = self.tasks_of_message(int(replied["message_id"]))
            if len(tasks) == 1:
                return self.add(tasks[0], message, started=True)
            if len(tasks) > 1:
                self.say(_("Which task is this answer for? Press it, then send the answer "
                           "again."),
                         [[Button(t.title[:60], callback_data=f"{ANSWER}{t.pk}")] for t in tasks])
                return "review:which_task"
        dialog = self.dialog()
        if dialog is not None and dialog.step == TelegramDialogStep.FEEDBACK:
            return self.feedback(dialog, message)
        if dialog is not None and dialog.step == TelegramDialogStep.ANSWERING:
            task = self.task(dialog.task_id)
            if task is not None:
                return self.add(task, message, started=False)
        if not Enrollment.objects.filter(person=self.person,
                                         status=EnrollmentStatus.ACTIVE).exists():
            return None  # not a participant: maybe another handler's
        self.say(_("To answer a task, press “Answer” under it or reply to the task message."))
        return "review:hint"

    def tasks_of_message(self, message_id: int) -> list[Task]:
        """The tasks of one of our messages to this person (a lesson, a feedback notice),
        found through the outbox row that sent it."""
        key = str(message_id)
        deliveries = Delivery.objects.filter(
            person=self.person, channel=Channel.TELEGRAM
        ).filter(
            Q(provider_message_id=key) | Q(provider_message_id__startswith=f"{key},")
            | Q(provider_message_id__endswith=f",{key}")
            | Q(provider_message_id__contains=f",{key},")
        )
        ids: list[int] = []
        for delivery in deliveries.order_by("-pk")[:5]:
            payload = delivery.payload if isinstance(delivery.payload, dict) else {}
            # A lesson names its tasks as "tasks" (docs/delivery.md); review's own
            # notices carry "task_ids".
            values = payload.get("tasks") or payload.get("task_ids") or [payload.get("task_id")]
            for value in values if isinstance(values, list) else []:
                task_id = _int(value)
                if task_id is not None and task_id not in ids:
                    ids.append(task_id)
        return [t for t in (self.task(i) for i in ids) if t is not None]

    # -- the participant's answer --

    def draft(self, task: Task) -> Attempt | None:
        return Attempt.objects.filter(
            submission__person=self.person, submission__task=task, status=AttemptStatus.DRAFT
        ).first()

    def start_answer(self, task: Task) -> str:
        draft = self.draft(task)
        try:
            # Opens (or keeps) the draft, so "awaiting review", "no attempts left" and a
            # task that has not opened yet are said now, not after the photos.
            services.attempt_save_draft(
                person=self.person, task=task, text=draft.text if draft else "",
                link=draft.link if draft else "", files=[],
            )
        except ReviewError as error:
            self.say(error.message)
            return "review:answer_refused"
        self.set_dialog(TelegramDialogStep.ANSWERING, task=task)
        self.say(
            _("You are answering “%(task)s”. Send text, photos or documents, in as many "
              "messages as you like; then press “Submit” (or send /done). “Cancel” discards "
              "the draft.") % {"task": task.title},
            self.answer_buttons(),
        )
        return "review:answering"

    def answer_buttons(self) -> list[list[Button]]:
        return [[Button(_("Submit"), callback_data=SUBMIT),
                 Button(_("Cancel"), callback_data=CANCEL)]]

    def add(self, task: Task, message: dict[str, Any], *, started: bool) -> str:
        if started:
            self.set_dialog(TelegramDialogStep.ANSWERING, task=task)
        text = str(message.get("text") or message.get("caption") or "").strip()
        has_media = any(k in message for k in ("photo", "document"))
        if not text and not has_media:
            self.say(_("This kind of message cannot be part of an answer: send text, photos "
                       "or documents."))
            return "review:unsupported"
        draft = self.draft(task)
        old_text = draft.text if draft else ""
        link = draft.link if draft else ""
        kinds = set(task.answer_kind_list)
        if text:
            takes_link = AnswerKind.LINK in kinds
            if takes_link and not link and _URL.match(text) and (
                AnswerKind.TEXT not in kinds or not old_text
            ):
                link = text
            else:
                old_text = f"{old_text}\n\n{text}" if old_text else text
        try:
            uploads = self.downloads(message)
            attempt = services.attempt_save_draft(
                person=self.person, task=task, text=old_text, link=link, files=uploads
            )
        except ReviewError as error:
            self.say(error.message, self.answer_buttons())
            return "review:refused"
        files = attempt.files.count()
        self.say(
            _("Added to your answer to “%(task)s” (%(summary)s). Send more, or press "
              "“Submit”.") % {"task": task.title, "summary": _summary(attempt, files)},
            self.answer_buttons(),
        )
        return "review:added"

    def downloads(self, message: dict[str, Any]) -> list[_TelegramFile]:
        found: dict[str, Any] | None = None
        name = ""
        if isinstance(message.get("photo"), list) and message["photo"]:
            found = max(message["photo"], key=lambda size: (
                _int(size.get("file_size")) or 0, _int(size.get("width")) or 0))
            name = f"photo-{message.get('message_id', 0)}.jpg"
        elif isinstance(message.get("document"), dict):
            found = message["document"]
            name = str(found.get("file_name") or f"file-{message.get('message_id', 0)}")
        if found is None:
            return []
        name = name[:answer_files.MAX_NAME]
        size = _int(found.get("file_size")) or 0
        if size > answer_files.MAX_FILE_BYTES:
            raise FileRefused(_too_large(name))
        try:
            telegram_file = self.client.call(self.client.bot.get_file(str(found["file_id"])))
            data = bytes(self.client.call(telegram_file.download_as_bytearray()))
        except BadRequest as error:
            if "too big" in str(error).lower():
                raise FileRefused(_too_large(name)) from error
            raise
        return [_TelegramFile(name=name, data=data)]

    def submit(self) -> str:
        dialog = self.dialog()
        task = self.task(dialog.task_id) if dialog and dialog.step == "answering" else None
        draft = self.draft(task) if task is not None else None
        if task is None or draft is None:
            self.say(_("There is no answer to submit. Press “Answer” under a task first."))
            return "review:nothing_to_submit"
        try:
            attempt = services.attempt_submit(
                person=self.person, task=task, text=draft.text, link=draft.link, files=[]
            )
        except ReviewError as error:
            self.say(error.message, self.answer_buttons())
            return "review:submit_refused"
        self.end_dialog()
        late = " " + _("It is marked late.") if attempt.is_late else ""
        self.say(_("Your answer to “%(task)s” is sent for review (attempt %(number)s). You "
                   "will get the curator's feedback here.") % {"task": task.title,
                                                              "number": attempt.number} + late)
        return "review:submitted"

    def cancel(self) -> str:
        dialog = self.dialog()
        if dialog is None:
            self.say(_("Nothing to cancel."))
            return "review:nothing_to_cancel"
        if dialog.step == TelegramDialogStep.FEEDBACK and dialog.attempt_id is not None:
            attempt = Attempt.objects.filter(pk=dialog.attempt_id).first()
            if attempt is not None:
                services.attempt_release(attempt=attempt, curator=self.person)
            self.end_dialog()
            self.say(_("Cancelled: the answer is back in the queue."))
            return "review:feedback_cancelled"
        task = self.task(dialog.task_id)
        if task is not None:
            draft_discard(person=self.person, task=task)
        self.end_dialog()
        self.say(_("Cancelled: the draft is discarded."))
        return "review:draft_discarded"

    # -- the curator's decision --

    def decision_pressed(
        self, query: dict[str, Any], attempt_id: int | None, decision: str, grade: int | None
    ) -> str:
        attempt = (
            Attempt.objects.filter(pk=attempt_id, organization_id=self.person.organization_id)
            .select_related("submission__task", "submission__person", "submission__program")
            .first()
            if attempt_id is not None else None
        )
        if attempt is None:
            answer_callback(self.client, query, _("This answer is not available."))
            return "review:attempt_not_found"
        task = attempt.submission.task
        if decision == "grade" and (grade is None or not 1 <= grade <= task.grade_max):
            answer_callback(self.client, query, _("The grade must be a whole number from 1 to "
                                                  "%(max)s.") % {"max": task.grade_max})
            return "review:bad_grade"
        if decision == "return":
            settings_ = services.review_settings_of(attempt.submission.program)
            if attempt.number >= settings_.max_attempts:
                message = _("This is the participant's last attempt (%(number)s of %(max)s): "
                            "grade it instead of returning it.") % {
                    "number": attempt.number, "max": settings_.max_attempts}
                answer_callback(self.client, query, message)
                self.say(message)
                return "review:return_refused"
        try:
            services.attempt_claim(attempt=attempt, curator=self.person)
        except ReviewError as error:
            answer_callback(self.client, query, error.message)
            self.say(error.message)
            return "review:claim_refused"
        previous = self.dialog()
        if (previous is not None and previous.step == TelegramDialogStep.FEEDBACK
                and previous.attempt_id not in (None, attempt.pk)):
            held = Attempt.objects.filter(pk=previous.attempt_id).first()
            if held is not None:
                services.attempt_release(attempt=held, curator=self.person)
        self.set_dialog(TelegramDialogStep.FEEDBACK, attempt=attempt, decision=decision,
                        grade=grade)
        who = {"person": attempt.submission.person.full_name, "task": task.title}
        if decision == "grade":
            chosen = _("Grade %(grade)s of %(max)s") % {"grade": grade, "max": task.grade_max}
        else:
            chosen = _("Return for revision")
        answer_callback(self.client, query, chosen)
        self.say(
            _("%(decision)s: %(person)s, “%(task)s”. Now write the feedback for the "
              "participant in one message (/cancel to stop).") % {"decision": chosen, **who}
        )
        return f"review:{decision}_pressed"

    def feedback(self, dialog: TelegramDialog, message: dict[str, Any]) -> str:
        text = str(message.get("text") or "").strip()
        attempt = Attempt.objects.filter(
            pk=dialog.attempt_id or 0, organization_id=self.person.organization_id
        ).first()
        if attempt is None:
            self.end_dialog()
            return "review:attempt_gone"
        if not text:
            self.say(_("Write the feedback as a text message (/cancel to stop)."))
            return "review:feedback_missing"
        try:
            if dialog.decision == "grade" and dialog.grade is not None:
                decided = services.attempt_grade(
                    attempt=attempt, curator=self.person, grade=dialog.grade, feedback=text
                )
            else:
                decided = services.attempt_return_for_revision(
                    attempt=attempt, curator=self.person, feedback=text
                )
        except ClaimConflict as error:
            self.end_dialog()
            self.say(error.message)
            return "review:decision_conflict"
        except ReviewError as error:
            self.say(error.message)
            return "review:decision_refused"
        self.end_dialog()
        if decided.status == AttemptStatus.GRADED:
            self.say(_("Done: graded %(grade)s. The participant gets your feedback.")
                     % {"grade": decided.grade})
            return "review:graded"
        self.say(_("Done: returned for revision. The participant gets your feedback."))
        return "review:returned"


def _too_large(name: str) -> str:
    return _("“%(name)s” is larger than %(mb)s MB.") % {
        "name": name, "mb": answer_files.MAX_FILE_BYTES // (1024 * 1024)}


def _summary(attempt: Attempt, files: int) -> str:
    parts = []
    if attempt.text:
        parts.append(_("text"))
    if attempt.link:
        parts.append(_("a link"))
    if files:
        parts.append(_("files: %(count)s") % {"count": files})
    return ", ".join(parts) or _("empty")


@transaction.atomic
def draft_discard(*, person: Person, task: Task) -> bool:
    """Throw away the person's draft of `task` with its files (Telegram's "Cancel").

    Submitted, returned and graded attempts are never touched; the submission goes back
    to the state of its latest remaining attempt, or away when the draft was its only one.
    """
    submission = Submission.objects.select_for_update().filter(person=person, task=task).first()
    if submission is None:
        return False
    draft = submission.attempts.filter(status=AttemptStatus.DRAFT).first()
    if draft is None:
        return False
    names = list(draft.files.values_list("storage_name", flat=True))
    draft.delete()
    latest = submission.attempts.order_by("-number").first()
    if latest is None:
        submission.delete()
    else:
        submission.status = latest.status
        submission.updated_at = clock.now()
        submission.save(update_fields=["status", "updated_at"])
    transaction.on_commit(lambda: answer_files.remove(names))
    return True
