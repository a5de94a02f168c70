"""The baseline: a minimal LINE echo bot on the same SDK and aiohttp, in the shape of
line-bot-sdk's ``aiohttp-echo`` example (verify, parse, reply the same text)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import MessageEvent, PostbackEvent, TextMessageContent

api_key = web.AppKey("api", AsyncMessagingApi)


def create_app(secret: str, token: str, host: str) -> web.Application:
    """The echo bot's app."""
    parser = WebhookParser(secret)
    app = web.Application()

    async def client(app: web.Application) -> AsyncIterator[None]:
        api_client = AsyncApiClient(Configuration(access_token=token, host=host))
        app[api_key] = AsyncMessagingApi(api_client)
        yield
        await api_client.close()

    async def callback(request: web.Request) -> web.Response:
        signature = request.headers.get("X-Line-Signature", "")
        body = await request.text()
        try:
            events = parser.parse(body, signature)
        except InvalidSignatureError:
            return web.Response(status=400)
        for event in events:
            if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
                text = event.message.text
            elif isinstance(event, PostbackEvent):
                text = event.postback.data
            else:
                continue
            await app[api_key].reply_message(
                ReplyMessageRequest(
                    reply_token=event.reply_token, messages=[TextMessage(text=text)]
                ),
                _request_timeout=aiohttp.ClientTimeout(total=5),
            )
        return web.Response(text="OK")

    app.cleanup_ctx.append(client)
    app.router.add_post("/callback/line", callback)
    return app


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api", required=True)
    args = parser.parse_args()
    asyncio.set_event_loop_policy(None)
    web.run_app(
        create_app(args.secret, args.token, args.api),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
