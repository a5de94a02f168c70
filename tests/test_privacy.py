"""「データ削除」 deletes, and what is kept is kept for a while, not for ever (issue 15).

A person signs up through the real conversation (their messages arriving through the inbox as
the LINE and Telegram adapters store them), leaves a question with their e-mail, links to a
group; after 「データ削除」 every column of every table is searched for their platform id,
name, e-mail and phone number. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from linebot.v3 import WebhookParser
from sqlalchemy import MetaData, Text, cast, func, select

from bot.adapters import line as line_adapter
from bot.config import Settings
from bot.worker import Worker
from intents.conversation import Conversation
from intents.types import Inbound, Reply
from knowledge.faq import FaqIndex
from knowledge.text import fold
from storage import Store
from storage.models import InboxEvent, OutboxMessage, UnansweredQuestion
from storage.store import GroupRecord
from tests import line_events as ev
from tests.helpers import open_call

SECRET = "line-channel-secret-for-tests"
NAME = "山田はなこ"
EMAIL = "hanako.yamada@example.jp"
PHONE = "090-1234-5678"
PERSON = {"line": "U4f1d2c3b4a5968778695a4b3c2d1e0f9", "telegram": "731904625"}
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
Send = Callable[..., Reply]
_updates = itertools.count(5_000_001)


def _inbox_body(platform: str, user: str, text: str | None, payload: str | None) -> str:
    """The event as the platform's adapter stores it in the inbox (bot/adapters)."""
    if platform == "line":
        event = ev.postback(user, payload) if payload else ev.text(user, text or "")
        raw = ev.body(event)
        (parsed,) = WebhookParser(SECRET).parse(raw.decode(), ev.sign(raw, SECRET))
        stored = line_adapter._stored(parsed, raw, 0)
        assert stored is not None
        return stored[1]
    sender = {"id": int(user), "is_bot": False, "first_name": NAME, "language_code": "ja"}
    chat = {"id": int(user), "type": "private", "first_name": NAME}
    n = next(_updates)
    if payload:
        update: dict[str, Any] = {
            "update_id": n,
            "callback_query": {"id": f"cb{n}", "from": sender, "chat_instance": "42",
                               "data": payload, "message": {"message_id": n, "date": 1764039600,
                               "chat": chat, "text": "…",
                               "from": {"id": 1, "is_bot": True, "first_name": "bot"}}},
        }  # fmt: skip
    else:
        update = {"update_id": n, "message": {"message_id": n, "date": 1764039600,
                  "chat": chat, "from": sender, "text": text}}  # fmt: skip
    return json.dumps(update, ensure_ascii=False)


def talk(bot: Conversation, platform: str, user: str) -> Send:
    """A person writing on a platform answered from the inbox: each message is stored as the
    webhook stores it, answered through the conversation, and marked done."""
    store = bot.store

    def send(text: str | None = None, payload: str | None = None) -> Reply:
        event_id = f"ev-{next(_updates)}"
        body = _inbox_body(platform, user, text, payload)
        (stored,) = store.put_inbox(platform, [(event_id, body)], lease=True)
        reply = bot.handle(Inbound(platform, user, text=text, payload=payload, event_id=event_id))
        store.finish_inbox([stored.id])
        return reply

    return send


def sign_up(me: Send, call_id: int, action: str = "os") -> Reply:
    """Tap 申し込む (``os``) or キャンセル待ち (``ow``) and answer what the form asks."""
    reply = me(payload=f"{action}:{call_id}")
    answers = {
        "age_group": {"payload": "f:v:30"},
        "consented": {"payload": "f:v:yes"},
        "name": {"text": NAME},
        "contact": {"text": f"{EMAIL} / {PHONE}"},
    }
    for _ in range(len(answers)):
        if reply.slots.get("step") not in answers:
            break
        reply = me(**answers[reply.slots["step"]])
    assert reply.slots == {"step": "confirm"}, reply.text
    return me(payload="f:v:yes")


def _leaks(store: Store, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every column of every table whose text holds a needle."""
    schema = MetaData()
    schema.reflect(store.engine)
    found = []
    with store.engine.connect() as c:
        for table in schema.sorted_tables:
            for column in table.columns:
                for needle in needles:
                    hits = c.execute(
                        select(func.count())
                        .select_from(table)
                        .where(cast(column, Text).contains(needle, autoescape=True))
                    ).scalar_one()
                    if hits:
                        found.append((table.name, column.name, needle))
    return found


@pytest.mark.parametrize("platform", ["line", "telegram"])
def test_delete_my_data_leaves_nothing_of_the_person(
    store: Store, faq_index: FaqIndex, platform: str
) -> None:
    _, first = open_call(store, ("line", "Urep"), capacity=1)
    _, full = open_call(store, ("line", "Urep"), title="公園そうじ", capacity=1)
    store.import_groups([GroupRecord("yama", "山の会", fields=("environment",))])
    other = store.touch_user("line", "Uother", "ja").id
    store.save_profile(other, name="佐藤", contact="s@example.jp", age_group="18", consent_at=NOW)
    assert store.sign_up(other, full, datetime.now(UTC)).outcome == "confirmed"
    bot = Conversation(store, faq_index=faq_index)
    uid = PERSON[platform]
    me = talk(bot, platform, uid)

    assert sign_up(me, first).slots["outcome"] == "confirmed"
    # The group's notice of the first sign-up is delivered, the second waits in the outbox.
    delivered = store.claim_due(("line",), datetime.now(UTC))
    store.mark_delivered([d.id for d in delivered], datetime.now(UTC))
    assert sign_up(me, full, "ow").slots["outcome"] == "waiting"
    assert me(f"鎌倉の天気を {EMAIL} か {PHONE} に送って").intent == "fallback"
    # Her name typed into questions, spaced as in the form and not: kept only until she goes.
    assert me(f"{NAME}です。駐車場の料金は？").intent == "fallback"
    assert me(f"{NAME[:2]}　{NAME[2:]}です。ごみの日は？").intent == "fallback"
    code, _ = store.issue_invite("yama") or ("", NOW)
    assert me("招待コード ZZZZ-ZZZZ").intent == "link_group"  # a wrong one, then the right one
    assert me(f"招待コード {code}").slots == {"group": "山の会"}
    call = store.get_call(first)
    assert call is not None
    worker = Worker(bot, clock=lambda: call.starts_at - timedelta(hours=2))
    assert asyncio.run(worker.run_once())["reminders_queued"] == 2  # hers, and 佐藤's
    needles = [uid, NAME, f"{NAME[:2]}　{NAME[2:]}", fold(NAME), EMAIL, fold(EMAIL), PHONE,
               fold(PHONE)]  # fmt: skip
    assert {leak[1] for leak in _leaks(store, needles)} >= {"name", "contact", "body", "text"}

    assert me("データ削除").intent == "delete_data"
    done = me(payload="del:yes")
    assert "キャンセルした申し込み：2件" in done.text

    assert _leaks(store, needles) == []
    # The group still hears that a place was cancelled, without who it was.
    with store.engine.connect() as c:
        told = c.execute(select(OutboxMessage.__table__.c.body)).scalars().all()
    assert any("データ削除" in body for body in told)


def test_sign_ups_on_called_off_calls_are_not_counted_as_cancelled(
    store: Store, faq_index: FaqIndex
) -> None:
    rep, live = open_call(store, ("line", "Urep"))
    _, off = open_call(store, ("line", "Urep"), title="中止になる会")
    bot = Conversation(store, faq_index=faq_index)
    me = talk(bot, "line", PERSON["line"])
    sign_up(me, live)
    sign_up(me, off)
    assert store.set_call_status(rep, off, "cancelled")
    done = me(payload="del:yes")
    assert done.intent == "delete_data"
    assert "キャンセルした申し込み：1件" in done.text  # before: 2, the called-off one too


PHONES = [
    "090-1234-5678",
    "0467-23-1234",
    "(0467)23-1234",
    "09012345678",
    "０９０－１２３４－５６７８",
    "090ー1234ー5678",
    "+81 90-1234-5678",
    "＋８１ ９０ １２３４ ５６７８",
]
EMAILS = [
    "hanako.yamada@example.jp",
    "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ",
    "Taro+kamakura@mail.example.co.jp",
]


@pytest.mark.parametrize("typed", PHONES + EMAILS)
def test_unanswered_questions_keep_no_phone_or_mail(store: Store, typed: str) -> None:
    bot = Conversation(store, clock=lambda: NOW)
    question = f"鎌倉の天気は？わかったら {typed} まで"
    assert bot.handle(Inbound("test", "asker", text=question)).intent == "fallback"
    (kept,) = store.unanswered()
    digits = "".join(ch for ch in fold(typed) if ch.isdigit())
    for column in (kept.text, kept.normalized):
        assert fold(typed) not in fold(column)  # the folded copy too: no @, no dots
        assert not digits or digits not in fold(column)
    assert "鎌倉" in kept.text  # the question itself is kept


def test_the_worker_forgets_old_messages_after_the_retention_period(store: Store) -> None:
    assert Settings.from_env({"DATABASE_URL": "sqlite://"}).retention_days == 30
    assert (
        Settings.from_env({"DATABASE_URL": "sqlite://", "RETENTION_DAYS": "7"}).retention_days == 7
    )
    bot = Conversation(store)
    now = datetime.now(UTC)
    user = store.touch_user("line", "Uold", "ja").id
    store.enqueue(user, '{"text": "配信済み", "choices": []}', deliver_after=now)
    store.mark_delivered([d.id for d in store.claim_due(("line",), now)], now)
    store.enqueue(user, '{"text": "まだ", "choices": []}', deliver_after=now + timedelta(days=60))
    (event,) = store.put_inbox(
        "line", [("ev-old", '{"kind": "turn", "user": "Uold"}')], lease=True
    )
    store.finish_inbox([event.id])
    bot.handle(Inbound("line", "Uold", text="鎌倉の天気は？"))  # a state, and a question
    assert store.saved_state("line", "Uold")
    assert store.unanswered()

    def rows() -> tuple[int, int, int, bool]:
        with store.engine.connect() as c:
            outbox, inbox, questions = (
                c.execute(select(func.count()).select_from(model.__table__)).scalar_one()
                for model in (OutboxMessage, InboxEvent, UnansweredQuestion)
            )
        return outbox, inbox, questions, bool(store.saved_state("line", "Uold"))

    almost = Worker(bot, clock=lambda: now + timedelta(days=6), retention=timedelta(days=30))
    asyncio.run(almost.prune())
    assert rows() == (2, 1, 1, True)
    later = Worker(bot, clock=lambda: now + timedelta(days=31), retention=timedelta(days=30))
    assert asyncio.run(later.prune()) == 4  # delivered notice, event, state, question
    assert rows() == (1, 0, 0, False)  # what is still to be delivered stays
