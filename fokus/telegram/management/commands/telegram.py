"""`fokus telegram bind|link|poll|webhook|me`: Telegram from the command line.

    fokus telegram bind EMPLOYEE_NUMBER CHAT_ID --org SLUG
    fokus telegram bind --file pairs.csv --org SLUG    (employee_number,chat_id per line)
    fokus telegram link EMPLOYEE_NUMBER --org SLUG     (prints the personal deep link)
    fokus telegram poll [--once] [--timeout SECONDS]   (long polling, every bot)
    fokus telegram webhook set URL_BASE | delete [--org SLUG]
    fokus telegram me [--org SLUG]
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.core.models import Organization
from fokus.core.queries import organization_by_slug
from fokus.people.queries import person_by_employee_number
from fokus.telegram import queries, services
from fokus.telegram.client import Conflict, TelegramClient, TelegramError
from fokus.telegram.models import TelegramBot
from fokus.telegram.polling import poll_forever, poll_once


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: argparse cannot format a lazy string.
        self.help = _("Telegram: bind chats, print deep links, long-poll, set the webhook.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        bind = sub.add_parser("bind", help=_("bind a person (or a file of people) to chat ids"))
        bind.add_argument("employee_number", nargs="?")
        bind.add_argument("chat_id", nargs="?")
        bind.add_argument("--file", help=_("CSV with employee_number,chat_id per line"))
        bind.add_argument("--org", required=True)
        link = sub.add_parser("link", help=_("print a person's personal deep link"))
        link.add_argument("employee_number")
        link.add_argument("--org", required=True)
        poll = sub.add_parser("poll", help=_("receive updates by long polling"))
        poll.add_argument("--once", action="store_true", help=_("one getUpdates round, then exit"))
        poll.add_argument("--timeout", type=int, default=25)
        poll.add_argument("--org", help=_("only this organisation's bot"))
        webhook = sub.add_parser("webhook", help=_("point Telegram at this installation"))
        webhook.add_argument("what", choices=["set", "delete"])
        webhook.add_argument("url_base", nargs="?", help=_("e.g. https://fokus.example.com"))
        webhook.add_argument("--org")
        me = sub.add_parser("me", help=_("ask Telegram who the bot is (getMe)"))
        me.add_argument("--org")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    # -- helpers --

    def _organization(self, slug: str | None) -> Organization | None:
        if slug is None:
            return None
        organization = organization_by_slug(slug)
        if organization is None:
            raise CommandError(_("No organisation with slug “%(slug)s”.") % {"slug": slug})
        return organization

    def _bot(self, organization: Organization | None) -> TelegramBot:
        bot = services.telegram_bot_resolve(organization=organization)
        if bot is None:
            raise CommandError(
                _("No Telegram bot: set TELEGRAM_BOT_TOKEN (or give the organisation its own "
                  "bot in the admin).")
            )
        return bot

    # -- actions --

    def _bind(self, options: dict[str, Any]) -> None:
        organization = self._organization(options["org"])
        assert organization is not None
        if options["file"]:
            if options["employee_number"] or options["chat_id"]:
                raise CommandError(_("Give either EMPLOYEE_NUMBER CHAT_ID or --file, not both."))
            rows = self._read_pairs(Path(options["file"]))
        elif options["employee_number"] and options["chat_id"]:
            rows = [services.BindRow(1, options["employee_number"], options["chat_id"])]
        else:
            raise CommandError(_("Give EMPLOYEE_NUMBER CHAT_ID, or --file with pairs."))
        bot = self._bot(organization)
        bound, errors = services.telegram_chats_bind_bulk(
            organization=organization, bot=bot, rows=rows
        )
        if errors:
            if options["file"]:
                lines = [f"{options['file']}: {e}" for e in errors] + [_("Nothing was written.")]
            else:  # a single pair has no line to name
                lines = [e.split(": ", 1)[1] for e in errors]
            raise CommandError("\n".join(lines))
        self.stdout.write(
            ngettext("Bound %(count)s chat for %(org)s.", "Bound %(count)s chats for %(org)s.",
                     bound)
            % {"count": bound, "org": organization.slug}
        )

    def _read_pairs(self, path: Path) -> list[services.BindRow]:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(
                _("%(file)s: cannot read the file (%(error)s).")
                % {"file": path, "error": error.strerror}
            ) from None
        except UnicodeDecodeError:
            raise CommandError(_("%(file)s: not UTF-8 text.") % {"file": path}) from None
        rows = []
        for line, record in enumerate(csv.reader(text.splitlines()), start=1):
            cells = [c.strip() for c in record]
            if not any(cells):
                continue
            if line == 1 and not cells[-1].lstrip("-").isdigit():
                continue  # a header row
            if len(cells) != 2:
                raise CommandError(
                    ngettext(
                        "%(file)s: line %(line)s: expected employee_number,chat_id, got "
                        "%(count)s value. Nothing was written.",
                        "%(file)s: line %(line)s: expected employee_number,chat_id, got "
                        "%(count)s values. Nothing was written.",
                        len(cells),
                    )
                    % {"file": path, "line": line, "count": len(cells)}
                )
            rows.append(services.BindRow(line, cells[0], cells[1]))
        if not rows:
            raise CommandError(_("%(file)s: no employee_number,chat_id lines.") % {"file": path})
        return rows

    def _link(self, options: dict[str, Any]) -> None:
        organization = self._organization(options["org"])
        assert organization is not None
        person = person_by_employee_number(
            organization=organization, employee_number=options["employee_number"]
        )
        if person is None:
            raise CommandError(
                _("No person with employee number “%(number)s” in %(org)s.")
                % {"number": options["employee_number"], "org": organization.slug}
            )
        bot = self._bot(organization)
        if not bot.username:
            me = self._get_me(bot)
            services.telegram_bot_set_username(bot=bot, username=str(me.get("username") or ""))
        token = services.telegram_bind_token_issue(person=person)
        self.stdout.write(queries.deep_link(bot_username=bot.username, token=token.token))

    def _get_me(self, bot: TelegramBot) -> dict[str, Any]:
        try:
            with TelegramClient(bot.token) as client:
                return client.get_me()
        except TelegramError as error:
            raise CommandError(
                _("Telegram did not answer getMe for %(bot)s: %(error)s")
                % {"bot": bot, "error": error}
            ) from None

    def _me(self, options: dict[str, Any]) -> None:
        bot = self._bot(self._organization(options["org"]))
        me = self._get_me(bot)
        services.telegram_bot_set_username(bot=bot, username=str(me.get("username") or ""))
        self.stdout.write(
            _("@%(username)s (id %(id)s), token %(token)s")
            % {"username": me.get("username"), "id": me.get("id"), "token": bot.masked_token}
        )

    def _webhook(self, options: dict[str, Any]) -> None:
        bot = self._bot(self._organization(options["org"]))
        try:
            with TelegramClient(bot.token) as client:
                if options["what"] == "delete":
                    client.delete_webhook()
                    self.stdout.write(
                        _("Webhook of %(bot)s deleted; use `fokus telegram poll`.") % {"bot": bot}
                    )
                    return
                base = (options["url_base"] or "").rstrip("/")
                if not base.startswith("https://"):
                    raise CommandError(
                        _("Give the public https:// address of this installation, e.g. "
                          "`fokus telegram webhook set https://fokus.example.com`.")
                    )
                url = base + reverse("telegram:webhook", kwargs={"bot_id": bot.pk})
                client.set_webhook(url, secret_token=bot.webhook_secret)
        except TelegramError as error:
            raise CommandError(_("Telegram refused: %(error)s") % {"error": error}) from None
        self.stdout.write(_("Webhook of %(bot)s set to %(url)s") % {"bot": bot, "url": url})

    def _poll(self, options: dict[str, Any]) -> None:
        organization = self._organization(options["org"])
        if organization is not None:
            bots = [self._bot(organization)]
        else:
            services.telegram_bot_resolve(organization=None)
            bots = queries.telegram_bots_all()
        if not bots:
            raise CommandError(_("No Telegram bot: set TELEGRAM_BOT_TOKEN."))
        if options["once"]:
            for bot in bots:
                try:
                    with TelegramClient(bot.token) as client:
                        count = poll_once(bot, client, timeout=options["timeout"])
                except Conflict:
                    raise CommandError(
                        _("%(bot)s has a webhook set; run `fokus telegram webhook delete` to "
                          "poll.") % {"bot": bot}
                    ) from None
                except TelegramError as error:
                    raise CommandError(
                        _("getUpdates failed for %(bot)s: %(error)s") % {"bot": bot, "error": error}
                    ) from None
                self.stdout.write(
                    ngettext("%(bot)s: %(count)s new update", "%(bot)s: %(count)s new updates",
                             count)
                    % {"bot": bot, "count": count}
                )
            return
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=poll_forever, args=(bot, stop),
                kwargs={"timeout": options["timeout"], "say": self.stdout.write}, daemon=True,
            )
            for bot in bots
        ]
        for thread in threads:
            thread.start()
        self.stdout.write(
            ngettext("Polling %(count)s bot; Ctrl+C stops.",
                     "Polling %(count)s bots; Ctrl+C stops.", len(bots))
            % {"count": len(bots)}
        )
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=1)
        except KeyboardInterrupt:
            stop.set()
