"""A fake LINE Messaging API on loopback that checks what the real one checks.

Requests are rebuilt through line-bot-sdk's own models (``ReplyMessageRequest.from_dict``) to
get the OpenAPI-level checks, and the prose limits the SDK does not enforce are checked here:
5,000 UTF-16 units of text, 20-character quick-reply labels, 12 bubbles, 30/50 KB of Flex …
It can be told to fail: the next requests answer 500, hang (a timeout), or 429.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from linebot.v3.messaging import (
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)

MAX_MESSAGES = 5


@dataclass
class Sent:
    """One accepted message request."""

    kind: str  # reply | push
    to: str | None
    reply_token: str | None
    messages: list[dict[str, Any]]
    retry_key: str | None
    at: float


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_messages(messages: list[dict[str, Any]]) -> list[str]:
    """The limits LINE enforces that the SDK's models let through."""
    problems = []
    if not 1 <= len(messages) <= MAX_MESSAGES:
        problems.append(f"{len(messages)} messages (1-5)")
    for m in messages:
        if m.get("type") == "text" and utf16(m.get("text", "")) > 5000:
            problems.append("text over 5000 UTF-16 units")
        if m.get("type") == "text" and not m.get("text", "").strip():
            problems.append("empty text")
        items = (m.get("quickReply") or {}).get("items", [])
        if len(items) > 13:
            problems.append("more than 13 quick replies")
        for item in items:
            problems += _check_action(item.get("action", {}), label_limit=20)
        if m.get("type") == "flex":
            if len(m.get("altText", "")) > 1500:
                problems.append("altText over 1500")
            contents = m.get("contents", {})
            if contents.get("type") == "carousel":
                bubbles = contents.get("contents", [])
                if len(bubbles) > 12:
                    problems.append("more than 12 bubbles")
                if len(json.dumps(contents).encode()) > 50_000:
                    problems.append("carousel over 50 KB")
                if len({b.get("size", "mega") for b in bubbles}) > 1:
                    problems.append("bubbles of different sizes")
            else:
                bubbles = [contents]
            for bubble in bubbles:
                if len(json.dumps(bubble).encode()) > 30_000:
                    problems.append("bubble over 30 KB")
                for action in _actions(bubble):
                    problems += _check_action(action, label_limit=40)
    return problems


def _actions(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "button" and "action" in node:
            found.append(node["action"])
        for value in node.values():
            found += _actions(value)
    elif isinstance(node, list):
        for value in node:
            found += _actions(value)
    return found


def _check_action(action: dict[str, Any], label_limit: int) -> list[str]:
    problems = []
    if len(action.get("label", "")) > label_limit:
        problems.append(f"label over {label_limit}: {action.get('label')}")
    if action.get("type") == "postback":
        if len(action.get("data", "").encode()) > 300:
            problems.append("postback data over 300 bytes")
        if len(action.get("displayText", "")) > 300:
            problems.append("displayText over 300")
    return problems


def _error(status: int, message: str, details: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status)


@dataclass
class FakeLine:
    """State and behaviour of the fake API; ``app`` is the aiohttp application to serve."""

    token: str = "line-test-token"
    sent: list[Sent] = field(default_factory=list)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    loading: list[str] = field(default_factory=list)
    rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    rich_menu_images: dict[str, bytes] = field(default_factory=dict)
    default_rich_menu: str | None = None
    user_rich_menus: dict[str, str] = field(default_factory=dict)  # linked per user
    fail_next: list[int | str] = field(default_factory=list)  # statuses, or "timeout"
    expired_tokens: set[str] = field(default_factory=set)
    used_tokens: set[str] = field(default_factory=set)
    retry_keys: set[str] = field(default_factory=set)
    tried_keys: list[str | None] = field(default_factory=list)  # of every push and multicast
    lose_answers: int = 0  # the next pushes are accepted, but answered 500 (a lost answer)
    hang_seconds: float = 30.0
    loading_delay: float = 0.0  # seconds each loading request takes to answer
    loading_in_flight: int = 0
    most_loading_in_flight: int = 0
    profiles: dict[str, str] = field(default_factory=dict)  # user id → displayName
    profile_requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = web.Application(client_max_size=4 * 1024 * 1024)
        self.app.router.add_post("/v2/bot/message/reply", self._reply)
        self.app.router.add_post("/v2/bot/message/push", self._push)
        self.app.router.add_post("/v2/bot/message/multicast", self._multicast)
        self.app.router.add_post("/v2/bot/chat/loading/start", self._loading)
        self.app.router.add_post("/v2/bot/richmenu", self._create_rich_menu)
        self.app.router.add_post("/v2/bot/richmenu/{id}/content", self._rich_menu_image)
        self.app.router.add_post("/v2/bot/user/all/richmenu/{id}", self._default_rich_menu)
        self.app.router.add_post("/v2/bot/user/{user}/richmenu/{id}", self._link_rich_menu)
        self.app.router.add_delete("/v2/bot/user/{user}/richmenu", self._unlink_rich_menu)
        self.app.router.add_get("/v2/bot/profile/{user}", self._profile)
        self._arrived = asyncio.Condition()

    async def wait_for(self, count: int, within: float = 10.0) -> list[Sent]:
        """Wait until at least ``count`` message requests were accepted."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.sent) >= count)
        return self.sent

    async def _gate(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Authentication failed. Confirm that the access token is valid.")
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if failure == "timeout":
                await asyncio.sleep(self.hang_seconds)
                return _error(504, "timeout")
            return _error(
                int(failure), "The server is busy" if failure != 429 else "Too Many Requests"
            )
        return None

    async def _record(self, sent: Sent) -> None:
        async with self._arrived:
            self.sent.append(sent)
            self._arrived.notify_all()

    async def _messages(
        self,
        request: web.Request,
        model: type[ReplyMessageRequest] | type[PushMessageRequest],
        kind: str,
    ) -> tuple[Any, dict[str, Any]] | web.Response:
        """Authorise, then rebuild the body with the SDK's model and check the prose limits."""
        if (refused := await self._gate(request)) is not None:
            return refused
        body = await request.json()
        try:
            parsed = model.from_dict(body)
        except ValueError as exc:
            return _error(
                400,
                "The request body has 1 error(s)",
                [{"message": str(exc)[:200], "property": ""}],
            )
        problems = check_messages(body.get("messages", []))
        if problems:
            self.rejected.append((kind, problems))
            return _error(
                400,
                "The request body has error(s)",
                [{"message": p, "property": "messages"} for p in problems],
            )
        return parsed, body

    async def _reply(self, request: web.Request) -> web.Response:
        checked = await self._messages(request, ReplyMessageRequest, "reply")
        if isinstance(checked, web.Response):
            return checked
        parsed, body = checked
        token = parsed.reply_token
        if token in self.expired_tokens or token in self.used_tokens:
            return _error(400, "Invalid reply token")
        self.used_tokens.add(token)
        await self._record(Sent("reply", None, token, body["messages"], None, time.monotonic()))
        sent = [{"id": str(i), "quoteToken": "q"} for i, _ in enumerate(body["messages"])]
        return web.json_response({"sentMessages": sent})

    async def _push(self, request: web.Request) -> web.Response:
        checked = await self._messages(request, PushMessageRequest, "push")
        if isinstance(checked, web.Response):
            return checked
        parsed, body = checked
        key = request.headers.get("X-Line-Retry-Key")
        if (repeat := self._repeat(key)) is not None:
            return repeat
        await self._record(Sent("push", parsed.to, None, body["messages"], key, time.monotonic()))
        return self._accepted({"sentMessages": [{"id": "1", "quoteToken": "q"}]})

    def _repeat(self, key: str | None) -> web.Response | None:
        """LINE's answer to a retry key it accepted before (409), else None."""
        self.tried_keys.append(key)
        if key is None:
            return None
        if key in self.retry_keys:
            return _error(409, "The retry key is already accepted")
        self.retry_keys.add(key)
        return None

    def _accepted(self, body: dict[str, Any]) -> web.Response:
        if self.lose_answers > 0:  # it was sent; the answer is lost on the way back
            self.lose_answers -= 1
            return _error(500, "The server is busy")
        return web.json_response(body)

    async def _multicast(self, request: web.Request) -> web.Response:
        checked = await self._messages(request, MulticastRequest, "multicast")
        if isinstance(checked, web.Response):
            return checked
        parsed, body = checked
        if not 1 <= len(parsed.to) <= 500:
            return _error(400, "to: 1-500 user ids")
        key = request.headers.get("X-Line-Retry-Key")
        if (repeat := self._repeat(key)) is not None:
            return repeat
        for user in parsed.to:
            await self._record(
                Sent("multicast", user, None, body["messages"], key, time.monotonic())
            )
        return self._accepted({})

    async def _loading(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        body = await request.json()
        try:
            ShowLoadingAnimationRequest.from_dict(body)  # the OpenAPI checks (chatId required …)
        except ValueError as exc:
            details = [{"message": str(exc)[:200], "property": ""}]
            return _error(400, "The request body has 1 error(s)", details)
        seconds = body.get("loadingSeconds", 20)
        if not (5 <= seconds <= 60 and seconds % 5 == 0):
            return _error(400, "loadingSeconds must be 5-60, a multiple of 5")
        self.loading.append(body["chatId"])
        self.loading_in_flight += 1
        self.most_loading_in_flight = max(self.most_loading_in_flight, self.loading_in_flight)
        try:
            await asyncio.sleep(self.loading_delay)
        finally:
            self.loading_in_flight -= 1
        return web.json_response({}, status=202)

    async def _create_rich_menu(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        body = await request.json()
        RichMenuRequest.from_dict(body)
        if len(body.get("chatBarText", "")) > 14 or len(body.get("areas", [])) > 20:
            return _error(400, "chatBarText ≤ 14 and ≤ 20 areas")
        menu_id = f"richmenu-{len(self.rich_menus) + 1:032d}"
        self.rich_menus[menu_id] = body
        return web.json_response({"richMenuId": menu_id})

    async def _rich_menu_image(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        menu_id = request.match_info["id"]
        data = await request.read()
        if menu_id not in self.rich_menus:
            return _error(404, "Not found")
        if request.content_type not in ("image/png", "image/jpeg") or len(data) > 1024 * 1024:
            return _error(400, "image must be PNG/JPEG ≤ 1 MB")
        if not data.startswith(b"\x89PNG"):
            return _error(400, "not a PNG")
        self.rich_menu_images[menu_id] = data
        return web.json_response({})

    async def _default_rich_menu(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        menu_id = request.match_info["id"]
        if menu_id not in self.rich_menu_images:
            return _error(400, "upload the image first")
        self.default_rich_menu = menu_id
        return web.json_response({})

    async def _link_rich_menu(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        menu_id, user = request.match_info["id"], request.match_info["user"]
        if menu_id not in self.rich_menus or menu_id not in self.rich_menu_images:
            return _error(400, "richmenu not found or has no image")  # LINE checks both
        self.user_rich_menus[user] = menu_id
        return web.json_response({})

    async def _unlink_rich_menu(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        self.user_rich_menus.pop(request.match_info["user"], None)
        return web.json_response({})

    async def _profile(self, request: web.Request) -> web.Response:
        """``GET /v2/bot/profile/{userId}``: 404 for a user who is not a friend of the bot."""
        if (refused := await self._gate(request)) is not None:
            return refused
        user = request.match_info["user"]
        self.profile_requests.append(user)
        if user not in self.profiles:
            return _error(404, "Not found")
        return web.json_response(
            {"userId": user, "displayName": self.profiles[user], "language": "ja"}
        )
