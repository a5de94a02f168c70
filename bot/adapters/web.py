"""The local web chat: a page at ``/`` and a JSON endpoint it talks to.

``POST /api/chat`` takes ``{"user", "text"}`` or ``{"user", "payload"}`` (and optionally
``"locale"``) and answers with :meth:`intents.types.Reply.to_dict`.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from aiohttp import web

from intents.conversation import Conversation
from intents.types import Inbound

PLATFORM = "web"
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_BODY = 64 * 1024
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

conversation_key = web.AppKey("conversation", Conversation)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def chat_page(_request: web.Request) -> web.FileResponse:
    """The chat page (plain HTML, no external resources)."""
    return web.FileResponse(STATIC / "chat.html")


async def chat_api(request: web.Request) -> web.Response:
    """One message from the web chat."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, "メッセージが大きすぎます。")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return _error(400, "リクエストの形式が正しくありません。")
    if not isinstance(body, dict):
        return _error(400, "リクエストの形式が正しくありません。")
    user, text, payload = body.get("user"), body.get("text"), body.get("payload")
    locale = body.get("locale") if isinstance(body.get("locale"), str) else "ja"
    if not isinstance(user, str) or not _USER_ID.match(user):
        return _error(400, "user は 1〜64 文字の英数字で指定してください。")
    if not isinstance(text, str | None) or not isinstance(payload, str | None):
        return _error(400, "text と payload は文字列で指定してください。")
    inbound = Inbound(PLATFORM, user, text=text, payload=payload, locale=str(locale)[:8])
    reply = await asyncio.to_thread(request.app[conversation_key].handle, inbound)
    return web.json_response(reply.to_dict(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


def add_routes(app: web.Application) -> None:
    """Mount the web chat on ``app``."""
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat", chat_api)
    app.router.add_static("/static/", STATIC, show_index=False)
