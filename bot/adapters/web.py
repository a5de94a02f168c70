"""The local web chat: a page at ``/`` and a JSON endpoint it talks to.

``POST /api/chat`` takes ``application/json`` only: ``{"text"}`` or ``{"payload"}`` (and
optionally ``"locale"``), and answers with :meth:`intents.types.Reply.to_dict`.

Who is writing is the server's word, never the client's: a random id in a signed cookie
(HMAC-SHA256 with a key every process shares, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over
https), set by ``GET /`` or by the first message without one. A ``user`` in the body is
ignored. Messages and sign-ups are rate-limited per person and per address
(:mod:`bot.adapters.ratelimit`); past the limit a message gets 429 with a kind reply the page
shows, a sign-up a kind reply and nothing stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.adapters.ratelimit import ChatLimits
from bot.security import edge_key, loads_json
from intents.conversation import Conversation
from intents.types import Inbound

PLATFORM = "web"
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_BODY = 64 * 1024
COOKIE = "tsunagaru_chat"
COOKIE_SECONDS = 365 * 24 * 3600  # the person stays the same person (their sign-ups) a year
_COOKIE_VALUE = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{64})$")

conversation_key = web.AppKey("conversation", Conversation)
cookie_key = web.AppKey("web_chat_cookie_key", str)
limits_key = web.AppKey("web_chat_limits", ChatLimits)


def _sign(key: str, person: str) -> str:
    return hmac.new(key.encode(), f"webchat:{person}".encode(), hashlib.sha256).hexdigest()


def read_cookie(key: str, value: str | None) -> str | None:
    """The person a cookie names, if its signature is ours."""
    found = _COOKIE_VALUE.match(value or "")
    if found is None or not hmac.compare_digest(_sign(key, found[1]), found[2]):
        return None
    return found[1]


def _identify(request: web.Request) -> tuple[str, bool]:
    """The person writing, and whether they are new (their cookie is to be set)."""
    person = read_cookie(request.app[cookie_key], request.cookies.get(COOKIE))
    return (person, False) if person else (secrets.token_hex(16), True)


def _set_cookie(request: web.Request, response: web.StreamResponse, person: str) -> None:
    response.set_cookie(
        COOKIE, f"{person}.{_sign(request.app[cookie_key], person)}", max_age=COOKIE_SECONDS,
        path="/", httponly=True, samesite="Lax", secure=request.app[edge_key].is_https(request),
    )  # fmt: skip


def _words(request: web.Request, key: str, locale: str, **values: object) -> str:
    return request.app[conversation_key].messages.get(key, locale, **values)


def _error(request: web.Request, status: int, key: str, locale: str) -> web.Response:
    return web.json_response({"error": _words(request, key, locale)}, status=status, dumps=_dumps)


async def chat_page(request: web.Request) -> web.FileResponse:
    """The chat page (plain HTML, no external resources); (re)sets the person's cookie."""
    person, _ = _identify(request)
    response = web.FileResponse(STATIC / "chat.html")
    _set_cookie(request, response, person)  # a known person's cookie lasts another year
    return response


async def chat_api(request: web.Request) -> web.Response:
    """One message from the web chat."""
    # The language of an error before the body is read: the browser's.
    locale = request.headers.get("Accept-Language", "ja")
    if request.content_type != "application/json":  # a cross-site form cannot send this
        return _error(request, 415, "web_json_only", locale)
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(request, 413, "web_too_large", locale)
    raw = await request.read()
    if len(raw) > MAX_BODY:
        return _error(request, 413, "web_too_large", locale)
    try:
        body: Any = loads_json(raw)
    except ValueError:
        return _error(request, 400, "web_bad_request", locale)
    if not isinstance(body, dict):
        return _error(request, 400, "web_bad_request", locale)
    text, payload = body.get("text"), body.get("payload")
    locale = str(body["locale"])[:8] if isinstance(body.get("locale"), str) else "ja"
    if not isinstance(text, str | None) or not isinstance(payload, str | None):
        return _error(request, 400, "web_bad_fields", locale)
    person, new = _identify(request)
    address = request.app[edge_key].client_address(request)
    limits = request.app[limits_key]
    wait = limits.message(person, address)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        said = _words(request, "web_too_fast", locale, seconds=seconds)
        response = web.json_response(
            {"error": said, "message": said, "retry_after": seconds},
            status=429,
            headers={"Retry-After": str(seconds)},
            dumps=_dumps,
        )
    else:
        inbound = Inbound(
            PLATFORM, person, text=text, payload=payload, locale=locale,
            allow_sign_up=partial(limits.sign_up, person, address),
        )  # fmt: skip
        reply = await asyncio.to_thread(request.app[conversation_key].handle, inbound)
        response = web.json_response(reply.to_dict(), dumps=_dumps)
    if new:
        _set_cookie(request, response, person)
    return response


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def keys(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``, after the database is open: the cookie key every process shares."""
    store = app[conversation_key].store
    app[cookie_key] = await asyncio.to_thread(store.shared_secret, "webchat")
    yield


def add_routes(app: web.Application) -> None:
    """Mount the web chat on ``app`` (its limits with the real clock; a test may replace
    ``app[limits_key]`` before the app starts)."""
    app[limits_key] = ChatLimits()
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat", chat_api)
    app.router.add_static("/static/", STATIC, show_index=False)
