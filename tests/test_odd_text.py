"""Text no encoder takes: JSON may escape a lone UTF-16 surrogate (``"\\ud800"``), which
Python decodes into a string that no database, log or encoder accepts. On every path in (the
web chat, a signed LINE webhook, a Telegram update) the message is kept with U+FFFD in its
place and answered: never a 500, and never a 503 that makes a platform redeliver an event
that could never be stored."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.security import loads_json
from bot.server import create_app
from intents.types import Inbound, whole_characters
from storage.models import UnansweredQuestion
from tests import line_events as ev
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.test_telegram import message

AiohttpClient = Callable[..., Awaitable[TestClient]]
AiohttpServer = Callable[..., Awaitable[TestServer]]
LONE = "\ud800"  # a high surrogate with no low one after it
ODD = f"{LONE} zz {LONE}駐車場の料金は？"  # unanswerable, so it is also stored as unanswered
LINE_SECRET = "line-channel-secret-for-tests"
TELEGRAM_SECRET = "tg-webhook-secret_123"


def _unanswered(client: TestClient) -> list[str]:
    store = client.server.app[conversation_key].store
    with store.session() as s:
        return [q.text for q in s.exec(select(UnansweredQuestion)).all()]


def test_lone_surrogates_become_the_replacement_character() -> None:
    assert whole_characters(ODD) == "\ufffd zz \ufffd駐車場の料金は？"
    assert (
        whole_characters("絵文字😀はそのまま") == "絵文字😀はそのまま"
    )  # a real pair is one character
    assert Inbound("web", "u", text=ODD, payload=LONE).text == whole_characters(ODD)
    assert Inbound("web", "u", payload=LONE).payload == "\ufffd"
    parsed = loads_json(b'{"text": "\\ud800 a", "k\\udfff": ["\\udc00"], "ok": "\\ud83d\\ude00"}')
    assert parsed == {"text": "\ufffd a", "k\ufffd": ["\ufffd"], "ok": "😀"}


async def test_the_web_chat_answers_and_keeps_it(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}"))
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200  # the cookie
    body = json.dumps({"text": ODD})  # ensure_ascii: the surrogate goes as \ud800
    assert "\\ud800" in body
    res = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert res.status == 200
    assert (await res.json())["text"]
    assert _unanswered(client) == [whole_characters(ODD)]


@pytest.mark.parametrize("odd", [ODD, "協働ってなに？" + LONE])
async def test_a_signed_line_event_is_acknowledged_stored_and_answered(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path, odd: str
) -> None:
    fake = FakeLine()
    server = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'line.db'}",
        line_channel_secret=LINE_SECRET,
        line_channel_access_token=fake.token,
        line_api_base_url=str(server.make_url("")).rstrip("/"),
    )
    client = await aiohttp_client(create_app(settings))
    event = {"destination": "Ubot", "events": [ev.text("Uodd", odd)]}
    body = json.dumps(event).encode()  # ensure_ascii: as \ud800, the only way JSON carries it
    headers = {"Content-Type": "application/json", "X-Line-Signature": ev.sign(body, LINE_SECRET)}
    res = await client.post("/callback/line", data=io.BytesIO(body), headers=headers)
    assert res.status == 200
    (sent,) = await fake.wait_for(1)
    assert sent.messages
    assert all(m.get("text", "x").strip() for m in sent.messages)


async def test_a_telegram_update_is_acknowledged_stored_and_answered(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    server = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}",
        telegram_bot_token=fake.token,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=str(server.make_url("")).rstrip("/"),
        public_url="https://bot.example.jp",
    )
    client = await aiohttp_client(create_app(settings))
    body = json.dumps(message(77, ODD)).encode()
    headers = {"Content-Type": "application/json",
               "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}  # fmt: skip
    res = await client.post("/callback/telegram", data=io.BytesIO(body), headers=headers)
    assert res.status == 200
    await fake.wait_for("sendMessage", 1)
    assert fake.sent()[0]["text"].strip()
    assert _unanswered(client) == [whole_characters(ODD)]


@pytest.mark.parametrize("number", ["²", "١٢", "５"])  # digits to Python, not to int()
@pytest.mark.parametrize("kind", ["od", "os", "ow", "mc", "mx", "gd", "rc:edit"])
def test_a_button_with_a_number_that_is_not_ascii_is_a_stale_button(
    conversation: object, kind: str, number: str
) -> None:
    reply = conversation.handle(Inbound("test", "odd", payload=f"{kind}:{number}"))  # type: ignore[attr-defined]
    assert reply.intent == "stale_choice"


async def test_console_pages_with_a_number_that_is_not_ascii(
    aiohttp_client: Callable[..., Awaitable[TestClient]], tmp_path: Path
) -> None:
    from tests.test_admin import PASSWORD, sign_in

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'odd.db'}"))
    client = await aiohttp_client(app)
    client.server.app[conversation_key].store.create_staff("staff1", PASSWORD)
    assert await sign_in(client) == 303
    for path in ("/admin/unanswered?page=²", "/admin/unanswered?undo=²", "/admin/audit?page=²",
                 "/admin/groups?page=²", "/admin/calls?page=²"):  # fmt: skip
        assert (await client.get(path)).status == 200, path
