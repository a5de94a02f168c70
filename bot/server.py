"""The aiohttp application: the web chat, health check and (later) platform webhooks.

``create_app`` is the factory; the database engine is opened and disposed in ``cleanup_ctx``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.adapters import web as web_chat
from bot.config import Settings
from bot.runtime import open_conversation

log = logging.getLogger(__name__)

settings_key = web.AppKey("settings", Settings)


async def _database(app: web.Application) -> AsyncIterator[None]:
    conversation = await asyncio.to_thread(open_conversation, app[settings_key])
    app[web_chat.conversation_key] = conversation
    log.info("database ready: %s", conversation.store.describe())
    yield
    conversation.store.close()


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise."""
    store = request.app[web_chat.conversation_key].store
    try:
        await asyncio.to_thread(store.ping)
    except Exception:
        log.exception("health check failed")
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def create_app(settings: Settings) -> web.Application:
    """Build the application (nothing is read from the environment here)."""
    app = web.Application(client_max_size=web_chat.MAX_BODY)
    app[settings_key] = settings
    app.cleanup_ctx.append(_database)
    web_chat.add_routes(app)
    app.router.add_get("/healthz", healthz)
    return app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the server until interrupted."""
    host, port = host or settings.host, port or settings.port
    log.info("web chat on http://%s:%d/  (platforms: none configured)", host, port)
    web.run_app(create_app(settings), host=host, port=port, print=None, shutdown_timeout=10)
