"""The local web chat: a page at ``/`` and a JSON endpoint it talks to.

``POST /api/chat`` takes ``application/json`` only: ``{"text"}`` or ``{"payload"}`` (and
optionally ``"locale"``), and answers with :meth:`intents.types.Reply.to_dict`.
``GET /api/last-reply`` gives the page, after a reload, the last reply the person got while it
still offers buttons (a form waiting for a tap); ``GET /api/words`` the page's own words
from ``knowledge/messages.toml``; ``/favicon.ico`` the icon. ``GET /calendar/<token>.ics`` is
a confirmed sign-up's 「カレンダーに追加」 file (``bot/calendar.py``).

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
from functools import cache, partial
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import calendar
from bot.adapters.ratelimit import ChatLimits
from bot.security import edge_key, loads_json
from intents.calendar_links import calendar_entry, calendar_sign_up
from intents.conversation import Conversation
from intents.types import Choice, Inbound, Reply
from knowledge.messages import LANGUAGES
from storage.call_changes import TAKES_PLACE

PLATFORM = "web"
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_BODY = 64 * 1024
COOKIE = "tsunagaru_chat"
COOKIE_SECONDS = 365 * 24 * 3600  # the person stays the same person (their sign-ups) a year
_COOKIE_VALUE = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{64})$")
# The page's name for a word -> its messages.toml key (chat.html's {{name}}; chat.js's words).
PAGE_WORDS = {
    "title": "web_title", "placeholder": "web_placeholder", "send": "web_send",
    "label": "web_message_label", "log": "web_log_label", "choices": "web_choices_label",
    "other": "web_other_language", "error": "web_unreachable", "typing": "web_typing",
}  # fmt: skip
PAGE_LOCALE = "ja"  # the page's words before the script knows the person's language
PRIVATE = {"Cache-Control": "no-store"}  # one person's conversation: never from a cache

conversation_key = web.AppKey("conversation", Conversation)
cookie_key = web.AppKey("web_chat_cookie_key", str)
calendar_key = web.AppKey("calendar_key", str)
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


async def chat_page(request: web.Request) -> web.Response:
    """The chat page (plain HTML, no external resources), its ``{{name}}`` marks filled with
    the page's words (``PAGE_WORDS``) in Japanese; (re)sets the person's cookie."""
    person, _ = _identify(request)
    html = _PAGE_MARK.sub(
        lambda m: escape(_words(request, PAGE_WORDS[m.group(1)], PAGE_LOCALE)), _page()
    )
    response = web.Response(text=html, content_type="text/html", headers=PRIVATE)
    _set_cookie(request, response, person)  # a known person's cookie lasts another year
    return response


_PAGE_MARK = re.compile(r"\{\{(\w+)\}\}")


@cache
def _page() -> str:
    """chat.html, read once (not from the disk in the event loop at every visit)."""
    return (STATIC / "chat.html").read_text(encoding="utf-8")


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
        response = web.json_response(_shown(request, reply), dumps=_dumps)
    if new:
        _set_cookie(request, response, person)
    return response


async def last_reply(request: web.Request) -> web.Response:
    """``{"reply": …}``: the last reply the cookie's person got, as ``POST /api/chat`` gave it
    (without the notices, shown then), while it has buttons; else ``{"reply": null}``."""
    person = read_cookie(request.app[cookie_key], request.cookies.get(COOKIE))
    found = None
    if person is not None:
        conversation = request.app[conversation_key]
        found = await asyncio.to_thread(conversation.last_reply, PLATFORM, person)
    shown = None
    if found is not None and found.buttons():
        found.notices.clear()
        shown = _shown(request, found)
    return web.json_response({"reply": shown}, headers=PRIVATE, dumps=_dumps)


async def page_words(request: web.Request) -> web.Response:
    """The page's words in every language: ``{"ja": {"typing": …}, "en": {…}}``."""
    words = {
        lang: {name: _words(request, key, lang) for name, key in PAGE_WORDS.items()}
        for lang in LANGUAGES
    }
    return web.json_response(words, dumps=_dumps)


async def favicon(request: web.Request) -> web.FileResponse:
    """``/favicon.ico``, which browsers ask for on their own: the page's icon (SVG)."""
    return web.FileResponse(STATIC / "favicon.svg", headers={"Cache-Control": "max-age=86400"})


# --- 「カレンダーに追加」: an .ics download here (the other platforms link to Google) ---


def _shown(request: web.Request, reply: Reply) -> dict[str, Any]:
    """The reply as the page gets it: a calendar link becomes this server's ``.ics`` link."""
    shown = reply.to_dict()
    key = request.app[calendar_key]
    every = [*shown["choices"], *(b for card in shown["cards"] for b in card["buttons"])]
    for choice in every:
        sign_up_id = calendar_sign_up(Choice.from_dict(choice)) if "url" in choice else None
        if sign_up_id is not None:  # relative: the page and the file come from this server
            choice["url"] = f"/calendar/{calendar.token(key, sign_up_id)}.ics"
    return shown


async def calendar_file(request: web.Request) -> web.Response:
    """``GET /calendar/<token>.ics``: a confirmed sign-up as an iCalendar event; 404 for a
    token that is not ours (or a sign-up deleted), 410 once it is cancelled or the call is
    called off (``bot/calendar.py`` says why not an event with STATUS:CANCELLED)."""
    conversation = request.app[conversation_key]
    locale = conversation.messages.language(request.headers.get("Accept-Language", "ja"))
    key = request.app[calendar_key]
    sign_up_id = calendar.read_token(key, request.match_info["token"])
    found = None
    if sign_up_id is not None:
        found = await asyncio.to_thread(conversation.store.sign_up_view, sign_up_id)
    if found is None:
        return _text(404, _words(request, "calendar_unknown", locale))
    if found.status != "confirmed" or found.call.status not in TAKES_PLACE:
        return _text(410, _words(request, "calendar_gone", locale))
    entry = calendar_entry(conversation.messages, locale, found.call)
    body = calendar.ics(entry, calendar.uid(key, found.id), conversation.clock())
    return web.Response(
        text=body, content_type="text/calendar", charset="utf-8",
        headers={**PRIVATE, "Content-Disposition": 'attachment; filename="tsunagaru.ics"'},
    )  # fmt: skip


def _text(status: int, said: str) -> web.Response:
    return web.Response(status=status, text=said, content_type="text/plain", headers=PRIVATE)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def keys(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``, after the database is open: the cookie key every process shares."""
    store = app[conversation_key].store
    app[cookie_key] = await asyncio.to_thread(store.shared_secret, "webchat")
    app[calendar_key] = await asyncio.to_thread(store.shared_secret, "calendar")
    yield


def add_routes(app: web.Application) -> None:
    """Mount the web chat on ``app`` (its limits with the real clock; a test may replace
    ``app[limits_key]`` before the app starts)."""
    app[limits_key] = ChatLimits()
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat", chat_api)
    app.router.add_get(r"/calendar/{token:[0-9]{1,18}-[0-9a-f]{32}}.ics", calendar_file)
    app.router.add_get("/api/last-reply", last_reply)
    app.router.add_get("/api/words", page_words)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static/", STATIC, show_index=False)
