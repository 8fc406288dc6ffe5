"""Long polling (getUpdates) for installations without a public webhook URL.

The offset is one past the newest update stored, so a restart neither loses nor
repeats updates; the stored (bot, update_id) rows de-duplicate anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.telegram import queries, services
from fokus.telegram.client import Conflict, InvalidToken, TelegramClient, TelegramError
from fokus.telegram.models import TelegramBot
from fokus.telegram.updates import update_process

logger = logging.getLogger(__name__)


def poll_once(bot: TelegramBot, client: TelegramClient, *, timeout: int = 25) -> int:
    """One getUpdates round: store and process what came; returns how many were new."""
    offset = queries.telegram_next_update_offset(bot=bot)
    new = 0
    for payload in client.get_updates(offset=offset, timeout=timeout):
        update = services.telegram_update_receive(bot=bot, payload=payload)
        if update is not None:
            new += 1
            update_process(update, client=client)
    return new


def poll_forever(
    bot: TelegramBot, stop: threading.Event, *, timeout: int = 25,
    say: Callable[[str], None] = lambda _text: None,
) -> None:
    """Poll until `stop` is set. A webhook or a bad token stops it with a message;
    network trouble is waited out."""
    with TelegramClient(bot.token, read_timeout=10.0) as client:
        while not stop.is_set():
            try:
                count = poll_once(bot, client, timeout=timeout)
                if count:
                    say(ngettext("telegram: %(count)s update for %(bot)s",
                                 "telegram: %(count)s updates for %(bot)s", count)
                        % {"count": count, "bot": bot})
            except (Conflict, InvalidToken) as error:
                say(_("telegram: polling %(bot)s stopped: %(error)s")
                    % {"bot": bot, "error": error})
                logger.error("telegram: polling %s stopped: %s", bot, error)
                return
            except TelegramError as error:
                logger.warning("telegram: getUpdates failed (%s), retrying", error)
                stop.wait(5)
            finally:
                close_old_connections()


def polling_service(stop: threading.Event, *, timeout: int = 10) -> None:
    """For `fokus run` (settings.FOKUS_RUN_SERVICES): poll every bot, one thread each.
    A shorter long-poll than Telegram's usual 25 s, so stopping takes at most that."""
    services.telegram_bot_resolve(organization=None)
    bots = queries.telegram_bots_all()
    threads = [
        threading.Thread(target=poll_forever, args=(bot, stop), kwargs={"timeout": timeout},
                         name=f"telegram-poll-{bot.pk}", daemon=True)
        for bot in bots
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
