"""Telegram's send limits per bot, shared by every sender of that bot.

Generic cell rate algorithm (GCRA): each bucket keeps a theoretical arrival time
(TAT); a send is allowed when the clock has reached TAT minus a small tolerance, and
moves TAT one interval on. It paces sends evenly instead of bursting, which is what
keeps Telegram (and the fake Bot API, which counts in sliding windows) from
answering 429. Three buckets per send: the bot (30/s), the chat (1/s for a person,
20/min for a group or channel, whose ids are negative) and the bot's pause after a
429. With REDIS_URL the state lives in Redis, checked and taken atomically in one
Lua script on Redis' own clock, so senders in several processes share it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

# Telegram's published limits.
BOT_PER_SECOND = 30.0
PRIVATE_CHAT_PER_SECOND = 1.0
GROUP_PER_MINUTE = 20.0
# Aim a little under the limits: network jitter moves arrivals by a few milliseconds.
SAFETY = 0.97


@dataclass(frozen=True)
class Limits:
    bot_per_second: float = BOT_PER_SECOND
    private_chat_per_second: float = PRIVATE_CHAT_PER_SECOND
    group_per_minute: float = GROUP_PER_MINUTE
    safety: float = SAFETY

    @property
    def bot_interval(self) -> float:
        return 1.0 / (self.bot_per_second * self.safety)

    @property
    def bot_tolerance(self) -> float:
        # A late send may catch up by this much: the sender's own sleeps overshoot a
        # little, and without catching up the achieved rate would drift under the aim.
        # Kept small: every millisecond of catch-up is one less for network jitter.
        return 0.1 * self.bot_interval

    def chat_interval(self, chat_id: int) -> float:
        if chat_id < 0:
            return 60.0 / (self.group_per_minute * self.safety)
        return 1.0 / (self.private_chat_per_second * self.safety)


def bot_key(token: str) -> str:
    """Limits count per bot token; the key never reveals the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:20]


class Limiter(Protocol):
    limits: Limits

    def acquire(self, key: str, chat_id: int) -> tuple[float, bool]:
        """Take a send slot for `chat_id` now and return (0, False); or take nothing
        and return the seconds until the bot may send (False), or, when only this chat
        has to wait, the seconds until it may (True)."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """After a 429: no sends through this bot for `seconds`, in every process."""
        ...

    def paused_for(self, key: str) -> float:
        ...


class MemoryLimiter:
    """In-process state: for the embedded run, where one process sends."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._bot_tat: dict[str, float] = {}
        self._chat_tat: dict[tuple[str, int], float] = {}
        self._paused_until: dict[str, float] = {}

    def acquire(self, key: str, chat_id: int) -> tuple[float, bool]:
        limits = self.limits
        with self._lock:
            now = time.monotonic()
            bot_tat = self._bot_tat.get(key, now)
            chat_tat = self._chat_tat.get((key, chat_id), now)
            bot_wait = max(
                self._paused_until.get(key, 0.0) - now, bot_tat - limits.bot_tolerance - now
            )
            chat_wait = chat_tat - now
            # The bot's wait first: when it is over, another chat may be free to go.
            if bot_wait > 0:
                return bot_wait, False
            if chat_wait > 0:
                return chat_wait, True
            self._bot_tat[key] = max(bot_tat, now - limits.bot_tolerance) + limits.bot_interval
            self._chat_tat[(key, chat_id)] = max(chat_tat, now) + limits.chat_interval(chat_id)
            if len(self._chat_tat) > 100_000:
                self._forget_idle(now)
            return 0.0, False

    def _forget_idle(self, now: float) -> None:
        for chat_key in [k for k, tat in self._chat_tat.items() if tat < now]:
            del self._chat_tat[chat_key]

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)

    def paused_for(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._paused_until.get(key, 0.0) - time.monotonic())


# KEYS: bot TAT, chat TAT, pause; ARGV: bot interval, bot tolerance, chat interval.
# Times in microseconds on Redis' clock, so processes on several hosts agree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local bot_interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local chat_interval = tonumber(ARGV[3])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
local bot_tat = tonumber(redis.call('GET', KEYS[1]) or tostring(now))
local chat_tat = tonumber(redis.call('GET', KEYS[2]) or tostring(now))
local bot_wait = math.max(paused - now, bot_tat - tolerance - now)
local chat_wait = chat_tat - now
if bot_wait > 0 then
  return {bot_wait, 0}
end
if chat_wait > 0 then
  return {chat_wait, 1}
end
bot_tat = math.max(bot_tat, now - tolerance) + bot_interval
chat_tat = math.max(chat_tat, now) + chat_interval
redis.call('SET', KEYS[1], string.format('%d', bot_tat), 'PX', 60000)
redis.call('SET', KEYS[2], string.format('%d', chat_tat), 'PX',
           math.floor(chat_interval / 1000) + 1000)
return {0, 0}
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX',
             math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
"""

_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
return math.max(0, paused - now)
"""


class RedisLimiter:
    """State in Redis: every process sending through a bot shares its limits."""

    def __init__(self, url: str, limits: Limits | None = None, prefix: str = "fokus:tg") -> None:
        import redis

        self.limits = limits or Limits()
        self.prefix = prefix
        self._redis: Any = redis.Redis.from_url(url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)
        self._paused_for = self._redis.register_script(_PAUSED_FOR)

    def _keys(self, key: str, chat_id: int) -> list[str]:
        base = f"{self.prefix}:{key}"
        return [f"{base}:bot", f"{base}:chat:{chat_id}", f"{base}:pause"]

    def acquire(self, key: str, chat_id: int) -> tuple[float, bool]:
        limits = self.limits
        micros, chat_only = self._acquire(
            keys=self._keys(key, chat_id),
            args=[
                int(limits.bot_interval * 1e6),
                int(limits.bot_tolerance * 1e6),
                int(limits.chat_interval(chat_id) * 1e6),
            ],
        )
        return int(micros) / 1e6, bool(chat_only)

    def pause(self, key: str, seconds: float) -> None:
        self._pause(keys=[f"{self.prefix}:{key}:pause"], args=[int(seconds * 1e6)])

    def paused_for(self, key: str) -> float:
        return int(self._paused_for(keys=[f"{self.prefix}:{key}:pause"])) / 1e6

    def reset(self, key: str) -> None:
        """Forget a bot's state (tests start from a clean slate)."""
        for name in self._redis.scan_iter(f"{self.prefix}:{key}:*"):
            self._redis.delete(name)


_memory: MemoryLimiter | None = None
_memory_lock = threading.Lock()


def limiter_from_settings() -> Limiter:
    """Redis when REDIS_URL is set, else the one in-process limiter of this process."""
    from django.conf import settings

    url = getattr(settings, "TELEGRAM_LIMITER_REDIS_URL", "")
    if url:
        return RedisLimiter(url)
    global _memory
    with _memory_lock:
        if _memory is None:
            _memory = MemoryLimiter()
        return _memory
