"""LINE: the webhook in, replies and pushes out. Translation only; the conversation is in
``intents/``.

Contract (see shared PLATFORMS.md): verify ``x-line-signature`` over the raw body before
parsing (400 otherwise), answer 200 at once and process afterwards, handle each
``webhookEventId`` once, reply with the reply token and fall back to push when it has
expired, send ``X-Line-Retry-Key`` with every push.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tomllib
import urllib.parse
import urllib.request
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)
from linebot.v3.webhooks import (
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)

import knowledge
from bot.adapters.inbox import InboxDrainer
from bot.adapters.lanes import UserLanes
from bot.adapters.line_profile import ProfileNames
from bot.adapters.line_render import LineMessage, render, render_body
from bot.security import check_json_depth
from bot.worker import DeliveryError
from intents.conversation import Conversation
from intents.types import Inbound, Reply
from storage.inbox import StoredEvent
from storage.store import AlreadyHandled

log = logging.getLogger(__name__)

PLATFORM = "line"
MAX_BODY = 1024 * 1024  # LINE webhooks are small; anything bigger is not LINE
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=5)
RICH_MENU_FILE = Path(knowledge.__file__).with_name("richmenu.toml")
REPRESENTATIVE_MENU = "line_richmenu_representative"  # app value: the representatives' menu id
LOADING_AFTER = 0.4  # seconds: show the loading animation only when work takes a moment
LOADING_SECONDS = 5  # how long one animation shows (LINE: 5 to 60, in steps of 5)
MAX_LOADING_USERS = 10_000  # users remembered as having the animation on screen
MAX_LOADING_REQUESTS = 4  # loading requests at once; past that, none (work comes first)
RETRY_NAMESPACE = uuid.UUID("5b2d7f63-7c1c-4f0a-9d0e-2f6a1c3e9b11")


@dataclass
class LineChannel:
    """LINE for one bot: the webhook handler and the outbound API client."""

    secret: str
    token: str
    conversation: Conversation
    api_base: str = "https://api.line.me"

    def __post_init__(self) -> None:
        self._parser = WebhookParser(self.secret)
        self._client: AsyncApiClient | None = None  # the SDK's: the rich menu
        self._session: aiohttp.ClientSession | None = None  # ours: messages, loading animation
        self._proxy: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lanes: UserLanes[Inbound, Reply] = UserLanes(self.conversation.handle_many)
        self._inbox: InboxDrainer | None = None
        self._loading_until: dict[str, float] = {}  # user → loop time the animation ends
        self._loading_requests = 0  # loading animation requests on their way
        self._names = ProfileNames()  # representatives' display names, for the console

    # --- lifecycle (called from the app's cleanup_ctx, inside the running loop) --------------

    async def open(self) -> None:
        """Create the HTTP clients (they open aiohttp sessions, so only in a running loop)."""
        config = Configuration(access_token=self.token, host=self.api_base.rstrip("/"))
        self._client = AsyncApiClient(config)
        # Messages go out on a session of our own: the SDK's asks the environment for a proxy
        # and reads ~/.netrc on a worker thread for every request (aiohttp's trust_env), which
        # cost more than building the reply. The proxy is read once here instead.
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=REQUEST_TIMEOUT,
            cookie_jar=aiohttp.DummyCookieJar(),  # the Messaging API sets none
        )
        self._proxy = _proxy_for(self.api_base)
        self._inbox = InboxDrainer(self.conversation.store, PLATFORM, self._answer_stored)
        self._inbox.start()  # also what an earlier process left unanswered

    async def close(self, grace: float = 10.0) -> None:
        """Finish events in flight, then close the client."""
        if self._inbox is not None:
            await self._inbox.close(grace)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        self._lanes.close()
        if self._session is not None:
            await self._session.close()
        if self._client is not None:
            await self._client.close()

    @property
    def api(self) -> AsyncMessagingApi:
        if self._client is None:
            raise RuntimeError("LineChannel.open() was not called")
        return AsyncMessagingApi(self._client)

    # --- inbound --------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /callback/line``: verify, acknowledge, then process in the background."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        raw = await request.read()
        if len(raw) > MAX_BODY:
            return web.Response(status=413, text="too large")
        signature = request.headers.get("X-Line-Signature", "")
        try:
            text = raw.decode("utf-8")
            # The signature first (the SDK checks it again: a cheap HMAC), then the depth,
            # then the SDK's parse (Python's json recurses: very deep input would raise).
            if not self._parser.signature_validator.validate(text, signature):
                raise InvalidSignatureError("bad signature")
            check_json_depth(text)
            events = self._parser.parse(text, signature)
        except InvalidSignatureError:
            log.warning("LINE webhook with a bad signature from %s", request.remote)
            return web.Response(status=400, text="invalid signature")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            return web.Response(status=400, text="invalid body")
        # Store, then acknowledge: once LINE has our 200 it never sends these events again.
        stored = [r for i, event in enumerate(events) if (r := _stored(event, raw, i)) is not None]
        try:
            if self._inbox is None:
                raise RuntimeError("LineChannel.open() was not called")
            await self._inbox.accept(stored)
        except Exception:
            log.exception("could not store %d LINE events; LINE will redeliver", len(stored))
            return web.Response(status=503, text="try again")
        return web.Response(text="OK")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background; close() waits for it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_stored(self, event: StoredEvent) -> None:
        """Answer one event from the inbox (raises when it must be tried again)."""
        body = json.loads(event.body)
        user_id = str(body["user"])
        store = self.conversation.store
        async with self._lanes.turn(user_id):
            if body["kind"] == "unfollow":
                if await asyncio.to_thread(store.claim_event, PLATFORM, event.event_id):
                    await asyncio.to_thread(store.set_user_active, PLATFORM, user_id, False)
                return
            inbound = Inbound(
                PLATFORM, user_id, text=body.get("text"), payload=body.get("payload"),
                event_id=event.event_id,
            )  # fmt: skip
            # The turn claims the event id in its first transaction: a redelivery, or the
            # same event at another process, stops there.
            loading = asyncio.get_running_loop().call_later(
                LOADING_AFTER, self._loading_for, user_id
            )
            try:
                reply = await self._lanes.run(inbound)
            except AlreadyHandled:
                if event.attempts > 1:  # taken again after a crash
                    await self._resend(body.get("reply_token"), user_id, event.event_id)
                return
            finally:
                loading.cancel()
            # Inside the user's lane: their next reply cannot overtake this one.
            await self._send(body.get("reply_token"), user_id, render(reply), event.event_id)
            if reply.rich_menu:
                await self.switch_menu(user_id, reply.rich_menu)
            if reply.rich_menu == "representative":  # just linked to a group
                await self._remember_name(user_id)

    async def _remember_name(self, user_id: str) -> None:
        """Keep a new representative's LINE display name for the console (best effort: the
        console names them by their id's end without it)."""
        if self._session is None:
            return
        name = await self._names.get(self._session, self.api_base, user_id, self._proxy)
        if name is None:
            return
        try:
            store = self.conversation.store
            await asyncio.to_thread(store.set_display_name, PLATFORM, user_id, name)
        except Exception:
            log.warning("a representative's name was not kept", exc_info=True)

    async def _resend(self, reply_token: str | None, user_id: str, event_id: str) -> None:
        """Send again the kept reply of an event whose turn had committed when its process
        died. Only with the reply token: LINE takes a token once, so if the reply had gone
        out it answers 400 and nothing is sent twice."""
        reply = await asyncio.to_thread(self.conversation.replay, PLATFORM, user_id, event_id)
        if reply is None:  # the turn had not ended: run it (its claim is released)
            raise TurnUnfinished(event_id)
        messages = render(reply)
        if not messages:
            return
        if not reply_token:  # it went out as a push with the event's retry key: LINE dedupes
            await self._push(user_id, messages, _event_retry_key(event_id))
            return
        try:
            await self._post(
                "/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages}
            )
            log.info("sent again the reply to %s, lost in a crash", event_id)
        except ApiException as exc:
            if exc.status != 400:
                raise  # LINE is down: the event is tried again later
            log.info("the reply to %s had gone out (token used)", event_id)

    def _loading_for(self, user_id: str) -> None:
        """Show the loading animation to a user who has waited LOADING_AFTER for a reply,
        unless it is showing already (it lasts LOADING_SECONDS): under a backlog every
        queued message has waited, and one animation per user is what they see."""
        now = asyncio.get_running_loop().time()
        if now < self._loading_until.get(user_id, 0.0):
            return
        if self._loading_requests >= MAX_LOADING_REQUESTS:
            return  # catching up on a backlog: a request per waiting user would slow it
        if len(self._loading_until) > MAX_LOADING_USERS:  # forget the expired ones
            self._loading_until = {u: t for u, t in self._loading_until.items() if t > now}
        self._loading_until[user_id] = now + LOADING_SECONDS
        # Counted now, not when the task first runs: timers that fire in the same loop
        # iteration would each see room and all be spawned (CI saw 5 of 4 on a busy machine).
        self._loading_requests += 1
        self._spawn(self._show_loading(user_id))

    async def _show_loading(self, user_id: str) -> None:
        """LINE's typing indicator, for 5 s or until our reply arrives; the caller counted
        it in ``_loading_requests``."""
        try:
            body = {"chatId": user_id, "loadingSeconds": LOADING_SECONDS}
            await self._post("/v2/bot/chat/loading/start", body)
        except (ApiException, aiohttp.ClientError, TimeoutError):
            log.info("loading animation not shown", exc_info=True)
        finally:
            self._loading_requests -= 1

    # --- outbound -------------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any], retry_key: str | None = None) -> None:
        """POST one Messaging API request; a non-2xx answer raises the SDK's ApiException."""
        if self._session is None:
            raise RuntimeError("LineChannel.open() was not called")
        headers = {"Content-Type": "application/json"}
        if retry_key is not None:
            headers["X-Line-Retry-Key"] = retry_key
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        url = self.api_base.rstrip("/") + path
        async with self._session.post(
            url, data=data, headers=headers, proxy=self._proxy
        ) as response:
            if response.status >= 300:
                error = ApiException(status=response.status, reason=response.reason)
                error.body = await response.text()
                raise error
            await response.read()

    async def _send(
        self,
        reply_token: str | None,
        user_id: str,
        messages: list[LineMessage],
        event_id: str | None = None,
    ) -> None:
        """Reply; if the token is spent or expired, push; if LINE is down, keep it for later."""
        if not messages:
            return
        if reply_token:
            try:
                await self._post(
                    "/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages}
                )
                return
            except ApiException as exc:
                if exc.status != 400:
                    log.warning("LINE reply failed (%s); keeping it for the worker", exc.status)
                    await self._keep_for_later(user_id, messages)
                    return
                log.info("reply token refused (%s); pushing instead", exc.status)
            except (aiohttp.ClientError, TimeoutError):
                log.warning("LINE reply failed (network); keeping it for the worker")
                await self._keep_for_later(user_id, messages)
                return
        key = _event_retry_key(event_id) if event_id else str(uuid.uuid4())
        try:
            await self._push(user_id, messages, key)
        except DeliveryError:
            await self._keep_for_later(user_id, messages)

    async def _keep_for_later(self, user_id: str, messages: list[LineMessage]) -> None:
        """Queue the reply in the outbox: the worker pushes it when LINE is back."""
        body = json.dumps({"line_messages": messages}, ensure_ascii=False)
        store = self.conversation.store
        if not await asyncio.to_thread(store.keep_reply, PLATFORM, user_id, body):
            log.info("reply not kept: the user has been deleted")

    async def push(self, platform_user_id: str, body: dict[str, Any], retry_key: str) -> None:
        """The worker's sender: push one outbox message, at most once per ``retry_key``."""
        messages = render_body(body)
        if not messages:
            raise DeliveryError("nothing to send (a blank message)", retry=False)
        # The same outbox message always gets the same retry key, so LINE drops a repeat of a
        # push it already accepted (answering 409) even if we crashed before noting it.
        key = str(uuid.uuid5(RETRY_NAMESPACE, retry_key))
        await self._push(platform_user_id, messages, key)
        menu = str(body.get("rich_menu") or "")  # a notice that changes what they can do
        if menu == "resident":  # as it is now, not as it was when the notice was queued
            store = self.conversation.store
            if await asyncio.to_thread(store.represents_any, PLATFORM, platform_user_id):
                menu = ""  # linked again meanwhile (a new invite code): the menu stays
        if menu:
            await self.switch_menu(platform_user_id, menu)

    async def multicast(
        self, platform_user_ids: list[str], body: dict[str, Any], retry_key: str
    ) -> None:
        """The worker's broadcast path: one request for up to 500 users."""
        messages = render_body(body)
        if not messages:
            raise DeliveryError("nothing to send (a blank message)", retry=False)
        request = {"to": platform_user_ids[:500], "messages": messages}
        key = str(uuid.uuid5(RETRY_NAMESPACE, retry_key))
        await self._deliver("/v2/bot/message/multicast", request, key, "multicast")

    async def _push(self, user_id: str, messages: list[LineMessage], retry_key: str) -> None:
        request = {"to": user_id, "messages": messages}
        await self._deliver("/v2/bot/message/push", request, retry_key, "push")

    async def _deliver(
        self, path: str, request: dict[str, Any], retry_key: str, what: str
    ) -> None:
        try:
            await self._post(path, request, retry_key)
        except ApiException as exc:
            if exc.status == 409:  # already accepted under this retry key
                return
            retry = exc.status is not None and (exc.status >= 500 or exc.status == 429)
            raise DeliveryError(
                f"LINE {what} {exc.status}: {exc.body!r:.200}", retry=retry
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"LINE {what} failed: {exc!r}", retry=True) from exc

    # --- rich menu ------------------------------------------------------------------------------

    async def setup_rich_menu(
        self,
        image_png: bytes,
        items: list[tuple[str, str]],
        *,
        name: str = "tsunagaru main menu",
        default: bool = True,
    ) -> str:
        """Create a 3×2 rich menu and upload its image; the default one is set as every
        user's menu. Returns its id."""
        width, height = 2500, 1686
        cols, rows = 3, 2
        areas = []
        for i, (label, payload) in enumerate(items[: cols * rows]):
            x, y = (i % cols) * width // cols, (i // cols) * height // rows
            areas.append(
                RichMenuArea(
                    bounds=RichMenuBounds(x=x, y=y, width=width // cols, height=height // rows),
                    action=PostbackAction(label=label, data=payload, display_text=label),
                )
            )
        request = RichMenuRequest(
            size=RichMenuSize(width=width, height=height),
            selected=True,
            name=name,
            chat_bar_text=chat_bar(),
            areas=areas,
        )
        created = await self.api.create_rich_menu(request, _request_timeout=REQUEST_TIMEOUT)
        menu_id = str(created.rich_menu_id)
        blob = AsyncMessagingApiBlob(self._client)
        await blob.set_rich_menu_image(
            menu_id,
            body=bytearray(image_png),
            _headers={"Content-Type": "image/png"},
            _request_timeout=REQUEST_TIMEOUT,
        )
        if default:
            await self.api.set_default_rich_menu(menu_id, _request_timeout=REQUEST_TIMEOUT)
        return menu_id

    async def switch_menu(self, user_id: str, menu: str) -> None:
        """Show one user the representative's rich menu, or give them back the default one.
        Best effort: without a representative menu set up, or with LINE down, the user keeps
        the menu they have (the quick menu shows the same entries)."""
        try:
            if menu == "representative":
                store = self.conversation.store
                menu_id = await asyncio.to_thread(store.app_value, REPRESENTATIVE_MENU)
                if menu_id:
                    await self.api.link_rich_menu_id_to_user(
                        user_id, menu_id, _request_timeout=REQUEST_TIMEOUT
                    )
            else:
                await self.api.unlink_rich_menu_id_from_user(
                    user_id, _request_timeout=REQUEST_TIMEOUT
                )
        except (ApiException, aiohttp.ClientError, TimeoutError):
            log.warning("rich menu not switched for a user", exc_info=True)


def chat_bar() -> str:
    """The words on the chat's bar that opens the rich menu (``chat_bar`` in
    knowledge/richmenu.toml; read here, not in bot.richmenu, which needs Pillow)."""
    with RICH_MENU_FILE.open("rb") as fh:
        return str(tomllib.load(fh)["chat_bar"])


class TurnUnfinished(Exception):
    """An event taken again whose turn had begun but not ended: run it again (the inbox
    retries it; its claim was released)."""


def _event_retry_key(event_id: str) -> str:
    """The X-Line-Retry-Key of the push that answers an event: the same every time."""
    return str(uuid.uuid5(RETRY_NAMESPACE, f"event:{event_id}"))


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY …), if any."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _stored(event: Any, raw: bytes, index: int) -> tuple[str, str] | None:
    """An event as the inbox keeps it: its id and what answering it needs (JSON)."""
    source = getattr(event, "source", None)
    if not isinstance(source, UserSource) or not source.user_id:
        return None  # groups and rooms: this bot talks one to one
    # LINE gives every event an id; should one lack it, the body and position name it.
    event_id = (
        getattr(event, "webhook_event_id", None)
        or hashlib.sha256(raw + str(index).encode()).hexdigest()
    )
    if isinstance(event, UnfollowEvent):
        return event_id, json.dumps({"kind": "unfollow", "user": source.user_id})
    inbound = _inbound(event, source.user_id, event_id)
    if inbound is None:
        return None
    body = {
        "kind": "turn",
        "user": source.user_id,
        "text": inbound.text,
        "payload": inbound.payload,
        "reply_token": getattr(event, "reply_token", None),
    }
    return event_id, json.dumps(body, ensure_ascii=False)


def _inbound(event: Any, user_id: str, event_id: str | None) -> Inbound | None:
    if isinstance(event, MessageEvent):
        if isinstance(event.message, TextMessageContent):
            return Inbound(PLATFORM, user_id, text=event.message.text, event_id=event_id)
        return Inbound(PLATFORM, user_id, payload="nontext", event_id=event_id)  # stickers …
    if isinstance(event, PostbackEvent):
        return Inbound(PLATFORM, user_id, payload=event.postback.data, event_id=event_id)
    if isinstance(event, FollowEvent):
        return Inbound(PLATFORM, user_id, payload="welcome", event_id=event_id)
    return None
