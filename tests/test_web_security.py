"""The web chat and the webhooks against scripts: who is writing is the server's cookie, how
often is limited, bodies are bounded, and every answer carries the security headers. Through
the real aiohttp app; the rate limits run on a clock the tests move (nothing sleeps)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.ratelimit import ChatLimits, Rate, TokenBuckets
from bot.adapters.web import COOKIE, conversation_key, cookie_key, limits_key, read_cookie
from bot.config import Settings
from bot.server import create_app
from intents.conversation import Conversation
from intents.types import Inbound
from knowledge.messages import Messages
from storage.openings import CallDraft
from tests import line_events as ev
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import open_call

AiohttpClient = Callable[..., Awaitable[TestClient]]
AiohttpServer = Callable[..., Awaitable[TestServer]]
WORDS = Messages.load()
LINE_SECRET = "line-channel-secret-for-tests"
TELEGRAM_SECRET = "tg-webhook-secret_123"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def chat(
    aiohttp_client: AiohttpClient, tmp_path: Path, clock: Clock | None = None, **settings: Any
) -> TestClient:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}", **settings))
    app[limits_key] = ChatLimits(clock=clock or Clock())
    return await aiohttp_client(app)


async def say(client: TestClient, **body: Any) -> tuple[int, dict[str, Any]]:
    res = await client.post("/api/chat", json=body)
    return res.status, await res.json()


def fresh(client: TestClient) -> None:
    """The next request comes from a new person: a script that keeps no cookies."""
    client.session.cookie_jar.clear()


# --- who is writing ----------------------------------------------------------------------------


async def test_the_page_sets_a_signed_httponly_cookie(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await chat(aiohttp_client, tmp_path)
    page = await client.get("/")
    morsel = page.cookies[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here
    person = read_cookie(client.app[cookie_key], morsel.value)
    assert person is not None
    assert re.fullmatch(r"[0-9a-f]{32}", person)
    tampered = morsel.value[:-1] + ("1" if morsel.value.endswith("0") else "0")
    assert read_cookie(client.app[cookie_key], tampered) is None
    assert read_cookie("another key", morsel.value) is None


async def test_a_user_in_the_body_is_ignored(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await chat(aiohttp_client, tmp_path)
    _, call_id = open_call(client.app[conversation_key].store, ("web", "rep"), capacity=5)
    status, first = await say(client, user="shared", payload=f"os:{call_id}")
    assert status == 200
    assert first["slots"]["step"] == "consented"
    fresh(client)  # someone else, claiming the same id
    _, other = await say(client, user="shared", payload="f:v:yes")
    assert other["slots"].get("step") != "name"  # not the first person's form
    assert other["intent"] == "stale_choice"


async def test_a_forged_cookie_makes_a_new_person(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await chat(aiohttp_client, tmp_path)
    forged = f"{'a' * 32}.{'0' * 64}"
    client.session.cookie_jar.update_cookies({COOKIE: forged})
    res = await client.post("/api/chat", json={"payload": "welcome"})
    assert res.status == 200
    issued = read_cookie(client.app[cookie_key], res.cookies[COOKIE].value)
    assert issued is not None
    assert issued != "a" * 32


@pytest.mark.parametrize(
    ("settings", "headers", "secure"),
    [
        ({"public_url": "https://bot.example.jp"}, {}, True),
        ({"trusted_proxy": True}, {"X-Forwarded-Proto": "https"}, True),
        ({}, {"X-Forwarded-Proto": "https"}, False),  # a client can send it: not believed
        ({"trusted_proxy": True}, {"X-Forwarded-Proto": "http"}, False),
    ],
)
async def test_the_cookie_is_secure_over_https(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    settings: dict[str, Any],
    headers: dict[str, str],
    secure: bool,
) -> None:
    client = await chat(aiohttp_client, tmp_path, **settings)
    page = await client.get("/", headers=headers)
    assert bool(page.cookies[COOKIE]["secure"]) is secure
    fresh(client)  # a first message without a cookie gets one too
    first = await client.post("/api/chat", json={"payload": "welcome"}, headers=headers)
    assert bool(first.cookies[COOKIE]["secure"]) is secure


# --- how often ---------------------------------------------------------------------------------


async def test_a_burst_of_messages_gets_429_with_kind_words_then_works_again(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    clock = Clock()
    client = await chat(aiohttp_client, tmp_path, clock)
    statuses = [(await say(client, user="burst", text="協働ってなに？"))[0] for _ in range(20)]
    assert statuses == [200] * 20
    res = await client.post("/api/chat", json={"user": "burst", "text": "協働ってなに？"})
    assert res.status == 429
    assert res.headers["Retry-After"] == "1"
    body = await res.json()
    assert body["message"] == WORDS.get("web_too_fast", "ja", seconds=1)
    english = await client.post("/api/chat", json={"text": "What is it?", "locale": "en"})
    assert (await english.json())["message"] == WORDS.get("web_too_fast", "en", seconds=1)
    clock.now += 1.0
    assert (await say(client, text="協働ってなに？"))[0] == 200


async def test_many_fresh_clients_from_one_address_are_limited_together(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    clock = Clock()
    client = await chat(aiohttp_client, tmp_path, clock)
    for i in range(60):
        fresh(client)
        assert (await say(client, user=f"script-{i}", payload="menu"))[0] == 200, i
    fresh(client)
    assert (await say(client, user="script-60", payload="menu"))[0] == 429
    fresh(client)  # X-Forwarded-For is the client's own claim without a trusted proxy
    spoofed = await client.post(
        "/api/chat", json={"payload": "menu"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert spoofed.status == 429
    clock.now += 1.0  # three messages' worth for the address
    assert [(await say(client, payload="menu"))[0] for _ in range(4)] == [200, 200, 200, 429]


async def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await chat(aiohttp_client, tmp_path, trusted_proxy=True)

    async def from_(address: str) -> int:
        fresh(client)
        headers = {"X-Forwarded-For": f"198.51.100.1, {address}"}  # the proxy appends the last
        res = await client.post(
            "/api/chat", json={"user": "proxied", "payload": "menu"}, headers=headers
        )
        return res.status

    assert [await from_("192.0.2.1") for _ in range(61)][-2:] == [200, 429]
    assert await from_("192.0.2.2") == 200


def steps_to_sign_up(call_id: int, i: int) -> dict[str, dict[str, str]]:
    return {
        "start": {"payload": f"os:{call_id}"},
        "consented": {"payload": "f:v:yes"},
        "name": {"text": f"台本{i}"},
        "contact": {"text": f"script{i}@example.jp"},
        "age_group": {"payload": "f:v:18"},
        "confirm": {"payload": "f:v:yes"},
    }


async def sign_up(client: TestClient, call_id: int, i: int) -> dict[str, Any]:
    """A script's person: taps 申し込む and answers every question (claiming an id of its
    own in the body, as the script that filled a call did)."""
    answers = steps_to_sign_up(call_id, i)
    status, reply = await say(client, user=f"script-{i}", **answers["start"])
    for _ in range(6):
        assert status == 200, reply
        step = reply["slots"].get("step")
        if step not in answers or "outcome" in reply["slots"]:
            break
        status, reply = await say(client, user=f"script-{i}", **answers[step])
    return reply


async def test_fresh_clients_from_one_address_cannot_fill_a_call(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    clock = Clock()
    client = await chat(aiohttp_client, tmp_path, clock)
    store = client.app[conversation_key].store
    _, call_id = open_call(store, ("web", "rep"), capacity=10)
    outcomes = []
    for i in range(10):
        fresh(client)
        clock.now += 30  # slow enough for the message limits; sign-ups are slower still
        outcomes.append((await sign_up(client, call_id, i))["slots"].get("outcome"))
    assert outcomes == ["confirmed"] * 3 + ["too_fast"] * 7
    call = store.get_call(call_id)
    assert call is not None
    assert call.taken == 3  # of 10 places


async def test_a_refused_sign_up_keeps_the_form_to_confirm_later(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    clock = Clock()
    client = await chat(aiohttp_client, tmp_path, clock)
    store = client.app[conversation_key].store
    _, call_id = open_call(store, ("web", "rep"), capacity=10)
    for i in range(3):
        fresh(client)
        assert (await sign_up(client, call_id, i))["slots"]["outcome"] == "confirmed"
        clock.now += 30
    fresh(client)
    refused = await sign_up(client, call_id, 3)
    assert refused["slots"]["outcome"] == "too_fast"
    assert refused["message"] == WORDS.get("signup_too_fast", "ja", title="浜そうじ")
    assert "f:v:yes" in [c["payload"] for c in refused["choices"]]
    assert store.get_call(call_id).taken == 3  # type: ignore[union-attr]
    clock.now += 300  # one sign-up's worth of time
    _, later = await say(client, payload="f:v:yes")
    assert later["slots"]["outcome"] == "confirmed"
    assert store.get_call(call_id).taken == 4  # type: ignore[union-attr]


async def test_one_person_is_limited_whatever_address_they_come_from(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    clock = Clock()
    client = await chat(aiohttp_client, tmp_path, clock, trusted_proxy=True)
    store = client.app[conversation_key].store
    rep, first = open_call(store, ("web", "rep"), capacity=10)
    call = store.get_call(first)
    assert call is not None
    group_id = store.represented_groups(rep)[0][0]

    def another(n: int) -> int:
        draft = CallDraft(f"浜そうじ{n}", "ごみ拾い", "environment", "kamakura", "由比ガ浜",
                          "駅前", call.starts_at + timedelta(days=n),
                          call.ends_at + timedelta(days=n), 10)  # fmt: skip
        return int(store.create_call(rep, group_id, draft) or 0)

    calls = [first, another(1), another(2), another(3)]
    outcomes = []
    for n, call_id in enumerate(calls):
        client.session.headers["X-Forwarded-For"] = f"192.0.2.{n + 1}"  # a new address each
        clock.now += 30
        outcomes.append((await sign_up(client, call_id, 0))["slots"].get("outcome"))
    assert outcomes == ["confirmed"] * 3 + ["too_fast"]


def test_buckets_take_from_all_or_none_and_refill_with_time() -> None:
    clock = Clock()
    buckets = TokenBuckets({"a": Rate(1, 1.0), "b": Rate(2, 0.5)}, clock, max_buckets=3)
    assert buckets.take(("a", "x"), ("b", "x")) == 0
    assert buckets.take(("a", "x"), ("b", "x")) == 1.0  # a is empty: b keeps its token
    assert buckets.take(("b", "x")) == 0
    assert buckets.take(("b", "x")) == 2.0  # empty, refilled at 0.5 a second
    clock.now += 2.0
    assert buckets.take(("b", "x")) == 0
    for key in ("y", "z", "w"):  # the least recently used ("a", "x") is forgotten: full again
        assert buckets.take(("a", key)) == 0
    assert buckets.take(("a", "x")) == 0


def test_the_sign_up_hook_is_asked_where_the_sign_up_is_stored(
    conversation: Conversation,
) -> None:
    """Platform-neutral: any adapter can carry the check on its Inbound."""
    _, call_id = open_call(conversation.store, capacity=5)
    asked: list[bool] = []
    allowed = False

    def allow() -> bool:
        asked.append(allowed)
        return allowed

    def me(**kw: Any) -> Any:
        return conversation.handle(Inbound("test", "hooked", allow_sign_up=allow, **kw))

    for answer in ({"payload": f"os:{call_id}"}, {"payload": "f:v:yes"}, {"text": "山田はな"},
                   {"text": "hana@example.jp"}, {"payload": "f:v:18"}):  # fmt: skip
        reply = me(**answer)
        assert asked == [], reply.text  # not asked while the form is being filled
    assert reply.slots["step"] == "confirm"
    refused = me(payload="f:v:yes")
    assert asked == [False]
    assert refused.slots["outcome"] == "too_fast"
    assert conversation.store.get_call(call_id).taken == 0  # type: ignore[union-attr]
    allowed = True
    assert me(payload="f:v:yes").slots["outcome"] == "confirmed"
    assert asked == [False, True]
    assert conversation.store.get_call(call_id).taken == 1  # type: ignore[union-attr]


# --- what a body may be --------------------------------------------------------------------------


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_only_json_is_taken(
    aiohttp_client: AiohttpClient, tmp_path: Path, content_type: str
) -> None:
    client = await chat(aiohttp_client, tmp_path)
    body = json.dumps({"user": "cross-site", "text": "協働ってなに？"}).encode()
    res = await client.post("/api/chat", data=body, headers={"Content-Type": content_type})
    assert res.status == 415
    assert "error" in await res.json()
    ok = await client.post(
        "/api/chat", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert ok.status == 200


@pytest.mark.parametrize(("levels", "status"), [(40, 400), (30_000, 400), (100_000, 413)])
async def test_deep_json_on_the_chat_is_refused_not_a_500(
    aiohttp_client: AiohttpClient, tmp_path: Path, levels: int, status: int
) -> None:
    client = await chat(aiohttp_client, tmp_path)
    body = f'{{"user": "deep", "text": "協働", "extra": {nested(levels)}}}'.encode()
    res = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert res.status == status  # 100,000 levels are past the 64 KB size limit already
    assert "error" in await res.json()
    assert (await say(client, user="deep", text="協働ってなに？"))[0] == 200  # nothing broke


@pytest.fixture
async def line(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> Any:
    fake = FakeLine()
    server = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'line.db'}",
        line_channel_secret=LINE_SECRET,
        line_channel_access_token=fake.token,
        line_api_base_url=str(server.make_url("")).rstrip("/"),
    )
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize("levels", [40, 100_000])
async def test_deep_json_on_the_line_webhook_is_400_after_the_signature(
    line: TestClient, levels: int
) -> None:
    body = f'{{"destination": "Ubot", "events": [], "extra": {nested(levels)}}}'.encode()
    headers = {"Content-Type": "application/json", "X-Line-Signature": ev.sign(body, LINE_SECRET)}
    signed = await line.post("/callback/line", data=io.BytesIO(body), headers=headers)
    assert signed.status == 400
    assert await signed.text() == "invalid body"
    headers["X-Line-Signature"] = ev.sign(b"another body", LINE_SECRET)
    unsigned = await line.post("/callback/line", data=io.BytesIO(body), headers=headers)
    assert unsigned.status == 400
    assert await unsigned.text() == "invalid signature"  # the signature is checked first
    ok = ev.body(ev.follow("U1"))
    headers["X-Line-Signature"] = ev.sign(ok, LINE_SECRET)
    assert (await line.post("/callback/line", data=io.BytesIO(ok), headers=headers)).status == 200


@pytest.fixture
async def telegram(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> Any:
    fake = FakeTelegram()
    server = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}",
        telegram_bot_token=fake.token,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=str(server.make_url("")).rstrip("/"),
        public_url="https://bot.example.jp",
    )
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize("levels", [40, 100_000])
async def test_deep_json_on_the_telegram_webhook_is_400_after_the_secret(
    telegram: TestClient, levels: int
) -> None:
    body = f'{{"update_id": 1, "extra": {nested(levels)}}}'.encode()
    headers = {"Content-Type": "application/json",
               "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}  # fmt: skip
    res = await telegram.post("/callback/telegram", data=io.BytesIO(body), headers=headers)
    assert res.status == 400
    headers["X-Telegram-Bot-Api-Secret-Token"] = "wrong"
    wrong = await telegram.post("/callback/telegram", data=io.BytesIO(body), headers=headers)
    assert wrong.status == 403  # the secret first


@pytest.mark.parametrize("body", [b"[]", b"null", b'{"update_id": 1, "message": 5}'])
async def test_a_wrong_shape_on_the_telegram_webhook_is_400(
    telegram: TestClient, body: bytes
) -> None:
    headers = {"Content-Type": "application/json",
               "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}  # fmt: skip
    res = await telegram.post("/callback/telegram", data=io.BytesIO(body), headers=headers)
    assert res.status == 400


# --- what every answer carries -----------------------------------------------------------------


def assert_secured(res: Any, where: str) -> None:
    headers = res.headers
    policy = {
        d.split()[0]: d.split(maxsplit=1)[1]
        for d in headers.get("Content-Security-Policy", "").split(";")
        if d.strip()
    }
    assert policy.get("default-src") == "'self'", where
    assert policy.get("frame-ancestors") == "'none'", where
    assert policy.get("base-uri") == "'none'", where
    assert policy.get("form-action") == "'self'", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin"), where


async def test_every_route_and_every_error_carries_the_security_headers(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}"))

    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app.router.add_get("/test-boom", boom)
    client = await aiohttp_client(app)
    seen = 0
    for resource in app.router.resources():
        path = resource.canonical.replace("{id}", "1")
        if path == "/static":
            path = "/static/chat.js"
        for route in resource:
            if route.method == "HEAD":
                continue
            res = await client.request(route.method, path, allow_redirects=False)
            assert_secured(res, f"{route.method} {path} -> {res.status}")
            seen += 1
    assert seen > 30
    for method, path, status in [
        ("GET", "/no-such-page", 404),
        ("GET", "/static/no-such-file.js", 404),
        ("GET", "/api/chat", 405),
        ("GET", "/test-boom", 500),
        ("GET", "/admin/", 303),
    ]:
        res = await client.request(method, path, allow_redirects=False)
        assert res.status == status, path
        assert "Traceback" not in await res.text()
        assert_secured(res, path)


async def test_the_consoles_own_policy_is_kept_and_completed(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await chat(aiohttp_client, tmp_path)
    res = await client.get("/admin/login")
    policy = res.headers["Content-Security-Policy"]
    assert "style-src 'self'" in policy  # the console's stricter words stay …
    assert "img-src 'self' data:" in policy
    assert "frame-ancestors 'none'" in policy  # … with what it lacked added
    assert policy.count("default-src") == 1
