"""What the LINE tests share: the channel secret, a fake LINE API on loopback, the bot built
against it, signed posts to the webhook, and waiting for something the bot does after a reply."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.server import create_app
from tests import line_events as ev
from tests.fakes.line_api import FakeLine

SECRET = "line-channel-secret-for-tests"

AiohttpServer = Callable[..., Awaitable[TestServer]]
AiohttpClient = Callable[..., Awaitable[TestClient]]


async def serve_fake(aiohttp_server: AiohttpServer) -> tuple[FakeLine, str]:
    """A fake LINE API on loopback, and its base URL."""
    fake = FakeLine()
    server = await aiohttp_server(fake.app)
    return fake, str(server.make_url("")).rstrip("/")


def settings_for(fake: tuple[FakeLine, str], database: Path) -> Settings:
    """Settings that point the real line-bot-sdk client at the fake."""
    return Settings(
        database_url=f"sqlite:///{database}",
        line_channel_secret=SECRET,
        line_channel_access_token=fake[0].token,
        line_api_base_url=fake[1],
    )


async def serve_bot(
    aiohttp_client: AiohttpClient, fake: tuple[FakeLine, str], tmp_path: Path
) -> TestClient:
    """The real app, talking to the fake."""
    return await aiohttp_client(create_app(settings_for(fake, tmp_path / "line.db")))


async def post(client: TestClient, body: bytes, signature: str | None = "sign") -> int:
    """POST a webhook body, signed unless told otherwise; the answer's status."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Line-Signature"] = ev.sign(body, SECRET)
    elif signature is not None:
        headers["X-Line-Signature"] = signature
    response = await client.post("/callback/line", data=io.BytesIO(body), headers=headers)
    return response.status


def texts(sent: Any) -> str:
    """The texts of one request the fake accepted."""
    return "\n".join(m.get("text", "") for m in sent.messages)


async def eventually(check: Callable[[], bool], within: float = 2.5) -> bool:
    """Whether ``check`` comes true within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
