"""The aiohttp application: web chat, platform webhooks and the health check.

``create_app`` is the factory; the database and the platform clients are opened and closed in
``cleanup_ctx`` (the SDK clients make their HTTP sessions there, inside the running loop).
Graceful shutdown: webhook work still in flight is awaited before the clients close.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from bot import security
from bot.adapters import web as web_chat
from bot.admin import views as admin
from bot.config import Settings
from bot.platforms import Channel, open_channels
from bot.runtime import open_conversation
from intents.conversation import Conversation

log = logging.getLogger(__name__)

settings_key = web.AppKey("settings", Settings)
channels_key = web.AppKey("channels", dict[str, Channel])
MAX_REQUEST = 1024 * 1024
HEALTH_TIMEOUT = 5.0  # seconds
PROCESS_NAME = f"serve:{socket.gethostname()}:{os.getpid()}"


async def _database(app: web.Application) -> AsyncIterator[None]:
    conversation = await asyncio.to_thread(open_conversation, app[settings_key])
    app[web_chat.conversation_key] = conversation
    app[admin.secret_key] = await asyncio.to_thread(conversation.store.shared_secret, "cookie")
    log.info("database ready: %s", conversation.store.describe())
    refresher = asyncio.create_task(_learn_phrasings(conversation))
    yield
    refresher.cancel()
    conversation.store.close()


async def _learn_phrasings(conversation: Conversation, every: float = 30.0) -> None:
    """Phrasings staff attach in another process reach this one within ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        try:
            found = await asyncio.to_thread(conversation.store.phrasings)
            added = await asyncio.to_thread(conversation.faq.add_phrasings, found)
            if added:
                log.info("learned %d new FAQ phrasings", added)
        except Exception:
            log.exception("could not refresh FAQ phrasings")


async def _platforms(app: web.Application) -> AsyncIterator[None]:
    channels = await open_channels(app[settings_key], app[web_chat.conversation_key])
    app[channels_key] = channels
    log.info("platforms on: %s", ", ".join(["web chat", *channels]))
    yield
    for channel in channels.values():
        await channel.close()


async def line_callback(request: web.Request) -> web.Response:
    """``POST /callback/line`` (404 when LINE is not configured)."""
    channel = request.app[channels_key].get("line")
    if channel is None:
        raise web.HTTPNotFound(text="LINE is not configured")
    return await channel.webhook(request)


async def telegram_callback(request: web.Request) -> web.Response:
    """``POST /callback/telegram`` (404 when Telegram is not configured)."""
    channel = request.app[channels_key].get("telegram")
    if channel is None:
        raise web.HTTPNotFound(text="Telegram is not configured")
    return await channel.webhook(request)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database takes a write (a full disk, a read-only replica or a lost
    database answer 503: a load balancer then sends webhooks elsewhere), within
    HEALTH_TIMEOUT seconds."""
    store = request.app[web_chat.conversation_key].store
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await asyncio.to_thread(store.heartbeat, PROCESS_NAME)
    except Exception:
        log.exception("health check failed")
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def _freeze_startup_heap(app: web.Application) -> None:
    """Move what start-up built (the FAQ index, the analyser's tables, the indexes of places
    and fields: long-lived) out of the garbage collector's reach, so its full collections
    walk only what requests make: a 20,000-row export ran 40 % of its time in them."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, *, freeze_heap: bool = False) -> web.Application:
    """Build the application (nothing is read from the environment here). ``serve`` asks
    for ``freeze_heap`` (a process runs one app); tests, which build hundreds, do not."""
    # The security headers outermost: they go on every answer, the console's and errors too.
    app = web.Application(client_max_size=MAX_REQUEST, middlewares=[security.headers, admin.guard])
    app[settings_key] = settings
    app[security.edge_key] = security.Edge.of(settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(web_chat.keys)  # after the database: its key is stored there
    app.cleanup_ctx.append(_platforms)
    if freeze_heap:
        app.on_startup.append(_freeze_startup_heap)  # after the contexts above have opened
    web_chat.add_routes(app)
    admin.add_routes(app)
    app.router.add_post("/callback/line", line_callback)
    app.router.add_post("/callback/telegram", telegram_callback)
    app.router.add_get("/healthz", healthz)
    return app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the server until interrupted (SIGTERM/SIGINT finish requests in flight)."""
    host, port = host or settings.host, port or settings.port
    log.info("web chat on http://%s:%d/", host, port)
    web.run_app(
        create_app(settings, freeze_heap=True),
        host=host,
        port=port,
        print=None,
        shutdown_timeout=10,
        access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
    )
