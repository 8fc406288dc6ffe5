"""Bots and chats in the admin, scoped to the staff user's organisation.

A bot token is a password: the list shows it masked, and the form never prints it back.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fokus.core.admin_scoping import OrganizationScopedAdmin
from fokus.telegram.models import TelegramBot, TelegramChat


class TelegramBotForm(forms.ModelForm[TelegramBot]):
    token = forms.CharField(
        label=_("token"), widget=forms.PasswordInput(render_value=False), required=False,
        help_text=_("From @BotFather. Leave empty to keep the current token."),
    )

    class Meta:
        model = TelegramBot
        fields = ["organization", "token", "username"]

    def clean_token(self) -> str:
        token = str(self.cleaned_data.get("token") or "").strip()
        if not token:
            if self.instance.pk and self.instance.token:
                return self.instance.token
            raise forms.ValidationError(_("Enter the bot token from @BotFather."))
        if ":" not in token:
            raise forms.ValidationError(
                _("A bot token looks like 123456789:AA…; copy it whole from @BotFather.")
            )
        return token


@admin.register(TelegramBot)
class TelegramBotAdmin(OrganizationScopedAdmin):
    form = TelegramBotForm
    list_display = ["__str__", "masked_token", "organization", "created_at"]
    readonly_fields = ["created_at"]

    @admin.display(description=_("token"))
    def masked_token(self, obj: TelegramBot) -> str:
        return obj.masked_token


@admin.register(TelegramChat)
class TelegramChatAdmin(OrganizationScopedAdmin):
    organization_path = "person__organization"
    list_display = ["person", "chat_id", "username", "bound_at", "unreachable_at"]
    list_select_related = ["person"]
    search_fields = ["person__full_name", "person__employee_number", "username"]
    raw_id_fields = ["person"]
    readonly_fields = ["bot", "bound_at"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        # Chats are bound by /start or `fokus telegram bind`, never typed in.
        return False
