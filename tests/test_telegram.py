"""Telegram end to end: updates into the real aiohttp app, python-telegram-bot talking to a
fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.telegram import TelegramChannel, render, split_text
from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import channels_key, create_app
from bot.worker import Worker
from intents.types import Card, Choice, Reply
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import open_call

SECRET = "tg-webhook-secret_123"
AiohttpServer = Callable[..., Awaitable[TestServer]]
AiohttpClient = Callable[..., Awaitable[TestClient]]
_ids = itertools.count(1000)


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> tuple[FakeTelegram, str]:
    fake = FakeTelegram()
    server = await aiohttp_server(fake.app)
    return fake, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def bot(
    aiohttp_client: AiohttpClient, fake: tuple[FakeTelegram, str], tmp_path: Path
) -> TestClient:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}",
        telegram_bot_token=fake[0].token,
        telegram_webhook_secret=SECRET,
        telegram_api_base_url=fake[1],
        public_url="https://bot.example.jp",
    )
    return await aiohttp_client(create_app(settings))


def _user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "Taro", "language_code": "ja"}


def message(uid: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    n = next(_ids)
    return {
        "update_id": update_id or n,
        "message": {
            "message_id": n,
            "date": 1764039600,
            "chat": {"id": uid, "type": "private", "first_name": "Taro"},
            "from": _user(uid),
            "text": text,
            **({"entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}
               if text.startswith("/") else {}),
        },
    }  # fmt: skip


def callback(uid: int, data: str) -> dict[str, Any]:
    n = next(_ids)
    return {
        "update_id": n,
        "callback_query": {
            "id": f"cb{n}",
            "from": _user(uid),
            "chat_instance": "42",
            "data": data,
            "message": {
                "message_id": n,
                "date": 1764039600,
                "chat": {"id": uid, "type": "private", "first_name": "Taro"},
                "from": {"id": 123456, "is_bot": True, "first_name": "bot"},
                "text": "…",
            },
        },
    }


async def send(client: TestClient, update: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    data = io.BytesIO(json.dumps(update, ensure_ascii=False).encode())
    response = await client.post("/callback/telegram", data=data, headers=headers)
    return response.status


async def test_start_and_a_question(bot: TestClient, fake: tuple[FakeTelegram, str]) -> None:
    assert await send(bot, message(7, "/start")) == 200
    assert await send(bot, message(7, "ボランティア中のケガの補償は？")) == 200
    welcome, answer = await fake[0].wait_for("sendMessage", 2)
    assert "案内ボット" in welcome.params["text"]
    assert "（指針 6(2)イ" in answer.params["text"]
    keyboard = answer.params["reply_markup"]["inline_keyboard"]
    assert any(b["text"] == "役に立った" for row in keyboard for b in row)


async def test_button_press_is_answered_and_routed(
    bot: TestClient, fake: tuple[FakeTelegram, str]
) -> None:
    await send(bot, callback(8, "faq:kyodo-principles"))
    (answered,) = await fake[0].wait_for("answerCallbackQuery", 1)
    (reply,) = await fake[0].wait_for("sendMessage", 1)
    assert answered.params["callback_query_id"].startswith("cb")
    assert "対等" in reply.params["text"]


async def test_group_cards_become_numbered_buttons(
    bot: TestClient, fake: tuple[FakeTelegram, str]
) -> None:
    await send(bot, message(9, "由比ヶ浜でごみ拾いしてる団体を探してます"))
    (reply,) = await fake[0].wait_for("sendMessage", 1)
    assert "①" in reply.params["text"]
    labels = [b["text"] for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0].startswith("①")


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
async def test_wrong_secret_is_403_and_nothing_happens(
    bot: TestClient, fake: tuple[FakeTelegram, str], secret: str | None
) -> None:
    assert await send(bot, message(10, "協働って何"), secret) == 403
    await asyncio.sleep(0.2)
    assert fake[0].sent() == []


async def test_retried_update_is_processed_once(
    bot: TestClient, fake: tuple[FakeTelegram, str]
) -> None:
    update = message(11, "基金って何", update_id=777)
    assert await send(bot, update) == 200
    await fake[0].wait_for("sendMessage", 1)
    assert await send(bot, update) == 200
    await asyncio.sleep(0.3)
    assert len(fake[0].sent()) == 1


async def test_bad_bodies(bot: TestClient) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    assert (await bot.post("/callback/telegram", data=b"{nope", headers=headers)).status == 400
    huge = io.BytesIO(b'{"update_id": 1, "x": "' + b"a" * 2_000_000 + b'"}')
    assert (await bot.post("/callback/telegram", data=huge, headers=headers)).status == 413


async def test_flood_limit_reply_is_delivered_later(
    bot: TestClient, fake: tuple[FakeTelegram, str]
) -> None:
    fake[0].fail_next = [429]
    await send(bot, message(12, "中間支援組織とは"))
    store = bot.server.app[conversation_key].store
    for _ in range(100):
        if store.outbox_pending():
            break
        await asyncio.sleep(0.02)
    assert store.outbox_pending() == 1
    worker = Worker(
        bot.server.app[conversation_key], {"telegram": bot.server.app[channels_key]["telegram"]}
    )
    assert (await worker.run_once())["sent"] == 1
    (reply,) = fake[0].sent()
    assert "中間支援" in reply["text"]


async def test_set_webhook(bot: TestClient, fake: tuple[FakeTelegram, str]) -> None:
    channel: TelegramChannel = bot.server.app[channels_key]["telegram"]
    assert await channel.set_webhook("https://bot.example.jp/")
    assert fake[0].webhook["url"] == "https://bot.example.jp/callback/telegram"
    assert fake[0].webhook["secret_token"] == SECRET


def test_render_limits() -> None:
    cards = [Card(f"団体{i}", "説明" * 500, (Choice("詳しく見る", f"gd:{i}"),)) for i in range(5)]
    choices = [Choice(f"選択肢{i}", f"faq:x{i}") for i in range(13)]
    parts = render(Reply("あ" * 9000, "x", choices=choices, cards=cards))
    assert all(len(text) <= 4096 for text, _ in parts)
    assert parts[-1][1] is not None
    assert all(markup is None for _, markup in parts[:-1])
    for row in parts[-1][1].inline_keyboard:
        for button in row:
            assert 1 <= len(str(button.callback_data).encode()) <= 64
    assert split_text("") == [" "]


async def test_sign_up_by_buttons(bot: TestClient, fake: tuple[FakeTelegram, str]) -> None:

    store = bot.server.app[conversation_key].store
    _, call_id = open_call(store, ("telegram", "900"))
    steps: list[dict[str, Any]] = [
        message(13, "由比ヶ浜のボランティア"),
        callback(13, f"os:{call_id}"),
        callback(13, "f:v:yes"),
        message(13, "田中"),
        message(13, "tanaka@example.jp"),
        callback(13, "f:v:18"),
        callback(13, "f:v:yes"),
    ]
    for n, update in enumerate(steps, 1):
        await send(bot, update)
        await fake[0].wait_for("sendMessage", n)
    done = fake[0].sent()[-1]
    assert "申し込みました" in done["text"]
    assert len(await fake[0].wait_for("answerCallbackQuery", 4)) == 4
    worker = Worker(
        bot.server.app[conversation_key], {"telegram": bot.server.app[channels_key]["telegram"]}
    )
    assert (await worker.run_once())["sent"] == 1  # the representative hears of it
    assert "新しい申し込み" in fake[0].sent()[-1]["text"]
    assert str(fake[0].sent()[-1]["chat_id"]) == "900"


async def test_platform_commands(fake: tuple[FakeTelegram, str], tmp_path: Path) -> None:
    import argparse

    from bot.platforms import run_platform_command

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cmd.db'}",
        telegram_bot_token=fake[0].token,
        telegram_webhook_secret=SECRET,
        telegram_api_base_url=fake[1],
        public_url="https://bot.example.jp",
    )
    args = argparse.Namespace(command="telegram", telegram_command="set-webhook")
    assert await run_platform_command(args, settings) == 0
    assert fake[0].webhook["url"] == "https://bot.example.jp/callback/telegram"
    once = argparse.Namespace(command="worker", once=True, interval=1.0)
    assert await run_platform_command(once, settings) == 0
