"""A fake Telegram Bot API server on 127.0.0.1 for tests, benchmarks and dev runs.

It speaks the real protocol (https://core.telegram.org/bots/api): `/bot<token>/<method>`
with query, JSON, form or multipart parameters; answers `{"ok": true, "result": ...}`
or `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`. It
enforces Telegram's limits the way a sender experiences them: 30 messages per second
per bot, 1 per second per private chat, 20 per minute per group or channel (negative
ids), counted in sliding windows of accepted messages, answering 429 with
`retry_after` beyond them (and until that time has passed); texts over 4096 and
captions over 1024 characters get 400. Tests inject 403 for a chat, 5xx and
timeouts, queue incoming updates for getUpdates (long polling) or post them to the
webhook set with setWebhook, and assert on `sent`, every accepted message. Files users
send (`user_photo`, `user_document`) are served like Telegram's: getFile gives a
`file_path` (refused with 400 "file is too big" over 20 MB), the bytes come from
`/file/bot<token>/<file_path>`.

    with FakeBotApi() as api:
        api.add_bot("123:abc", username="fokus_bot")
        ... settings.TELEGRAM_API_BASE_URL = api.base_url ...

Run standalone for a dev server: `python -m fokus.telegram.testing.fake_bot_api
--port 8081 --token 123:abc`.
"""

from __future__ import annotations

import argparse
import collections
import email.parser
import email.policy
import html
import itertools
import json
import math
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# getFile refuses bigger files ("file is too big"): the bot API's download limit.
GET_FILE_LIMIT = 20 * 1024 * 1024
SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
_TAG = re.compile(r"<[^>]*>")


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass
class SentMessage:
    token: str
    method: str
    chat_id: int | str
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    parse_mode: str | None
    at: float


@dataclass
class RequestRecord:
    token: str
    method: str
    chat_id: int | str | None
    at: float
    status: int


@dataclass
class _Bot:
    token: str
    id: int
    username: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str = ""
    sends: collections.deque[float] = field(default_factory=collections.deque)
    chat_sends: dict[int | str, collections.deque[float]] = field(default_factory=dict)
    flood_until: float = 0.0
    next_message_id: int = 1


def _length(text: str, parse_mode: str | None) -> int:
    if parse_mode and parse_mode.upper() == "HTML":
        text = html.unescape(_TAG.sub("", text))
    return len(text.encode("utf-16-le")) // 2


class FakeBotApi:
    def __init__(
        self,
        *,
        bot_per_second: int = 30,
        private_chat_per_second: int = 1,
        group_per_minute: int = 20,
        enforce_limits: bool = True,
    ) -> None:
        self.bot_per_second = bot_per_second
        self.private_chat_per_second = private_chat_per_second
        self.group_per_minute = group_per_minute
        self.enforce_limits = enforce_limits
        # The clock the limits are counted on; a test may replace it to step time by hand.
        self.clock: Callable[[], float] = time.monotonic
        self.sent: list[SentMessage] = []
        self.requests: list[RequestRecord] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.file_paths: dict[str, str] = {}  # file_path -> file_id
        self._user_message_ids = itertools.count(500_000)
        self._bots: dict[str, _Bot] = {}
        self._blocked: set[int | str] = set()
        self._failures: list[tuple[str | None, int]] = []  # (method or None, status)
        self._timeouts: list[tuple[str | None, float]] = []
        self._forced_429: list[int] = []
        self._lock = threading.RLock()
        self._updates_changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._update_ids = itertools.count(1000)
        # The first bot's token: the one most tests need.
        self.token = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle --

    def start(self, port: int = 0) -> FakeBotApi:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-bot-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._updates_changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBotApi:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    # -- set-up and injection --

    def add_bot(self, token: str, *, username: str = "fokus_test_bot") -> int:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        with self._lock:
            self._bots[token] = _Bot(token=token, id=bot_id, username=username)
            self.token = self.token or token
        return bot_id

    def block_chat(self, chat_id: int | str) -> None:
        """The user blocked the bot: every send to the chat answers 403."""
        with self._lock:
            self._blocked.add(chat_id)

    def fail_next(self, count: int = 1, *, status: int = 500, method: str | None = None) -> None:
        """The next `count` requests (of `method`, or any) answer `status` (5xx)."""
        with self._lock:
            self._failures.extend([(method, status)] * count)

    def timeout_next(
        self, count: int = 1, *, delay: float = 2.0, method: str | None = None
    ) -> None:
        """The next `count` requests get no answer for `delay` seconds, then none at all
        (the message is not delivered)."""
        with self._lock:
            self._timeouts.extend([(method, delay)] * count)

    def flood_next(self, retry_after: int) -> None:
        """The next send answers 429 and the bot is held for `retry_after` seconds."""
        with self._lock:
            self._forced_429.append(retry_after)

    # -- incoming updates --

    def enqueue_update(self, token: str, update: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            update = dict(update)
            update.setdefault("update_id", next(self._update_ids))
            self._bot(token).updates.append(update)
            self._updates_changed.notify_all()
        return update

    def user_message(
        self, token: str, chat_id: int, text: str, *, first_name: str = "Test",
        username: str = "", language_code: str = "ru", reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        message = self._user_message_base(
            chat_id, first_name=first_name, username=username, language_code=language_code,
            reply_to_message_id=reply_to_message_id,
        )
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.enqueue_update(token, {"message": message})

    def user_photo(
        self, token: str, chat_id: int, data: bytes, *, caption: str = "",
        media_group_id: str | None = None, reply_to_message_id: int | None = None,
        language_code: str = "ru",
    ) -> dict[str, Any]:
        """A user sends a photo: Telegram gives the sizes it made; the largest is the
        original bytes here (a thumbnail entry comes first, as Telegram orders them)."""
        stored = self.add_file(data, kind="photos", extension="jpg")
        thumbnail = self.add_file(data[:64] or b"-", kind="photos", extension="jpg")
        message = self._user_message_base(
            chat_id, language_code=language_code, reply_to_message_id=reply_to_message_id
        )
        message["photo"] = [{**thumbnail, "width": 90, "height": 60},
                            {**stored, "width": 1280, "height": 960}]
        if caption:
            message["caption"] = caption
        if media_group_id:
            message["media_group_id"] = media_group_id
        return self.enqueue_update(token, {"message": message})

    def user_document(
        self, token: str, chat_id: int, data: bytes, *, file_name: str,
        mime_type: str = "application/octet-stream", caption: str = "",
        reply_to_message_id: int | None = None, language_code: str = "ru",
    ) -> dict[str, Any]:
        """A user sends a file; `mime_type` is whatever the user's app claims."""
        stored = self.add_file(data, kind="documents", extension=file_name.rsplit(".", 1)[-1])
        message = self._user_message_base(
            chat_id, language_code=language_code, reply_to_message_id=reply_to_message_id
        )
        message["document"] = {**stored, "file_name": file_name, "mime_type": mime_type}
        if caption:
            message["caption"] = caption
        return self.enqueue_update(token, {"message": message})

    def add_file(self, data: bytes, *, kind: str = "documents", extension: str = "bin",
                 file_id: str = "") -> dict[str, Any]:
        """Keep bytes as Telegram keeps a user's file; returns its file_id and size."""
        with self._lock:
            number = len(self.files) + 1
            file_id = file_id or f"AgAC{kind[:3]}{number:06d}"
            self.files[file_id] = data
            self.file_paths[f"{kind}/file_{number}.{extension or 'bin'}"] = file_id
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}

    def _user_message_base(
        self, chat_id: int, *, first_name: str = "Test", username: str = "",
        language_code: str = "ru", reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name,
                                "language_code": language_code}
        if username:
            user["username"] = username
        with self._lock:
            message_id = next(self._user_message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": user,
        }
        if reply_to_message_id is not None:
            replied = next((m for m in self.sent if m.message_id == reply_to_message_id
                            and m.chat_id == chat_id), None)
            message["reply_to_message"] = {
                "message_id": reply_to_message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": replied.text if replied is not None else "…",
            }
        return message

    def callback_query(
        self, token: str, chat_id: int, data: str, *, message_id: int = 1,
        language_code: str = "ru",
    ) -> dict[str, Any]:
        user = {"id": chat_id, "is_bot": False, "first_name": "Test",
                "language_code": language_code}
        query = {
            "id": str(next(self._update_ids)),
            "from": user,
            "chat_instance": str(chat_id),
            "data": data,
            "message": {
                "message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"}, "text": "…",
            },
        }
        return self.enqueue_update(token, {"callback_query": query})

    def pending_updates(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._bot(token).updates)

    def deliver_to_webhook(
        self, token: str,
        post: Callable[[str, bytes, dict[str, str]], int] | None = None,
    ) -> list[int]:
        """POST every pending update to the bot's webhook, as Telegram does; updates
        answered 2xx are dropped, others stay queued. Returns the statuses."""
        with self._lock:
            bot = self._bot(token)
            url, secret, updates = bot.webhook_url, bot.webhook_secret, list(bot.updates)
        if not url:
            raise RuntimeError("no webhook set for this bot")
        post = post or _urllib_post
        statuses = []
        for update in updates:
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            status = post(url, json.dumps(update).encode(), headers)
            statuses.append(status)
            if 200 <= status < 300:
                with self._lock:
                    bot.updates = [u for u in bot.updates if u is not update]
        return statuses

    def webhook(self, token: str) -> tuple[str, str]:
        with self._lock:
            bot = self._bot(token)
            return bot.webhook_url, bot.webhook_secret

    # -- assertions --

    def sent_to(self, chat_id: int | str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    def count_status(self, status: int) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.status == status)

    # -- the protocol --

    def _bot(self, token: str) -> _Bot:
        bot = self._bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        return bot

    def handle(self, token: str, method: str, params: dict[str, Any]) -> Any:
        bot = self._bot(token)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(bot, params)

    def injected_delay(self, method: str) -> float | None:
        with self._lock:
            for index, (only, delay) in enumerate(self._timeouts):
                if only is None or only == method:
                    del self._timeouts[index]
                    return delay
        return None

    def injected_failure(self, method: str) -> int | None:
        with self._lock:
            for index, (only, status) in enumerate(self._failures):
                if only is None or only == method:
                    del self._failures[index]
                    return status
        return None

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _check_limits(self, bot: _Bot, chat_id: int | str, now: float) -> None:
        if self._forced_429:
            retry_after = self._forced_429.pop(0)
            bot.flood_until = now + retry_after
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        if now < bot.flood_until:
            wait = max(1, math.ceil(bot.flood_until - now))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        if not self.enforce_limits:
            return
        windows: list[tuple[collections.deque[float], float, int]] = [
            (bot.sends, 1.0, self.bot_per_second)
        ]
        chat_window = bot.chat_sends.setdefault(chat_id, collections.deque())
        is_group = isinstance(chat_id, str) or chat_id < 0
        windows.append(
            (chat_window, 60.0, self.group_per_minute) if is_group
            else (chat_window, 1.0, self.private_chat_per_second)
        )
        for sends, span, limit in windows:
            while sends and sends[0] <= now - span:
                sends.popleft()
            if len(sends) >= limit:
                retry_after = max(1, math.ceil(sends[0] + span - now))
                bot.flood_until = now + retry_after
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for sends, _span, _limit in windows:
            sends.append(now)

    def _send(self, bot: _Bot, method: str, params: dict[str, Any], text_key: str,
              extra: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params.get("chat_id"))
        parse_mode = params.get("parse_mode")
        text = str(params.get(text_key) or "")
        if parse_mode not in (None, "", "HTML", "Markdown", "MarkdownV2"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        if method == "sendMessage":
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if _length(text, parse_mode) > TEXT_LIMIT:
                raise ApiError(400, "Bad Request: message is too long")
        elif _length(text, parse_mode) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        with self._lock:
            if chat_id in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            now = self.clock()
            self._check_limits(bot, chat_id, now)
            message_id = bot.next_message_id
            bot.next_message_id += 1
            markup = params.get("reply_markup")
            self.sent.append(SentMessage(
                token=bot.token, method=method, chat_id=chat_id, message_id=message_id,
                text=text, reply_markup=markup if isinstance(markup, dict) else None,
                parse_mode=parse_mode, at=now,
            ))
        is_group = isinstance(chat_id, str) or chat_id < 0
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id if isinstance(chat_id, int) else -1,
                     "type": "supergroup" if is_group else "private"},
            "from": {"id": bot.id, "is_bot": True, "first_name": bot.username,
                     "username": bot.username},
            **extra,
        }
        if text:
            message["text" if method == "sendMessage" else "caption"] = text
        if isinstance(markup, dict):
            message["reply_markup"] = markup
        return message

    def _store_file(self, value: Any, kind: str) -> dict[str, Any]:
        data = value if isinstance(value, bytes) else str(value or "").encode()
        with self._lock:
            file_id = f"{kind}-{len(self.files) + 1}"
        return self.add_file(data, kind=f"{kind}s", file_id=file_id)

    def _m_getMe(self, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": bot.id, "is_bot": True, "first_name": "Fokus", "username": bot.username,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _m_sendMessage(self, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
        return self._send(bot, "sendMessage", params, "text", {})

    def _m_sendPhoto(self, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._store_file(params.get("photo"), "photo")
        size = {**stored, "width": 800, "height": 600}
        return self._send(bot, "sendPhoto", params, "caption", {"photo": [size]})

    def _m_sendDocument(self, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._store_file(params.get("document"), "document")
        return self._send(bot, "sendDocument", params, "caption", {"document": stored})

    def _m_getFile(self, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            if file_id not in self.files:
                raise ApiError(400, "Bad Request: invalid file_id")
            size = len(self.files[file_id])
            path = next(p for p, f in self.file_paths.items() if f == file_id)
        if size > GET_FILE_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size,
                "file_path": path}

    def _m_answerCallbackQuery(self, bot: _Bot, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        with self._lock:
            self.answered_callbacks.append(dict(params))
        return True

    def _m_setWebhook(self, bot: _Bot, params: dict[str, Any]) -> bool:
        with self._lock:
            bot.webhook_url = str(params.get("url") or "")
            bot.webhook_secret = str(params.get("secret_token") or "")
        return True

    def _m_deleteWebhook(self, bot: _Bot, params: dict[str, Any]) -> bool:
        with self._lock:
            bot.webhook_url = bot.webhook_secret = ""
        return True

    def _m_getWebhookInfo(self, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": bot.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(bot.updates)}

    def _m_getUpdates(self, bot: _Bot, params: dict[str, Any]) -> list[dict[str, Any]]:
        if bot.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._lock:
            while True:
                if offset:
                    bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
                if bot.updates or self._stopping.is_set():
                    return bot.updates[:limit]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._updates_changed.wait(remaining)


def _chat_id(value: Any) -> int | str:
    if value is None or value == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    if text.startswith("@"):
        return text
    raise ApiError(400, "Bad Request: chat not found")


def _urllib_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


_JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "caption_entities",
                "link_preview_options", "reply_parameters"}


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
    return params


class _Handler(BaseHTTPRequestHandler):
    api: FakeBotApi
    protocol_version = "HTTP/1.1"  # keep-alive, as Telegram's servers do

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every answer on a kept-alive connection.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _params(self) -> dict[str, Any]:
        query = urllib.parse.urlsplit(self.path).query
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = self.headers.get_content_type()
        if not body:
            return _decode(params)
        if kind == "application/json":
            params.update(json.loads(body or b"{}"))
            return params
        if kind == "application/x-www-form-urlencoded":
            params.update(urllib.parse.parse_qsl(body.decode()))
            return _decode(params)
        if kind == "multipart/form-data":
            header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
            for part in parsed.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not name:
                    continue
                raw = part.get_payload(decode=True)
                payload = raw if isinstance(raw, bytes) else b""
                params[str(name)] = (
                    payload if part.get_filename() else payload.decode("utf-8", "replace")
                )
            return _decode(params)
        raise ApiError(400, f"Bad Request: unsupported content type {kind}")

    def _serve(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/file/bot"):
            self._serve_file(path)
            return
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path)
        token, method = (match.group(1), match.group(2)) if match else ("", "")
        chat_id: int | str | None = None
        try:
            params = self._params()
            chat_id = params.get("chat_id")
            if not match:
                raise ApiError(404, "Not Found")
            delay = self.api.injected_delay(method)
            if delay is not None:
                self.api.sleep(delay)
                self.close_connection = True
                self._record(token, method, chat_id, 0)
                return
            failure = self.api.injected_failure(method)
            if failure is not None:
                raise ApiError(failure, "Internal Server Error" if failure == 500
                               else "Bad Gateway")
            result = self.api.handle(token, method, params)
            self._answer(200, {"ok": True, "result": result})
            self._record(token, method, chat_id, 200)
        except ApiError as error:
            body: dict[str, Any] = {"ok": False, "error_code": error.code,
                                    "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            self._answer(error.code, body)
            self._record(token, method, chat_id, error.code)
        except (ValueError, KeyError) as error:
            self._answer(400, {"ok": False, "error_code": 400,
                               "description": f"Bad Request: {error}"})
            self._record(token, method, chat_id, 400)

    def _record(self, token: str, method: str, chat_id: Any, status: int) -> None:
        with self.api._lock:
            self.api.requests.append(
                RequestRecord(token=token, method=method, chat_id=chat_id,
                              at=time.monotonic(), status=status)
            )

    def _serve_file(self, path: str) -> None:
        # Telegram's download URL: /file/bot<token>/<file_path from getFile>.
        match = re.fullmatch(r"/file/bot([^/]+)/(.+)", urllib.parse.unquote(path))
        data = None
        if match and match.group(1) in self.api._bots:
            with self.api._lock:
                file_id = self.api.file_paths.get(match.group(2))
                data = self.api.files.get(file_id) if file_id else None
            if data is not None and len(data) > GET_FILE_LIMIT:
                data = None
        if data is None:
            self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API server.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", action="append", default=[], help="a bot token to accept")
    parser.add_argument("--username", default="fokus_dev_bot")
    args = parser.parse_args()
    api = FakeBotApi().start(port=args.port)
    tokens = args.token or ["123456:dev-token"]
    for token in tokens:
        api.add_bot(token, username=args.username)
    print(f"Fake Bot API at {api.base_url} (tokens: {', '.join(tokens)})")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
