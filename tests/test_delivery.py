"""Deliveries that arrive (bot/worker.py, storage/outbox.py): a message is marked delivered
only when LINE accepted it; 5xx, 429 and timeouts are tried again with the same retry key; a
message LINE refuses, or one tried too often, stays failed and visible, never "delivered".
On SQLite and PostgreSQL, against the fake LINE API on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from bot import worker as worker_module
from bot.adapters.line import LineChannel
from bot.adapters.line_render import render
from bot.worker import Worker
from intents.conversation import Conversation
from intents.types import Reply
from storage import Store
from storage.models import utcnow
from tests.fakes.line_api import FakeLine

AiohttpServer = Callable[..., Awaitable[TestServer]]
NOTICE = json.dumps({"text": "📣 清掃の日は雨で延期です", "choices": []}, ensure_ascii=False)


class Clock:
    """The worker's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=5)  # what the test queues is due

    def __call__(self) -> datetime:
        return self.now

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def line(
    aiohttp_server: AiohttpServer, store: Store
) -> AsyncIterator[tuple[FakeLine, Worker, Clock]]:
    fake = FakeLine()
    server = await aiohttp_server(fake.app)
    conversation = Conversation(store)
    channel = LineChannel("secret", fake.token, conversation, str(server.make_url("")))
    await channel.open()
    clock = Clock()
    yield fake, Worker(conversation, {"line": channel}, clock=clock), clock
    await channel.close()


def _queue(store: Store, *users: str, body: str = NOTICE) -> None:
    for user in users:
        store.enqueue(store.touch_user("line", user, "ja").id, body)


async def test_a_refused_message_is_failed_not_delivered(
    line: tuple[FakeLine, Worker, Clock], store: Store
) -> None:
    fake, worker, _ = line
    _queue(store, "Urefused")
    fake.fail_next = [400]  # LINE refuses it (a bad id, a message it will never take)
    counts = await worker.run_once()
    assert counts == {"reminders_queued": 0, "sent": 0, "failed": 1}
    assert fake.sent == []
    assert store.outbox_pending() == 0  # not tried again by itself …
    (failed,) = store.failed_deliveries()  # … but kept, with why, for the console
    assert "400" in failed.error
    assert failed.platform == "line"
    assert store.count_failed_deliveries() == 1
    assert store.retry_failed([failed.id]) == 1  # staff send it again
    await worker.run_once()
    assert [s.to for s in fake.sent] == ["Urefused"]
    assert store.failed_deliveries() == []


async def test_a_lost_answer_is_retried_with_the_same_key_and_arrives_once(
    line: tuple[FakeLine, Worker, Clock], store: Store
) -> None:
    fake, worker, clock = line
    _queue(store, "Ulost")
    fake.lose_answers = 1  # LINE took the push, but its answer was a 500
    assert (await worker.run_once())["failed"] == 1
    assert (await worker.run_once())["sent"] == 0  # backing off: not yet due
    clock.later(seconds=worker_module.BACKOFF_BASE + worker_module.BACKOFF_JITTER)
    third = await worker.run_once()
    assert third["sent"] == 1  # LINE answers 409: it had it already
    assert len(fake.sent) == 1
    assert len(fake.tried_keys) == 2
    assert fake.tried_keys[0] == fake.tried_keys[1]
    assert store.outbox_pending() == 0
    assert store.failed_deliveries() == []


async def test_a_broadcast_chunk_is_retried_as_the_same_chunk(
    line: tuple[FakeLine, Worker, Clock], store: Store
) -> None:
    fake, worker, clock = line
    _queue(store, "Ub1", "Ub2", "Ub3")
    fake.lose_answers = 1
    assert (await worker.run_once())["failed"] == 3
    _queue(store, "Ub4")  # the same notice to someone new, meanwhile
    clock.later(seconds=worker_module.BACKOFF_BASE + worker_module.BACKOFF_JITTER)
    assert (await worker.run_once())["sent"] == 4
    assert sorted(s.to or "" for s in fake.sent) == ["Ub1", "Ub2", "Ub3", "Ub4"]  # once each
    assert fake.tried_keys[0] == fake.tried_keys[1]  # the retried chunk: the same key


async def test_too_many_tries_leave_the_message_failed(
    line: tuple[FakeLine, Worker, Clock], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, worker, clock = line
    monkeypatch.setattr(worker_module, "MAX_ATTEMPTS", 3)
    _queue(store, "Udown")
    fake.fail_next = [500, 429, 503]
    for _ in range(3):
        assert (await worker.run_once())["failed"] == 1
        clock.later(hours=2)
    assert await worker.run_once() == {"reminders_queued": 0, "sent": 0, "failed": 0}
    (failed,) = store.failed_deliveries()
    assert failed.attempts == 3
    assert "503" in failed.error
    assert fake.sent == []


async def test_an_empty_message_is_never_sent_as_a_blank_text(
    line: tuple[FakeLine, Worker, Clock], store: Store
) -> None:
    """LINE refuses blank texts; a body with nothing to say is failed, not pushed as " "."""
    fake, worker, _ = line
    _queue(store, "Ublank", body=json.dumps({"text": "  ", "choices": []}))
    assert (await worker.run_once())["failed"] == 1
    assert fake.sent == []
    assert fake.rejected == []  # not even tried
    assert render(Reply(" \n ", "notice")) == []
