"""Telegram: the webhook in, messages out, with python-telegram-bot v22 (``updater(None)``:
our aiohttp app receives the webhook). Translation only.

Contract (see shared PLATFORMS.md): ``X-Telegram-Bot-Api-Secret-Token`` must match (403
otherwise, compared in constant time), answer 200 quickly, each ``update_id`` once,
``answerCallbackQuery`` on every button press, text ≤ 4,096 characters, ``callback_data``
≤ 64 bytes (our payloads are, by construction).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# ptb v22 warns that RetryAfter.retry_after becomes a timedelta; opt in now (read at run time).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ExtBot

from bot.adapters.inbox import InboxDrainer
from bot.adapters.lanes import UserLanes
from bot.security import loads_json
from bot.worker import DeliveryError
from intents.conversation import Conversation
from intents.types import Choice, Inbound, Reply
from storage.inbox import StoredEvent
from storage.store import AlreadyHandled

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_BODY = 1024 * 1024
MAX_TEXT = 4096
BUTTONS_PER_ROW = 2
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫"


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most ``limit`` characters, cut at line breaks where possible."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return [p.rstrip("\n") or " " for p in parts]


def render(reply: Reply) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """One message (or more, when long): the text, the cards written out with numbers, and one
    inline keyboard with the cards' buttons (①申し込む …) and the choices."""
    blocks = [*reply.notices, reply.text]
    rows: list[list[InlineKeyboardButton]] = []
    for i, card in enumerate(reply.cards):
        mark = CIRCLED[i] if i < len(CIRCLED) else f"{i + 1}."
        blocks.append(f"{mark} {card.title}\n{card.body}")
        if card.buttons:
            rows.append([_button(b, prefix=mark) for b in card.buttons])
    for n in range(0, len(reply.choices), BUTTONS_PER_ROW):
        rows.append([_button(c) for c in reply.choices[n : n + BUTTONS_PER_ROW]])
    parts = split_text("\n\n".join(b for b in blocks if b))
    keyboard = InlineKeyboardMarkup(rows) if rows else None
    # The keyboard goes with the last part, so the buttons sit under the whole answer.
    return [(p, keyboard if i == len(parts) - 1 else None) for i, p in enumerate(parts)]


def _button(choice: Choice, prefix: str = "") -> InlineKeyboardButton:
    if choice.url:  # a link: Telegram opens it, nothing comes back
        return InlineKeyboardButton(prefix + choice.label, url=choice.url)
    return InlineKeyboardButton(prefix + choice.label, callback_data=choice.payload)


@dataclass
class TelegramChannel:
    """Telegram for one bot."""

    token: str
    secret: str
    conversation: Conversation
    api_base: str = "https://api.telegram.org"

    def __post_init__(self) -> None:
        base = self.api_base.rstrip("/")
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            Application.builder()
            .token(self.token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .updater(None)
            .build()
        )
        self._lanes: UserLanes[Inbound, Reply] = UserLanes(self.conversation.handle_many)
        self._inbox: InboxDrainer | None = None

    @property
    def bot(self) -> ExtBot[Any]:
        return self.application.bot

    async def open(self) -> None:
        """Initialize the bot (``getMe``) and start answering from the inbox."""
        await self.application.initialize()
        self._inbox = InboxDrainer(self.conversation.store, PLATFORM, self._answer_stored)
        self._inbox.start()  # also what an earlier process left unanswered

    async def close(self, grace: float = 10.0) -> None:
        """Finish updates in flight, then shut the application down."""
        if self._inbox is not None:
            await self._inbox.close(grace)
        self._lanes.close()
        await self.application.shutdown()

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /callback/telegram``: check the secret, acknowledge, process later."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("Telegram webhook with a wrong secret from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        raw = await request.read()
        if len(raw) > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            data = loads_json(raw)  # at most MAX_JSON_DEPTH levels: never a RecursionError
            if not isinstance(data, dict):
                raise TypeError("an update is a JSON object")
            update = Update.de_json(data, self.bot)
        except (ValueError, TypeError, KeyError, AttributeError):  # a shape the SDK cannot read
            return web.Response(status=400, text="invalid body")
        if update is None:
            return web.Response(status=400, text="invalid body")
        # Store, then acknowledge: Telegram does not send an update again after our 200.
        stored = [(str(update.update_id), json.dumps(data, ensure_ascii=False))]
        try:
            if self._inbox is None:
                raise RuntimeError("TelegramChannel.open() was not called")
            await self._inbox.accept(stored)
        except Exception:
            log.exception(
                "could not store Telegram update %s; it will be resent", update.update_id
            )
            return web.Response(status=503, text="try again")
        return web.Response(text="OK")

    async def _answer_stored(self, event: StoredEvent) -> None:
        """Answer one update from the inbox (raises when it must be tried again)."""
        update = Update.de_json(json.loads(event.body), self.bot)
        if update is None:
            return
        user = update.effective_user
        async with self._lanes.turn(str(user.id) if user else ""):
            await self._handle(update, event.event_id, again=event.attempts > 1)

    async def _handle(self, update: Update, event_id: str, *, again: bool = False) -> None:
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner first, whatever happens next.
            try:
                await query.answer()
            except TelegramError:
                log.info("answerCallbackQuery failed", exc_info=True)
            if query.message is None or query.from_user is None or not query.data:
                return
            chat_id = query.message.chat.id
            inbound = Inbound(
                PLATFORM,
                str(query.from_user.id),
                payload=query.data,
                locale=_locale(query.from_user),
                event_id=event_id,
                display_name=_display_name(query.from_user),
            )
        else:
            message = update.message
            if message is None or message.from_user is None or message.chat.type != "private":
                return  # this bot talks one to one
            chat_id = message.chat.id
            inbound = _inbound(message.text, str(message.from_user.id), _locale(message.from_user))
            inbound = dataclasses.replace(
                inbound, event_id=event_id, display_name=_display_name(message.from_user)
            )
        # The turn claims the update id in its first transaction: a repeat stops there.
        try:
            reply = await self._lanes.run(inbound)
        except AlreadyHandled:
            if not again:
                return
            # Taken again after a crash: the kept reply if the turn ended (Telegram has no
            # way to drop a repeat, so a crash just after sending may send it twice), else
            # the turn runs again (its claim released).
            kept = await asyncio.to_thread(
                self.conversation.replay, PLATFORM, inbound.user_id, event_id
            )
            if kept is None:
                raise RuntimeError(f"turn of update {event_id} had not ended: run again") from None
            reply = kept
        try:
            await self._send(chat_id, reply)
        except DeliveryError as exc:
            if exc.retry:
                await self._keep_for_later(inbound.user_id, reply)
            else:
                log.warning("Telegram refused a reply: %s", exc)
        if reply.rich_menu == "representative":  # just linked to a group: keep their name
            await self._remember_name(inbound)

    async def _remember_name(self, inbound: Inbound) -> None:
        """Keep a new representative's Telegram name for the console (best effort)."""
        if not inbound.display_name:
            return
        store = self.conversation.store
        try:
            await asyncio.to_thread(
                store.set_display_name, PLATFORM, inbound.user_id, inbound.display_name
            )
        except Exception:
            log.warning("a representative's name was not kept", exc_info=True)

    async def _send(self, chat_id: int | str, reply: Reply) -> None:
        for text, keyboard in render(reply):
            try:
                await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=keyboard)
            except RetryAfter as exc:
                raise DeliveryError(
                    f"Telegram 429, retry after {exc.retry_after}", retry=True
                ) from exc
            except Forbidden as exc:  # the user blocked the bot
                await asyncio.to_thread(
                    self.conversation.store.set_user_active, PLATFORM, str(chat_id), False
                )
                raise DeliveryError(f"Telegram 403: {exc}", retry=False) from exc
            except BadRequest as exc:
                raise DeliveryError(f"Telegram 400: {exc}", retry=False) from exc
            except NetworkError as exc:  # includes timeouts and 5xx
                raise DeliveryError(f"Telegram unreachable: {exc}", retry=True) from exc

    async def _keep_for_later(self, user_id: str, reply: Reply) -> None:
        body = {
            "text": reply.as_plain_text() if reply.cards else reply.text,
            "choices": [c.as_dict() for c in reply.buttons(links=True)],
        }
        kept = json.dumps(body, ensure_ascii=False)
        store = self.conversation.store
        if not await asyncio.to_thread(store.keep_reply, PLATFORM, user_id, kept):
            log.info("reply not kept: the user has been deleted")

    async def push(self, platform_user_id: str, body: dict[str, Any], retry_key: str) -> None:
        """The worker's sender (a private chat's id is the user's id)."""
        choices = [Choice.from_dict(c) for c in body.get("choices", [])]
        await self._send(
            platform_user_id, Reply(str(body.get("text", "")), "notice", choices=choices)
        )

    async def set_webhook(self, public_url: str) -> bool:
        """Register ``PUBLIC_URL/callback/telegram`` with our secret."""
        url = public_url.rstrip("/") + "/callback/telegram"
        return bool(
            await self.bot.set_webhook(
                url=url, secret_token=self.secret, allowed_updates=["message", "callback_query"]
            )
        )


def _locale(user: Any) -> str:
    return str(getattr(user, "language_code", None) or "ja")


def _display_name(user: Any) -> str | None:
    """「Hanako Yamada (@hanako)」 from a Telegram user's first and last name and username."""
    name = " ".join(p for p in (user.first_name, user.last_name) if p)
    handle = f"@{user.username}" if user.username else ""
    if name and handle:
        return f"{name} ({handle})"
    return name or handle or None


def _inbound(text: str | None, user_id: str, locale: str) -> Inbound:
    if text is None:
        return Inbound(PLATFORM, user_id, payload="nontext", locale=locale)  # stickers, photos
    command = text.strip().split("@")[0].lower()
    if command == "/start":
        return Inbound(PLATFORM, user_id, payload="welcome", locale=locale)
    if command in ("/help", "/menu"):
        return Inbound(PLATFORM, user_id, payload="help", locale=locale)
    return Inbound(PLATFORM, user_id, text=text, locale=locale)
