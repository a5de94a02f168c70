"""Commands that talk to the platforms outside a webhook: the worker (pushes), the LINE rich
menu, the Telegram webhook registration."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from bot.cli_words import say
from bot.config import Settings
from bot.runtime import open_conversation
from bot.worker import Sender, Worker
from intents.conversation import Conversation

if TYPE_CHECKING:
    from bot.adapters.line import LineChannel
    from bot.adapters.telegram import TelegramChannel

log = logging.getLogger(__name__)


class Channel(Protocol):
    """A platform as the server and the worker see it (bot/adapters/line.py, telegram.py)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def webhook(self, request: web.Request) -> web.Response: ...

    async def push(self, platform_user_id: str, body: dict[str, Any], retry_key: str) -> None: ...


# A platform's SDK is imported only when that platform is configured: line-bot-sdk's models
# alone hold about 50 MB, which a server without LINE does not need.
def _line(settings: Settings, conversation: Conversation) -> LineChannel:
    from bot.adapters.line import LineChannel

    return LineChannel(
        settings.line_channel_secret,
        settings.line_channel_access_token,
        conversation,
        settings.line_api_base_url,
    )


def _telegram(settings: Settings, conversation: Conversation) -> TelegramChannel:
    from bot.adapters.telegram import TelegramChannel

    return TelegramChannel(
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        conversation,
        settings.telegram_api_base_url,
    )


async def open_channels(settings: Settings, conversation: Conversation) -> dict[str, Channel]:
    """The configured platforms' channels, opened, by platform name (``line``, ``telegram``)."""
    channels: dict[str, Channel] = {}
    if settings.line_enabled:
        channels["line"] = _line(settings, conversation)
    if settings.telegram_enabled:
        channels["telegram"] = _telegram(settings, conversation)
    for channel in channels.values():
        await channel.open()
    return channels


async def run_platform_command(args: argparse.Namespace, settings: Settings) -> int:
    """``worker``, ``line setup-richmenu``, ``telegram set-webhook``; returns the exit code."""
    conversation = await asyncio.to_thread(open_conversation, settings)
    try:
        if args.command == "worker":
            return await _worker(args, settings, conversation)
        if args.command == "line":
            if not settings.line_enabled:
                print(say("platforms", "line_settings"))
                return 2
            from bot.adapters.line import REPRESENTATIVE_MENU
            from bot.richmenu import image, menu_items  # Pillow, only for this command

            line = _line(settings, conversation)
            await line.open()
            try:
                png = image("resident", args.font)  # the kept Japanese image, or drawn
                if args.save:
                    await asyncio.to_thread(Path(args.save).write_bytes, png)
                menu_id = await line.setup_rich_menu(png, menu_items())
                rep_id = await line.setup_rich_menu(
                    image("representative", args.font),
                    menu_items("representative"),
                    name="tsunagaru representatives",
                    default=False,
                )
                await asyncio.to_thread(
                    conversation.store.set_app_value, REPRESENTATIVE_MENU, rep_id
                )
            finally:
                await line.close()
            print(say("platforms", "richmenus_set", menu=menu_id, rep=rep_id))
            return 0
        if not (settings.telegram_enabled and settings.public_url):
            print(say("platforms", "telegram_settings"))
            return 2
        telegram = _telegram(settings, conversation)
        await telegram.open()
        try:
            ok = await telegram.set_webhook(settings.public_url)
        finally:
            await telegram.close()
        print(say("platforms", "webhook_set" if ok else "webhook_failed"))
        return 0 if ok else 1
    finally:
        conversation.store.close()


async def _worker(args: argparse.Namespace, settings: Settings, conversation: Conversation) -> int:
    channels = await open_channels(settings, conversation)
    senders: dict[str, Sender] = dict(channels)
    log.info("worker delivers to: %s", ", ".join(senders) or "(no push platform configured)")
    worker = Worker(
        conversation, senders, clock=conversation.clock,
        retention=timedelta(days=settings.retention_days),
    )  # fmt: skip
    try:
        if args.once:
            print(await worker.run_once())
        else:
            await worker.run_forever(args.interval)
    finally:
        for channel in channels.values():
            await channel.close()
    return 0
