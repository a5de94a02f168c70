"""Engine creation and migrations. ``DATABASE_URL`` picks the database; SQLite by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import create_engine

DEFAULT_SQLITE = Path("var") / "tsunagaru.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(env: dict[str, str] | None = None) -> str:
    """The SQLAlchemy URL from ``DATABASE_URL``; ``postgres(ql)://`` URLs use psycopg 3."""
    env = dict(os.environ) if env is None else env
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str) -> Engine:
    """An engine with the settings each backend needs to serve concurrent requests safely."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # Pre-ping: a connection the server dropped (a restart, a failover, an idle timeout) is
    # found on checkout and replaced, instead of failing a sign-up. One round trip per
    # checkout; the chat turn's own pool (below) goes without it, see there.
    return create_engine(url, pool_pre_ping=True, pool_recycle=1800, pool_size=10, max_overflow=10)


def create_turn_engine(engine: Engine) -> Engine:
    """PostgreSQL: a second, small pool for each chat turn's bookkeeping, in autocommit (a
    turn's beginning and its end are one statement each, see ``storage.turns``), whose commits
    return before the WAL reaches the disk (``synchronous_commit=off``).

    A crash can lose the last moments of such commits (at most three ``wal_writer_delay``, by
    default 0.6 s), never corrupt them: a conversation step or a dashboard count may be lost,
    as with SQLite's ``synchronous=NORMAL`` above. Sign-ups, calls and everything else commit
    on the main pool and wait for the disk. The flush cost about 0.3 ms of every commit, and a
    turn commits twice.
    """
    # No pre-ping here: a turn runs its two statements on this pool, and a round trip before
    # each would cost more than the statement. A dead connection fails its statement instead;
    # SQLAlchemy then discards every connection of the pool opened before it, and the turn
    # runs the statement once more (``intents.conversation._twice``) on a fresh one.
    return _autocommit_pool(engine, 5, "-c synchronous_commit=off")


def create_inbox_engine(engine: Engine) -> Engine:
    """PostgreSQL: a small pool for storing webhook events (the durable inbox), in autocommit:
    one INSERT is the whole transaction, one round trip, and it waits for the disk
    (``synchronous_commit`` stays on: a webhook is acknowledged only once its events are safe).

    No pre-ping, as on the turn pool: a connection the server dropped fails its INSERT, the
    pool discards it, and the store tries once more on a new one (``Store.put_inbox_many``);
    a second failure answers the webhook non-2xx and the platform delivers it again."""
    return _autocommit_pool(engine, 3)


def _autocommit_pool(engine: Engine, size: int, options: str = "") -> Engine:
    """A small autocommit pool on ``engine``'s database, without pre-ping (see above).
    statement_timeout: its statements take milliseconds; one that waits longer is stuck, and
    holds up the conversations or webhooks queued behind it (bot/adapters/lanes)."""
    return create_engine(
        engine.url,
        connect_args={"options": f"{options} -c statement_timeout=5000".strip()},
        isolation_level="AUTOCOMMIT",
        pool_recycle=1800,
        pool_size=size,
        max_overflow=size,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, say when a transaction begins (see below).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers and one writer work at once; busy_timeout makes a second writer wait
    # instead of failing with "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last commits.
    # FULL would fsync on every commit, and a chat turn commits twice.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration without an ini file, bound to ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema up to the latest revision (safe to run at every start)."""
    command.upgrade(alembic_config(engine), "head")


def _sqlite_begin_immediate(conn: Any) -> None:
    # A transaction that reads and then writes (check the places left, then take one) must hold
    # the write lock from its start: a deferred one can fail to upgrade with "database is
    # locked" while another writer commits. IMMEDIATE makes the second writer wait instead.
    # (On the driver connection: exec_driver_sql would cost half the statement's time again.)
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE")


def connection_died(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection going away (and being discarded), so that
    running the same work again on a new connection may well succeed."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not do the work for now (a full disk, a lock
    held too long, a lost connection, a server going down) rather than that the work itself
    is wrong: trying again later may succeed, so such a failure never counts against it."""
    import sqlite3

    import psycopg

    return isinstance(exc, OperationalError | sqlite3.OperationalError | psycopg.OperationalError)


def rowcount(result: Any) -> int:
    """Rows an UPDATE changed (Session.execute's static type hides CursorResult)."""
    return int(getattr(result, "rowcount", 0))
