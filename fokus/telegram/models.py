"""Telegram: bots, chats bound to people, one-time bind tokens, received updates."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person


def new_webhook_secret() -> str:
    # Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and - in the secret header.
    return secrets.token_urlsafe(32)


def new_bind_token() -> str:
    # Deep-link start parameters allow up to 64 characters of A-Z, a-z, 0-9, _ and -.
    return secrets.token_urlsafe(24)


class TelegramBot(models.Model):
    """A bot token. Without an organisation it is the installation's default bot
    (TELEGRAM_BOT_TOKEN); an organisation may bring its own, since Telegram's limits
    count per bot."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, null=True, blank=True,
        related_name="telegram_bot", verbose_name=_("organisation"),
    )
    token = models.CharField(_("token"), max_length=100)
    username = models.CharField(_("username"), max_length=64, blank=True, default="")
    webhook_secret = models.CharField(
        _("webhook secret"), max_length=256, default=new_webhook_secret
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Telegram bot")
        verbose_name_plural = _("Telegram bots")

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else f"bot {self.masked_token}"

    @property
    def masked_token(self) -> str:
        bot_id, _sep, secret = self.token.partition(":")
        return f"{bot_id}:…{secret[-4:]}" if secret else "…"


class TelegramChat(models.Model):
    """The private chat a person receives messages in."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="telegram_chat", verbose_name=_("person")
    )
    bot = models.ForeignKey(
        TelegramBot, on_delete=models.CASCADE, related_name="chats", verbose_name=_("bot")
    )
    chat_id = models.BigIntegerField(_("chat id"))
    username = models.CharField(_("Telegram username"), max_length=64, blank=True, default="")
    bound_at = models.DateTimeField(_("bound at"))
    # Set when Telegram answers 403 (the person blocked the bot); cleared by a new /start.
    unreachable_at = models.DateTimeField(_("unreachable since"), null=True, blank=True)

    class Meta:
        verbose_name = _("Telegram chat")
        verbose_name_plural = _("Telegram chats")
        indexes = [models.Index(fields=["bot", "chat_id"])]

    def __str__(self) -> str:
        return f"{self.person} → {self.chat_id}"

    @property
    def is_reachable(self) -> bool:
        return self.unreachable_at is None


class TelegramBindToken(models.Model):
    """A one-time personal deep link: https://t.me/<bot>?start=<token>."""

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="telegram_bind_tokens",
        verbose_name=_("person"),
    )
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_bind_token)
    created_at = models.DateTimeField(_("created at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Telegram bind token")
        verbose_name_plural = _("Telegram bind tokens")
        indexes = [models.Index(fields=["person", "used_at"])]

    def __str__(self) -> str:
        return f"{self.person}: {self.token[:6]}…"


class UpdateKind(models.TextChoices):
    MESSAGE = "message", _("message")
    CALLBACK_QUERY = "callback_query", _("button press")
    OTHER = "other", _("other")


class TelegramUpdate(models.Model):
    """An update as Telegram sent it; (bot, update_id) is unique, so a repeat is ignored."""

    bot = models.ForeignKey(
        TelegramBot, on_delete=models.CASCADE, related_name="updates", verbose_name=_("bot")
    )
    update_id = models.BigIntegerField(_("update id"))
    kind = models.CharField(_("kind"), max_length=20, choices=UpdateKind.choices)
    chat_id = models.BigIntegerField(_("chat id"), null=True, blank=True)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"))
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=40, blank=True, default="")

    class Meta:
        verbose_name = _("Telegram update")
        verbose_name_plural = _("Telegram updates")
        constraints = [
            models.UniqueConstraint(fields=["bot", "update_id"], name="telegram_update_unique_id")
        ]

    def __str__(self) -> str:
        return f"{self.bot_id}#{self.update_id}"
