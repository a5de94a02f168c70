"""A fake Telegram Bot API on loopback: ``POST /bot<token>/<method>``, form-encoded or JSON,
checking the token, text ≤ 4,096 characters, ``callback_data`` 1-64 bytes (or one ``url``) and
``answerCallbackQuery`` text ≤ 200. It can be told to answer 429 (with ``retry_after``) or 500.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


def _fail(code: int, description: str, **extra: Any) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description, **extra}
    return web.json_response(body, status=code)


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-token"
    calls: list[Call] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post("/bot{token}/{method}", self._method)
        self._arrived = asyncio.Condition()
        self._message_id = 0

    def sent(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "sendMessage"]

    async def wait_for(self, method: str, count: int, within: float = 10.0) -> list[Call]:
        def enough() -> bool:
            return sum(c.method == method for c in self.calls) >= count

        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(enough)
        return [c for c in self.calls if c.method == method]

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _fail(401, "Unauthorized")
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            form = await request.post()
            params = {k: _maybe_json(str(v)) for k, v in form.items()}
        if method != "getMe" and self.fail_next:
            code = self.fail_next.pop(0)
            if code == 429:
                return _fail(
                    429, "Too Many Requests: retry after 3", parameters={"retry_after": 3}
                )
            return _fail(code, "Internal Server Error")
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _fail(404, "Not Found: method not found")
        result = handler(params)
        if isinstance(result, web.Response):
            return result
        async with self._arrived:
            self.calls.append(Call(method, params, time.monotonic()))
            self._arrived.notify_all()
        return web.json_response({"ok": True, "result": result})

    def _getMe(self, params: dict[str, Any]) -> Any:
        return {
            "id": 123456,
            "is_bot": True,
            "first_name": "つながる鎌倉",
            "username": "tsunagaru_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _sendMessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        if not text.strip():
            return _fail(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _fail(400, "Bad Request: message is too long")
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data", "")
                url = str(button.get("url", ""))
                if url and (data or not url.startswith(("https://", "http://", "tg://"))):
                    return _fail(400, "Bad Request: BUTTON_URL_INVALID")  # one of the two
                if not url and not 1 <= len(data.encode()) <= 64:
                    return _fail(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    return _fail(400, "Bad Request: button text is empty")
        self._message_id += 1
        chat_id = int(params["chat_id"])
        return {"message_id": self._message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"}, "text": text}  # fmt: skip

    def _answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if len(str(params.get("text", ""))) > 200:
            return _fail(400, "Bad Request: text is too long")
        return True

    def _setWebhook(self, params: dict[str, Any]) -> Any:
        secret = str(params.get("secret_token", ""))
        if not 1 <= len(secret) <= 256 or not secret.replace("_", "").replace("-", "").isalnum():
            return _fail(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True


def _maybe_json(value: str) -> Any:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
