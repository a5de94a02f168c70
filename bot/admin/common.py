"""What every console page uses: the signed-in session, the page layout, the audit log."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.adapters.web import conversation_key
from bot.admin import auth
from bot.admin.html import page
from intents.conversation import Conversation

secret_key = web.AppKey("admin_secret", str)
session_key = web.RequestKey("staff_session", auth.StaffSession)


def conversation(request: web.Request) -> Conversation:
    """The app's conversation (its store, FAQ, fields and places)."""
    return request.app[conversation_key]


def session(request: web.Request) -> auth.StaffSession:
    """The signed-in staff member (the guard has checked)."""
    return request[session_key]


def csrf(request: web.Request) -> str:
    """The CSRF token for this session's forms."""
    return auth.csrf_token(request.app[secret_key], session(request))


def render(request: web.Request, title: str, body: str, status: int = 200) -> web.Response:
    """A whole console page for the signed-in member."""
    html = page(title, body, user=session(request).username, csrf=csrf(request))
    return web.Response(text=html, content_type="text/html", status=status)


async def audit(request: web.Request, action: str, detail: str = "") -> None:
    """Write who did what to the audit log."""
    store = conversation(request).store
    await asyncio.to_thread(store.audit, session(request).username, action, detail)
