"""LINE end to end: signed webhooks into the real aiohttp app, the real line-bot-sdk client
talking to a fake LINE API on loopback that checks what LINE checks."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from linebot.v3 import WebhookParser
from linebot.v3.messaging import Message, ReplyMessageRequest
from linebot.v3.models.events import UnknownEvent

from bot.adapters import line as line_adapter
from bot.adapters.line import LineChannel
from bot.adapters.line_render import render, split_text, utf16_units
from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import channels_key, create_app
from bot.worker import Worker
from intents.types import Card, Choice, Reply
from tests import line_events as ev
from tests.fakes.line_api import FakeLine, check_messages
from tests.helpers import open_call
from tests.line_helpers import (
    SECRET,
    AiohttpClient,
    AiohttpServer,
    post,
    serve_bot,
    serve_fake,
    texts,
)

DATA = Path(__file__).with_name("data")


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> tuple[FakeLine, str]:
    return await serve_fake(aiohttp_server)


@pytest.fixture
async def bot(
    aiohttp_client: AiohttpClient, fake: tuple[FakeLine, str], tmp_path: Path
) -> TestClient:
    return await serve_bot(aiohttp_client, fake, tmp_path)


async def test_fixture_events_are_all_known_to_the_sdk() -> None:
    parser = WebhookParser(SECRET)
    bodies = [
        (DATA / "line_text_message.json").read_bytes(),
        ev.body(ev.text("U1", "x"), ev.sticker("U1"), ev.postback("U1", "menu")),
        ev.body(ev.follow("U1"), ev.unfollow("U1")),
    ]
    for raw in bodies:
        events = parser.parse(raw.decode(), ev.sign(raw, SECRET))
        assert events
        assert not any(isinstance(e, UnknownEvent) for e in events)


async def test_faq_question_gets_an_answer_with_its_source(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    raw = (DATA / "line_text_message.json").read_bytes()
    assert await post(bot, raw) == 200
    (sent,) = await fake[0].wait_for(1)
    assert sent.kind == "reply"
    assert sent.reply_token == "38ef843bde154d9b91c21320ffd17a0f"
    assert "（指針 2(5)" in texts(sent)
    labels = [i["action"]["label"] for i in sent.messages[-1]["quickReply"]["items"]]
    assert "役に立った" in labels
    assert fake[0].rejected == []


async def test_group_search_is_a_flex_carousel(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    await post(bot, ev.body(ev.text("U2", "大船駅の近くで子ども関係の団体")))
    (sent,) = await fake[0].wait_for(1)
    flex = sent.messages[-1]
    assert flex["type"] == "flex"
    bubbles = flex["contents"]["contents"]
    assert 1 <= len(bubbles) <= 12
    assert "（サンプル）" in json.dumps(bubbles, ensure_ascii=False)
    assert fake[0].rejected == []


async def test_follow_unfollow_sticker(bot: TestClient, fake: tuple[FakeLine, str]) -> None:
    await post(bot, ev.body(ev.follow("U3")))
    await post(bot, ev.body(ev.sticker("U3")))
    welcome, sticker = await fake[0].wait_for(2)
    assert "案内ボット" in texts(welcome)
    assert "文字で送って" in texts(sticker)
    await post(bot, ev.body(ev.unfollow("U3")))
    store = bot.server.app[conversation_key].store
    for _ in range(100):
        if not _active(store, "U3"):
            break
        await asyncio.sleep(0.02)
    assert not _active(store, "U3")
    # Nothing is pushed to someone who unfollowed.
    store.enqueue(store.touch_user("line", "U9", "ja").id, "{}")
    store.set_user_active("line", "U3", False)
    assert all(d.platform_user_id != "U3" for d in store.claim_due(("line",), datetime.now(UTC)))


def _active(store: Any, user_id: str) -> bool:
    from sqlmodel import Session, select

    from storage.models import User

    with Session(store.engine) as s:
        user = s.exec(select(User).where(User.platform_user_id == user_id)).one()
        return bool(user.active)


@pytest.mark.parametrize("signature", [None, "", "forged==", ev.sign(b"other body", SECRET)])
async def test_bad_signatures_are_refused_and_nothing_happens(
    bot: TestClient, fake: tuple[FakeLine, str], signature: str | None
) -> None:
    assert await post(bot, ev.body(ev.text("U4", "協働って何")), signature) == 400
    await asyncio.sleep(0.2)
    assert fake[0].sent == []
    assert bot.server.app[conversation_key].store.count_users() == 0


async def test_redelivered_event_is_processed_once(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    event = ev.text("U5", "補償制度", event_id="01HREDELIVERYTEST000000000")
    assert await post(bot, ev.body(event)) == 200
    await fake[0].wait_for(1)
    again = dict(event, deliveryContext={"isRedelivery": True}, replyToken="another-token")
    assert await post(bot, ev.body(again)) == 200
    await asyncio.sleep(0.3)
    assert len(fake[0].sent) == 1


async def test_connectivity_check_and_oversize_body(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    assert await post(bot, ev.body()) == 200
    huge = ev.body(ev.text("U6", "あ" * 600_000))
    assert await post(bot, huge) == 413
    assert await post(bot, b"not json at all") == 400


async def test_expired_reply_token_falls_back_to_push(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    fake[0].expired_tokens.add("expired-token")
    await post(bot, ev.body(ev.text("U7", "基金について", token="expired-token")))
    (sent,) = await fake[0].wait_for(1)
    assert sent.kind == "push"
    assert sent.to == "U7"
    assert sent.retry_key is not None


async def test_outage_during_sign_up_keeps_it_and_confirms_after_recovery(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    app = bot.server.app
    conversation = app[conversation_key]
    store = conversation.store
    _, call_id = open_call(store, ("line", "Urep"), capacity=3)
    for step in ("f:v:yes", "山田", "yamada@example.jp", "f:v:30"):
        if step == "f:v:yes":
            await post(bot, ev.body(ev.postback("Uvol", f"os:{call_id}")))
            await fake[0].wait_for(len(fake[0].sent) + 1)
            await post(bot, ev.body(ev.postback("Uvol", step)))
        elif step.startswith("f:"):
            await post(bot, ev.body(ev.postback("Uvol", step)))
        else:
            await post(bot, ev.body(ev.text("Uvol", step)))
        await fake[0].wait_for(len(fake[0].sent) + 1)
    before = len(fake[0].sent)
    fake[0].fail_next = [500, 500, 500]  # LINE is down: the reply fails, and so does a push
    await post(bot, ev.body(ev.postback("Uvol", "f:v:yes")))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if store.outbox_pending() >= 2:  # the representative's notice and our confirmation
            break
    assert len(fake[0].sent) == before  # nothing got through
    (mine,) = store.my_sign_ups(store.touch_user("line", "Uvol", "ja").id, datetime.now(UTC))
    assert mine.status == "confirmed"  # the sign-up is kept
    fake[0].fail_next = []
    worker = Worker(conversation, {"line": app[channels_key]["line"]})
    counts = await worker.run_once()
    assert counts["sent"] >= 2
    pushed = [s for s in fake[0].sent[before:] if s.kind == "push"]
    assert any("申し込みました" in texts(s) for s in pushed if s.to == "Uvol")
    assert any("新しい申し込み" in texts(s) for s in pushed if s.to == "Urep")
    assert all(s.retry_key for s in pushed)


async def test_worker_push_is_idempotent_with_the_retry_key(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    channel: LineChannel = bot.server.app[channels_key]["line"]
    body = {"text": "お知らせ", "choices": [{"label": "メニュー", "payload": "menu"}]}
    await channel.push("U8", body, "outbox-42")
    await channel.push("U8", body, "outbox-42")  # a retry after a lost answer: 409, no error
    assert len(fake[0].sent) == 1


def test_render_keeps_every_limit() -> None:
    long_text = ("🌊" * 1000 + "\n") * 30  # emoji count double in UTF-16
    cards = [Card(f"団体{i}", "説明" * 100, (Choice("詳しく見る", f"gd:{i}"),)) for i in range(20)]
    choices = [Choice(f"選択肢{i}", f"faq:x{i}") for i in range(13)]
    dicts = render(Reply(long_text, "x", choices=choices, cards=cards))
    assert check_messages(dicts) == []
    ReplyMessageRequest.from_dict({"replyToken": "t", "messages": dicts})
    assert len(dicts) <= 5
    assert dicts[-1]["type"] == "flex"
    assert len(dicts[-1]["contents"]["contents"]) == 12


def test_split_text_counts_utf16() -> None:
    parts = split_text("😀" * 3000)
    assert [utf16_units(p) <= 5000 for p in parts] == [True, True]
    assert "".join(parts) == "😀" * 3000
    assert split_text("") == [" "]
    assert render(Reply("", "x")) == []  # LINE refuses blank texts: send nothing


@pytest.mark.parametrize(
    "reply",
    [
        Reply("こんにちは", "x"),
        Reply("選んでください", "x", choices=[Choice("はい", "y"), Choice("いいえ", "n")]),
        Reply(
            "見つかりました",
            "x",
            choices=[Choice("メニュー", "menu")],
            cards=[
                Card("団体A", "説明", (Choice("詳しく見る", "gd:1"), Choice("申し込む", "su:1"))),
                Card("団体B", "", ()),
            ],
        ),
        Reply("", "x", cards=[Card("カードだけ", "本文", ())]),
    ],
)
def test_rendered_json_is_exactly_what_the_sdk_models_would_send(reply: Reply) -> None:
    # The renderer writes the Messaging API's JSON by hand (the SDK's models are slow); the
    # SDK's own models must read every shape back and write it out unchanged.
    for message in render(reply):
        assert Message.from_dict(message).to_dict() == message


async def test_broadcast_goes_out_as_multicasts_of_500(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    store = bot.server.app[conversation_key].store
    body = json.dumps({"text": "📣 清掃の日", "choices": []}, ensure_ascii=False)
    for i in range(600):
        store.enqueue(store.touch_user("line", f"Ub{i:04d}", "ja").id, body)
    worker = Worker(
        bot.server.app[conversation_key], {"line": bot.server.app[channels_key]["line"]}
    )
    counts = await worker.run_once()
    assert counts["sent"] == 600
    multicast = [s for s in fake[0].sent if s.kind == "multicast"]
    assert len(multicast) == 600
    assert len({s.retry_key for s in multicast}) == 2  # two requests: 500 + 100
    assert store.outbox_pending() == 0


async def test_replies_go_through_the_proxy_the_environment_names(
    aiohttp_client: AiohttpClient,
    fake: tuple[FakeLine, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A city network may only reach LINE through its proxy: HTTPS_PROXY / HTTP_PROXY and
    NO_PROXY are honoured (read once at start-up, not on every message)."""
    monkeypatch.setenv("HTTP_PROXY", fake[1])  # the fake answers as the proxy, too
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'line.db'}",
        line_channel_secret=SECRET,
        line_channel_access_token=fake[0].token,
        line_api_base_url="http://api.line.invalid",  # unreachable except through the proxy
    )
    client = await aiohttp_client(create_app(settings))
    await post(client, ev.body(ev.text("U9", "協働ってなに？")))
    (sent,) = await fake[0].wait_for(1)
    assert sent.kind == "reply"
    assert "協働" in texts(sent)


def test_no_proxy_wins_over_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.city.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.line.me")
    assert line_adapter._proxy_for("https://api.line.me") is None
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert line_adapter._proxy_for("https://api.line.me") == "http://proxy.city.example:3128"


async def test_a_slow_answer_shows_the_loading_animation_first(
    bot: TestClient, fake: tuple[FakeLine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = bot.server.app[channels_key]["line"]
    answer_many = channel.conversation.handle_many

    def slowly(inbounds: list[Any]) -> list[Any]:
        time.sleep(0.7)  # longer than LOADING_AFTER
        return answer_many(inbounds)

    monkeypatch.setattr(channel._lanes, "_answer_many", slowly)
    await post(bot, ev.body(ev.text("Uslow", "協働ってなに？")))
    (sent,) = await fake[0].wait_for(1)
    assert fake[0].loading == ["Uslow"]
    assert "協働" in texts(sent)


async def test_queued_messages_of_one_user_show_one_loading_animation(
    bot: TestClient, fake: tuple[FakeLine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a backlog every queued message has waited: the user sees one animation (it
    lasts LOADING_SECONDS), not one request to LINE per message."""
    channel = bot.server.app[channels_key]["line"]
    answer_many = channel.conversation.handle_many

    def slowly(inbounds: list[Any]) -> list[Any]:
        time.sleep(0.5)  # longer than LOADING_AFTER, each
        return answer_many(inbounds)

    monkeypatch.setattr(channel._lanes, "_answer_many", slowly)
    for n in range(4):
        await post(bot, ev.body(ev.text("Uqueue", f"協働ってなに？{n}")))
    await fake[0].wait_for(4, within=15)
    assert fake[0].loading == ["Uqueue"]


async def test_loading_animations_never_hold_more_than_a_few_requests(
    bot: TestClient, fake: tuple[FakeLine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many users waiting at once while LINE answers loading requests slowly: at most
    MAX_LOADING_REQUESTS are on their way; the others get none, and every reply goes out."""
    channel = bot.server.app[channels_key]["line"]
    answer_many = channel.conversation.handle_many

    def slowly(inbounds: list[Any]) -> list[Any]:
        time.sleep(0.7)  # longer than LOADING_AFTER
        return answer_many(inbounds)

    monkeypatch.setattr(channel._lanes, "_answer_many", slowly)
    fake[0].loading_delay = 1.0
    users = [f"Umany{n}" for n in range(12)]
    for user in users:
        await post(bot, ev.body(ev.text(user, "協働ってなに？")))
    sent = await fake[0].wait_for(len(users), within=20)
    assert len(sent) == len(users)
    assert 1 <= fake[0].most_loading_in_flight <= line_adapter.MAX_LOADING_REQUESTS
    assert len(fake[0].loading) < len(users)


async def test_the_loading_cap_holds_when_many_timers_fire_in_one_loop_iteration(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    """On a busy machine the LOADING_AFTER timers of many users fire in the same loop
    iteration, before any request has started: each must still see the ones before it."""
    channel = bot.server.app[channels_key]["line"]
    fake[0].loading_delay = 0.5
    for n in range(10):
        channel._loading_for(f"Utick{n}")  # what ten timers due at once do
    await asyncio.sleep(1.5)
    assert len(fake[0].loading) == line_adapter.MAX_LOADING_REQUESTS
    assert channel._loading_requests == 0


async def test_a_quick_answer_shows_no_loading_animation(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    await post(bot, ev.body(ev.text("Uquick", "協働ってなに？")))
    await fake[0].wait_for(1)
    await asyncio.sleep(line_adapter.LOADING_AFTER + 0.1)
    assert fake[0].loading == []


async def test_a_deletion_reply_that_cannot_be_sent_does_not_bring_the_person_back(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    """LINE is down just as someone confirms 「データ削除」: their data is gone, and the reply
    that could not be sent is not kept, since keeping it would store their id again."""
    store = bot.server.app[conversation_key].store
    await post(bot, ev.body(ev.text("Ugone", "データ削除")))
    await fake[0].wait_for(1)
    fake[0].fail_next = [500, 500, 500]  # the reply fails, and so does the push
    await post(bot, ev.body(ev.postback("Ugone", "del:yes")))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if not fake[0].fail_next:
            break
    await asyncio.sleep(0.2)
    with store.engine.connect() as c:
        users = c.exec_driver_sql(
            "SELECT count(*) FROM users WHERE platform_user_id = 'Ugone'"
        ).scalar_one()
        kept = c.exec_driver_sql("SELECT count(*) FROM outbox").scalar_one()
    assert (users, kept) == (0, 0)


async def test_identical_kept_replies_go_out_with_their_own_messages(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    """Two users got the same reply while LINE was down: the worker groups the identical
    bodies into one multicast, which must carry the stored messages, not a blank text."""
    conversation = bot.server.app[conversation_key]
    store = conversation.store
    body = json.dumps(
        {"line_messages": [{"type": "text", "text": "協働とは、市と団体が力を合わせること"}]},
        ensure_ascii=False,
    )
    for user in ("Ukept1", "Ukept2"):
        store.enqueue(store.touch_user("line", user, "ja").id, body)
    worker = Worker(conversation, {"line": bot.server.app[channels_key]["line"]})
    counts = await worker.run_once()
    assert counts["sent"] == 2
    delivered = [s for s in fake[0].sent if s.kind in ("push", "multicast")]
    assert delivered
    assert all("協働とは" in texts(s) for s in delivered)
