"""PostgreSQL that survives dropped connections (a restart, a failover, pg_terminate_backend):
a connection found dead is replaced, a turn whose connection died mid-way is run once more,
and no event id is left claimed by a turn that did not answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import create_app
from intents.conversation import Conversation
from intents.types import Inbound
from storage import Store
from storage.db import create_db_engine, migrate
from tests.helpers import open_call


@pytest.fixture
def pg(db_url: str) -> Iterator[tuple[Store, str]]:
    if not db_url.startswith("postgresql"):
        pytest.skip("about PostgreSQL's connections")
    engine = create_db_engine(db_url)
    migrate(engine)
    store = Store(engine)
    yield store, db_url
    store.close()


def _terminate_all(url: str) -> int:
    """End every other session on the bot's database, as a restart of the server would."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        rows = c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_turns_go_on_after_every_connection_was_dropped(
    pg: tuple[Store, str], faq_index: Any
) -> None:
    store, url = pg
    conversation = Conversation(store, faq_index)
    _, call_id = open_call(store, ("line", "Urep"), capacity=5)
    assert conversation.handle(Inbound("line", "U1", text="協働ってなに？", event_id="e1"))
    with store.session() as s:  # a pooled connection of the main pool, too
        s.execute(text("SELECT 1"))
    assert _terminate_all(url) >= 1
    assert store.count_users() >= 1  # the main pool's dead connection is replaced, unseen
    assert _terminate_all(url) >= 1
    reply = conversation.handle(Inbound("line", "U1", payload=f"os:{call_id}", event_id="e2"))
    assert reply.intent != "fallback"
    assert _terminate_all(url) >= 1
    again = conversation.handle(Inbound("line", "U2", text="基金はあるの？", event_id="e3"))
    assert "基金" in again.text


def test_a_turn_whose_connection_dies_mid_way_runs_once_more(
    pg: tuple[Store, str], faq_index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection is killed while the turn's handler is reading (between the turn's
    first transaction and its last): the turn is run again and answered, once."""
    store, url = pg
    conversation = Conversation(store, faq_index)
    original = store.find_groups
    calls = {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            with store.session() as s:
                pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
                dsn = url.replace("postgresql+psycopg://", "postgresql://")
                with psycopg.connect(dsn, autocommit=True) as killer:
                    killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
                s.execute(text("SELECT 1"))  # the connection is gone: this raises
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "find_groups", dies_once)
    reply = conversation.handle(
        Inbound("line", "U3", text="大船で子どもの団体をさがしてます", event_id="e4")
    )
    assert calls["n"] == 2
    assert reply.intent == "find_groups"
    assert not store.claim_event("line", "e4")  # answered: the claim stands, once


def test_a_turn_that_fails_twice_leaves_no_claim(
    pg: tuple[Store, str], faq_index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, url = pg
    conversation = Conversation(store, faq_index)

    def always_dies(*_args: Any, **_kwargs: Any) -> Any:
        with store.session() as s:
            pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
            dsn = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            s.execute(text("SELECT 1"))

    monkeypatch.setattr(store, "find_groups", always_dies)
    (result,) = conversation.handle_many(
        [Inbound("line", "U4", text="大船で子どもの団体をさがしてます", event_id="e5")]
    )
    assert isinstance(result, Exception)
    assert store.claim_event("line", "e5")  # not left claimed: a retry will answer it


async def test_healthz_fails_when_the_database_takes_no_writes(
    pg: tuple[Store, str], aiohttp_client: Any
) -> None:
    """A database that answers reads but takes no writes (a read-only replica after a
    failover; a full disk is the same to us) cannot store a webhook's events: the health
    check must say so, not just that the database answers."""
    _, url = pg
    client = await aiohttp_client(create_app(Settings(database_url=url)))
    assert (await client.get("/healthz")).status == 200
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        name = c.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        c.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    _terminate_all(url)  # the pools reconnect, read-only now
    store = client.server.app[conversation_key].store
    assert store.count_users() >= 0  # reads still work …
    res = await client.get("/healthz")
    assert res.status == 503  # … but the check writes
    assert (await res.json())["status"] == "unavailable"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SET default_transaction_read_only = off")  # this session may write
        c.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
    _terminate_all(url)
    assert (await client.get("/healthz")).status == 200


def test_webhook_events_are_stored_in_one_durable_statement_even_after_a_drop(
    pg: tuple[Store, str],
) -> None:
    """The inbox has its own pool: autocommit (one INSERT, no BEGIN/COMMIT), no pre-ping, and
    its commits wait for the disk. A connection the server dropped is replaced and the
    events stored once more, not lost and not a 503."""
    store, url = pg
    with store._inbox_connection() as c:
        assert c.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert c.connection.driver_connection.autocommit is True
    assert [e.event_id for e in store.put_inbox("line", [("a", "{}")], lease=True)] == ["a"]
    assert _terminate_all(url) >= 1  # the inbox pool's connection among them
    assert [e.event_id for e in store.put_inbox("line", [("b", "{}")], lease=True)] == ["b"]
    assert store.inbox_pending("line") == 2
