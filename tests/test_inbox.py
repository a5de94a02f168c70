"""The durable inbox (storage/inbox.py, bot/adapters/inbox.py): a webhook's events are stored
before the 200 and answered from the table, so a crash, a failed turn or a database that was
briefly away loses nothing and answers nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters import line as line_adapter
from bot.adapters.web import conversation_key
from bot.server import channels_key, create_app
from intents.conversation import Conversation
from intents.types import Inbound
from storage import Store
from storage.inbox import LEASE
from storage.models import utcnow
from tests import line_events as ev
from tests.fakes.line_api import FakeLine
from tests.line_helpers import SECRET, serve_fake, settings_for

AiohttpServer = Callable[..., Awaitable[TestServer]]
AiohttpClient = Callable[..., Awaitable[TestClient]]


def _fail_first_turn(conversation: Conversation, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first turn raises (a bug, a dropped connection mid-turn); the others run."""
    original = conversation._answer
    calls = {"n": 0}

    def flaky(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("dropped connection mid-turn")
        return original(*args)

    monkeypatch.setattr(conversation, "_answer", flaky)


# --- storage, on SQLite and PostgreSQL --------------------------------------------------------


def test_events_are_stored_once_and_taken_by_one(store: Store) -> None:
    store.put_inbox("line", [("e1", '{"n": 1}'), ("e2", '{"n": 2}')])
    store.put_inbox("line", [("e1", '{"n": 1}')])  # a redelivery
    assert store.inbox_pending("line") == 2
    first = store.take_inbox("line")
    assert [e.event_id for e in first] == ["e1", "e2"]
    assert store.take_inbox("line") == []  # leased: another process gets nothing
    store.finish_inbox([first[0].id])
    store.release_inbox(first[1].id)  # its turn failed: it is due again at once
    (again,) = store.take_inbox("line")
    assert again.event_id == "e2"
    assert again.attempts == 2
    assert store.inbox_pending("line") == 1


def test_a_dead_processs_lease_runs_out(store: Store) -> None:
    store.put_inbox("telegram", [("u1", "{}")])
    assert len(store.take_inbox("telegram")) == 1
    later = utcnow() + LEASE + timedelta(seconds=1)
    (taken,) = store.take_inbox("telegram", now=later)  # the holder died: ours now
    assert taken.event_id == "u1"
    assert store.take_inbox("line", now=later) == []  # platforms are apart


def test_answered_events_are_pruned_after_a_week(store: Store) -> None:
    store.put_inbox("line", [("old", "{}")])
    (event,) = store.take_inbox("line")
    store.finish_inbox([event.id])
    assert store.prune_inbox() == 0
    assert store.prune_inbox(utcnow() + timedelta(days=8)) == 1


def test_a_failed_turn_leaves_its_event_id_unclaimed(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intents.types import Inbound

    _fail_first_turn(conversation, monkeypatch)
    inbound = Inbound("line", "Uf", text="協働ってなに？", event_id="evt-flaky")
    (first,) = conversation.handle_many([inbound])
    assert isinstance(first, RuntimeError)
    reply = conversation.handle(inbound)  # the retry answers it ...
    assert reply.intent == "faq"
    (again,) = conversation.handle_many([inbound])  # ... and only once
    assert type(again).__name__ == "AlreadyHandled"


# --- LINE, end to end through the real app and the fake API ----------------------------------


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> tuple[FakeLine, str]:
    return await serve_fake(aiohttp_server)


async def _post(client: TestClient, body: bytes) -> int:
    headers = {"Content-Type": "application/json", "X-Line-Signature": ev.sign(body, SECRET)}
    response = await client.post("/callback/line", data=body, headers=headers)
    return response.status


async def test_events_acknowledged_before_a_crash_are_answered_after_restart(
    aiohttp_client: AiohttpClient, fake: tuple[FakeLine, str], tmp_path: Path
) -> None:
    """What a killed process had acknowledged is in the table; the next one answers it."""
    settings = settings_for(fake, tmp_path / "crash.db")
    from bot.runtime import open_conversation

    left = open_conversation(settings)  # the events as the dead process stored them
    bodies = [
        ("evt-a", {"kind": "turn", "user": "Ua", "text": "協働ってなに？", "payload": None,
                   "reply_token": "expired-token"}),
        ("evt-b", {"kind": "turn", "user": "Ub", "text": "補償制度", "payload": None,
                   "reply_token": None}),
    ]  # fmt: skip
    left.store.put_inbox("line", [(eid, json.dumps(b, ensure_ascii=False)) for eid, b in bodies])
    left.store.close()
    fake[0].expired_tokens.add("expired-token")
    client = await aiohttp_client(create_app(settings))
    sent = await fake[0].wait_for(2)
    assert {s.to for s in sent if s.kind == "push"} == {"Ua", "Ub"}  # tokens spent: pushed
    assert any("協働" in json.dumps(s.messages, ensure_ascii=False) for s in sent)
    store = client.server.app[conversation_key].store
    for _ in range(100):  # marked done right after the batch's replies went out
        if store.inbox_pending("line") == 0:
            break
        await asyncio.sleep(0.02)
    assert store.inbox_pending("line") == 0


@pytest.mark.parametrize("had_gone_out", [False, True])
async def test_a_reply_lost_between_its_turn_and_sending_is_sent_once(
    aiohttp_client: AiohttpClient, fake: tuple[FakeLine, str], tmp_path: Path, had_gone_out: bool
) -> None:
    """The process died after the turn committed (the sign-up, the state, the event id) but
    before or just after the reply went out. The next process takes the event again; the turn
    must not run twice, and the user gets the reply exactly once."""
    settings = settings_for(fake, tmp_path / "lost.db")
    from bot.runtime import open_conversation

    left = open_conversation(settings)
    body = {"kind": "turn", "user": "Ulost", "text": "協働ってなに？", "payload": None,
            "reply_token": "token-lost"}  # fmt: skip
    left.store.put_inbox("line", [("evt-lost", json.dumps(body, ensure_ascii=False))], lease=True)
    answered = left.handle(Inbound("line", "Ulost", text="協働ってなに？", event_id="evt-lost"))
    left.store.close()  # … and the process is gone, its lease still on the event
    if had_gone_out:
        fake[0].used_tokens.add("token-lost")  # LINE had taken the reply
    client = await aiohttp_client(create_app(settings))
    store = client.server.app[conversation_key].store
    channel = client.server.app[channels_key]["line"]
    (event,) = store.take_inbox("line", now=utcnow() + LEASE + timedelta(seconds=1))
    assert event.attempts == 2
    await channel._answer_stored(event)
    if had_gone_out:
        assert fake[0].sent == []  # LINE said the token was used: not sent twice
    else:
        (sent,) = fake[0].sent
        assert sent.reply_token == "token-lost"
        assert answered.text.splitlines()[0] in json.dumps(sent.messages, ensure_ascii=False)


async def test_an_event_that_cannot_be_stored_is_not_acknowledged(
    aiohttp_client: AiohttpClient,
    fake: tuple[FakeLine, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await aiohttp_client(create_app(settings_for(fake, tmp_path / "full.db")))
    store = client.server.app[conversation_key].store

    def full(*_args: Any) -> None:
        raise OSError("database or disk is full")

    monkeypatch.setattr(store, "put_inbox_many", full)
    assert await _post(client, ev.body(ev.text("Uc", "協働ってなに？"))) == 503
    monkeypatch.undo()
    assert await _post(client, ev.body(ev.text("Uc", "協働ってなに？"))) == 200  # redelivered
    (sent,) = await fake[0].wait_for(1)
    assert sent.kind == "reply"
    assert "協働" in json.dumps(sent.messages, ensure_ascii=False)


async def test_a_turn_that_failed_is_tried_again_and_answered_once(
    aiohttp_client: AiohttpClient,
    fake: tuple[FakeLine, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.adapters import inbox

    monkeypatch.setattr(inbox, "IDLE_CHECK", 0.05)
    client = await aiohttp_client(create_app(settings_for(fake, tmp_path / "flaky.db")))
    conversation = client.server.app[conversation_key]
    _fail_first_turn(conversation, monkeypatch)
    assert await _post(client, ev.body(ev.text("Ud", "協働ってなに？"))) == 200
    (sent,) = await fake[0].wait_for(1)
    assert "協働" in json.dumps(sent.messages, ensure_ascii=False)
    await asyncio.sleep(0.3)
    assert len(fake[0].sent) == 1  # once
    assert conversation.store.inbox_pending("line") == 0


async def test_past_the_bound_events_wait_in_the_table_and_are_answered_in_order(
    store: Store,
) -> None:
    """Work held in memory is bounded: past ``max_in_flight`` the webhook still stores (and
    so acknowledges) its events, which wait in the table and are answered, in the order they
    came, as room frees up."""
    from bot.adapters.inbox import InboxDrainer

    answered: list[str] = []
    gate = asyncio.Event()
    most = 0

    async def answer(event: Any) -> None:
        nonlocal most
        most = max(most, drainer.in_flight)
        await gate.wait()
        answered.append(event.event_id)

    drainer = InboxDrainer(store, "line", answer, max_in_flight=3)
    drainer.start()
    try:
        for n in range(10):
            await drainer.accept([(f"e{n}", "{}")])  # stored and committed: the 200 may go
        assert drainer.in_flight <= 3  # the rest wait in the table, not in memory
        assert store.inbox_pending("line") == 10
        gate.set()
        for _ in range(200):
            if len(answered) == 10 and store.inbox_pending("line") == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        gate.set()
        await drainer.close()
    assert answered == [f"e{n}" for n in range(10)]
    assert most <= 3
    assert store.inbox_pending("line") == 0


async def test_the_bound_holds_while_the_drainer_is_slow_to_take_events(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drainer reckons its room, then takes events in a thread; webhooks that arrive
    meanwhile may not take that room too (on a loaded machine, in_flight went past the
    bound: three leased by webhooks plus three taken by the slow drainer)."""
    import time

    from bot.adapters.inbox import InboxDrainer

    take = store.take_inbox

    def slow_take(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return take(*args, **kwargs)

    monkeypatch.setattr(store, "take_inbox", slow_take)
    gate = asyncio.Event()
    answered: list[str] = []
    most = 0

    async def answer(event: Any) -> None:
        nonlocal most
        most = max(most, drainer.in_flight)
        await gate.wait()
        answered.append(event.event_id)

    drainer = InboxDrainer(store, "line", answer, max_in_flight=3)
    drainer.start()
    try:
        await asyncio.sleep(0.05)  # the drainer's first look is under way
        for n in range(10):
            await drainer.accept([(f"e{n}", "{}")])
        await asyncio.sleep(0.5)  # the slow look comes back
        assert drainer.in_flight <= 3
        gate.set()
        for _ in range(300):
            if len(answered) == 10 and store.inbox_pending("line") == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        gate.set()
        await drainer.close()
    assert most <= 3
    assert answered == [f"e{n}" for n in range(10)]


async def test_an_event_whose_turn_began_but_did_not_end_is_run_again(
    aiohttp_client: AiohttpClient, fake: tuple[FakeLine, str], tmp_path: Path
) -> None:
    """The process died between the turn's first transaction (the event id claimed) and its
    last (the state and the kept reply): nothing of the turn stands but the claim, so the
    next process runs the turn again — once."""
    settings = settings_for(fake, tmp_path / "unfinished.db")
    client = await aiohttp_client(create_app(settings))
    store = client.server.app[conversation_key].store
    channel = client.server.app[channels_key]["line"]
    body = {"kind": "turn", "user": "Uhalf", "text": "基金はあるの？", "payload": None,
            "reply_token": "token-half"}  # fmt: skip
    store.put_inbox("line", [("evt-half", json.dumps(body, ensure_ascii=False))], lease=True)
    assert store.claim_event("line", "evt-half")  # the dead process's first transaction
    later = utcnow() + LEASE + timedelta(seconds=1)
    (event,) = store.take_inbox("line", now=later)
    with pytest.raises(line_adapter.TurnUnfinished):
        await channel._answer_stored(event)
    assert fake[0].sent == []
    store.release_inbox(event.id)  # what the drainer does with a failed turn
    (again,) = store.take_inbox("line", now=later)
    await channel._answer_stored(again)
    (sent,) = fake[0].sent
    assert "基金" in json.dumps(sent.messages, ensure_ascii=False)


async def test_a_database_that_is_away_is_waited_out_not_given_up(store: Store) -> None:
    """A full disk fails every turn for a while: the event is tried again for as long as it
    takes, never given up after MAX_ATTEMPTS like an event that fails by itself."""
    import sqlite3

    from bot.adapters import inbox

    tries: list[int] = []

    async def answer(event: Any) -> None:
        tries.append(event.attempts)
        if len(tries) <= inbox.MAX_ATTEMPTS + 2:
            raise sqlite3.OperationalError("database or disk is full")

    drainer = inbox.InboxDrainer(store, "line", answer)
    await drainer.accept([("e-full", "{}")])
    for _ in range(inbox.MAX_ATTEMPTS + 3):
        await drainer.settle()
        await drainer.drain_once()
    await drainer.settle()
    assert len(tries) == inbox.MAX_ATTEMPTS + 3  # the last one went through
    assert store.inbox_pending("line") == 0


def test_a_dead_processs_events_on_this_machine_are_taken_over_at_once(store: Store) -> None:
    """A restart after kill -9 need not wait out the dead process's leases: a process on this
    machine that is gone is recognised by its pid; one elsewhere (or alive) is waited for."""
    import os
    import socket
    import subprocess
    import sys

    from storage import inbox

    store.put_inbox("line", [("mine", "{}"), ("dead", "{}"), ("alive", "{}"), ("far", "{}")],
                    lease=True)  # fmt: skip
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host = socket.gethostname()[:60]
    owners = {"dead": f"{host}:{gone.stdout.strip()}:0123",
              "alive": f"{host}:{os.getppid()}:0123", "far": "elsewhere:1:0123"}  # fmt: skip
    table = inbox.InboxEvent.__table__  # type: ignore[attr-defined]
    with store.session() as s:
        for event_id, owner in owners.items():
            s.execute(table.update().where(table.c.event_id == event_id)
                      .values(claimed_by=owner))  # fmt: skip
    assert store.take_over_dead("line") == 1
    (taken,) = store.take_inbox("line")
    assert taken.event_id == "dead"
