"""The queries the conversation core needs, each in its own short transaction."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage.audit import AuditQueries
from storage.calls import CallQueries
from storage.db import create_inbox_engine, create_turn_engine
from storage.forget import ForgetQueries
from storage.group_list import GroupListQueries
from storage.groups import GroupQueries
from storage.groups import GroupRecord as GroupRecord  # re-exported: callers import it from here
from storage.groups import GroupView as GroupView
from storage.groups import ImportSummary as ImportSummary
from storage.inbox import InboxQueries
from storage.masking import redact
from storage.models import (
    AppSecret,
    FaqFeedback,
    Heartbeat,
    ProcessedEvent,
    UnansweredQuestion,
    User,
    utcnow,
)
from storage.outbox import OutboxQueries, take_due
from storage.representatives import RepresentativeQueries
from storage.retention import RetentionQueries
from storage.samples import SAMPLE_PLATFORM
from storage.signups import SignUpQueries
from storage.staff import StaffQueries
from storage.staff_accounts import StaffAccountQueries
from storage.turns import MAX_COUNTER_KEY, Ending, TurnSql, UserRow
from storage.unanswered import UnansweredQueries

MAX_STORED_QUESTION = 500


@dataclass(frozen=True, slots=True)
class UserRef:
    """The few facts about a user the conversation needs."""

    id: int
    platform: str
    platform_user_id: str
    locale: str
    is_new: bool


class AlreadyHandled(Exception):
    """The event was processed before: redelivered, or another process has it."""


@dataclass(frozen=True, slots=True)
class TurnStart:
    """What a turn needs to begin: who wrote, in which language, and the platform's event id."""

    platform: str
    platform_user_id: str
    locale: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """What a turn leaves behind: the user's new state, the dashboard counters."""

    user_id: int
    state: dict[str, Any]
    pull_notices: bool  # chats without push (CLI, web) take their waiting notices now
    now: datetime
    counters: tuple[date, list[str]] | None = None
    locale: str | None = None


class Store(
    GroupQueries,
    GroupListQueries,
    RepresentativeQueries,
    CallQueries,
    SignUpQueries,
    OutboxQueries,
    StaffQueries,
    StaffAccountQueries,
    InboxQueries,
    ForgetQueries,
    RetentionQueries,
    AuditQueries,
    UnansweredQueries,
):
    """Data access for the bot; construct it with an engine whose schema is migrated."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._turn = TurnSql(engine.dialect.name)
        self._lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._sqlite: Connection | None = None  # see _bind
        self._turn_engine = None if self._lock is not None else create_turn_engine(engine)
        self._inbox_engine = None if self._lock is not None else create_inbox_engine(engine)

    def describe(self) -> str:
        """The database URL without its password (for logs)."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the connections."""
        if self._lock is not None:
            with self._lock:
                if self._sqlite is not None:
                    self._sqlite.close()
                    self._sqlite = None
        for own in (self._turn_engine, self._inbox_engine):
            if own is not None:
                own.dispose()
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction that commits on success and rolls back on error."""
        with self._bind() as bind, Session(bind, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in one transaction: the hot path of a turn, without the ORM's
        unit of work."""
        with self._bind() as bind:
            if isinstance(bind, Connection):
                with bind.begin():
                    yield bind
            else:
                with bind.begin() as connection:
                    yield connection

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads that need no transaction of their own (a resident's search, a
        call's details): on PostgreSQL in autocommit, without the BEGIN and COMMIT round trips
        (each statement then sees its own snapshot); on SQLite the same as ``session()``."""
        if self._turn_engine is None:
            with self.session() as s:
                yield s
            return
        with Session(self._turn_engine, expire_on_commit=False) as s:
            yield s

    def _turn_connection(self) -> AbstractContextManager[Connection]:
        """The connection for a turn's own bookkeeping (its event id, the user, their state,
        the counters) and its Core reads: on PostgreSQL from the autocommit pool whose commits
        do not wait for the disk."""
        return self._on(self._turn_engine)

    def _inbox_connection(self) -> AbstractContextManager[Connection]:
        """The connection that stores webhook events: on PostgreSQL from the inbox pool (one
        durable INSERT, no BEGIN, COMMIT or pre-ping round trips); on SQLite the one writer."""
        return self._on(self._inbox_engine)

    @contextmanager
    def _on(self, pool: Engine | None) -> Iterator[Connection]:
        """A connection of ``pool`` (PostgreSQL's autocommit pools), or on SQLite (None) the
        one writer's, in a transaction."""
        if pool is None:
            with self.connection() as c:
                yield c
            return
        with pool.begin() as c:
            yield c

    @contextmanager
    def _bind(self) -> Iterator[Engine | Connection]:
        # SQLite has one writer at a time, and a waiting writer polls in sleeps that grow to
        # 100 ms. So within a process every transaction queues on a lock and runs on one
        # connection (checking a connection out of the pool cost more than a short turn's
        # queries); between processes busy_timeout still applies. PostgreSQL uses the pool.
        if self._lock is None:
            yield self.engine
            return
        with self._lock:
            if self._sqlite is None or self._sqlite.closed or self._sqlite.invalidated:
                self._sqlite = self.engine.connect()
            yield self._sqlite

    # users -------------------------------------------------------------------------------

    def touch_user(self, platform: str, platform_user_id: str, locale: str) -> UserRef:
        """Find or create the user and mark them seen now."""
        with self.connection() as c:
            row = self._turn.user(c, platform, platform_user_id)
            ref, _ = self._find_or_create(c, platform, platform_user_id, locale, row)
            self._turn.seen(c, ref.id, ref.locale, utcnow())
            return ref

    def keep_reply(self, platform: str, platform_user_id: str, body: str) -> bool:
        """Queue a reply that could not be sent, for the worker; False (nothing kept) when the
        person no longer exists: a reply to 「データ削除」 must not bring their id back."""
        with self.connection() as c:
            row = self._turn.user(c, platform, platform_user_id)
        return row is not None and self.enqueue(row.id, body)

    def saved_state(self, platform: str, platform_user_id: str) -> dict[str, Any] | None:
        """The user's saved conversation state, or None (no user, no state)."""
        with self._turn_connection() as c:
            row = self._turn.user(c, platform, platform_user_id)
        return dict(json.loads(row.data)) if row is not None and row.data else None

    def set_user_active(self, platform: str, platform_user_id: str, active: bool) -> None:
        """Unfollow/block: mark the user so nothing more is pushed to them."""
        with self.session() as s:
            user = s.exec(
                select(User).where(
                    User.platform == platform, User.platform_user_id == platform_user_id
                )
            ).first()
            if user is not None:
                user.active = active
                s.add(user)

    # a turn: one transaction to begin, one to end ------------------------------------------

    def open_turn(
        self, platform: str, platform_user_id: str, locale: str, *, event_id: str | None = None
    ) -> tuple[UserRef, dict[str, Any]]:
        """Claim the event (when it has an id), find or create the user and load their state.

        Raises:
            AlreadyHandled: the event was processed before (redelivered, or another process
                has it).
        """
        (opened,) = self.open_turns([TurnStart(platform, platform_user_id, locale, event_id)])
        if isinstance(opened, AlreadyHandled):
            raise opened
        return opened

    def open_turns(
        self, starts: list[TurnStart]
    ) -> list[tuple[UserRef, dict[str, Any]] | AlreadyHandled]:
        """``open_turn`` for several turns (of different users) at once: one transaction on
        SQLite (one commit for all: group commit), one statement each on PostgreSQL (two for
        a new user). An event handled before gives AlreadyHandled in its place."""
        out: list[tuple[UserRef, dict[str, Any]] | AlreadyHandled] = []
        keys = [(t.platform, t.platform_user_id, t.event_id and t.event_id[:128]) for t in starts]
        with self._turn_connection() as c:
            opened = self._turn.open_many(c, keys, utcnow())
            for start, (claimed, row) in zip(starts, opened, strict=True):
                if not claimed:
                    out.append(AlreadyHandled(start.event_id or ""))
                    continue
                ref, data = self._find_or_create(
                    c, start.platform, start.platform_user_id, start.locale, row
                )
                out.append((ref, dict(json.loads(data)) if data else {}))
        return out

    def _find_or_create(
        self,
        c: Connection,
        platform: str,
        platform_user_id: str,
        locale: str,
        row: UserRow | None,
    ) -> tuple[UserRef, str | None]:
        """The user and their saved state (JSON) from ``row`` (as the caller read them), or,
        when there was none, the user created now (first contact)."""
        if row is not None:
            ref = UserRef(row.id, platform, platform_user_id, locale or row.locale, False)
            return ref, row.data
        # A concurrent first message (another process) may insert the row first: then ours
        # does nothing and we read theirs.
        new_id = self._turn.create_user(c, platform, platform_user_id, locale or "ja", utcnow())
        if new_id is None:
            row = self._turn.user(c, platform, platform_user_id)
            if row is None:
                raise RuntimeError("the user vanished while being created")
            return UserRef(row.id, platform, platform_user_id, locale or row.locale, False), None
        return UserRef(new_id, platform, platform_user_id, locale or "ja", True), None

    def close_turn(
        self,
        user_id: int,
        state: dict[str, Any],
        *,
        pull_notices: bool,
        now: datetime,
        counters: tuple[date, list[str]] | None = None,
        locale: str | None = None,
    ) -> list[str]:
        """Mark the user seen, save the state, count the turn and (for chats without push)
        take the notices due. Returns the notices' bodies."""
        end = TurnEnd(user_id, state, pull_notices, now, counters, locale)
        return self.close_turns([end])[0]

    def close_turns(self, ends: list[TurnEnd]) -> list[list[str]]:
        """``close_turn`` for several turns at once (one transaction on SQLite); the notices'
        bodies for each."""
        counts: Counter[tuple[str, str]] = Counter()
        for end in ends:
            if end.counters is not None:
                day, keys = end.counters
                counts.update((day.isoformat(), key[:MAX_COUNTER_KEY]) for key in set(keys))
        endings = [
            Ending(end.user_id, end.locale, json.dumps(end.state, ensure_ascii=False))
            for end in ends
        ]
        with self._turn_connection() as c:
            self._turn.close_many(c, endings, dict(counts), utcnow())
            return [take_due(c, end.user_id, end.now) if end.pull_notices else [] for end in ends]

    # idempotency --------------------------------------------------------------------------

    def claim_event(self, platform: str, event_id: str) -> bool:
        """Record an event id; False when it was already processed (by us or another process)."""
        with self._turn_connection() as c:
            return self._turn.claim(c, platform, event_id[:128], utcnow())

    def release_event(self, platform: str, event_id: str) -> None:
        """Forget an event id whose turn failed before it was answered, so that a retry of
        the inbox or a redelivery answers it (once)."""
        table = ProcessedEvent.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            s.execute(
                table.delete().where(
                    (table.c.platform == platform) & (table.c.event_id == event_id[:128])
                )
            )

    # FAQ feedback and unanswered questions ------------------------------------------------

    def record_feedback(self, entry_id: str, helpful: bool) -> None:
        """Count one 「役に立った」 or 「ちがう」 tap for an entry (atomic upsert)."""
        column = "helpful" if helpful else "not_helpful"
        values = {"entry_id": entry_id, "helpful": int(helpful), "not_helpful": int(not helpful)}
        table = FaqFeedback.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            dialect = s.get_bind().dialect.name
            ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(**values)
            stmt = ins.on_conflict_do_update(
                index_elements=["entry_id"], set_={column: getattr(table.c, column) + 1}
            )
            s.execute(stmt)

    def feedback_counts(self) -> dict[str, tuple[int, int]]:
        """``{entry_id: (helpful, not_helpful)}``."""
        with self.session() as s:
            rows = s.exec(select(FaqFeedback)).all()
            return {r.entry_id: (r.helpful, r.not_helpful) for r in rows}

    def record_unanswered(self, text: str, normalized: str, locale: str) -> None:
        """Keep a question the bot could not answer, without who asked, its e-mail addresses
        and phone numbers masked in both copies (``normalized`` is the matcher's folded form
        of ``text``: the addresses are found in ``text``)."""
        with self.session() as s:
            s.add(
                UnansweredQuestion(
                    text=redact(text.strip())[:MAX_STORED_QUESTION],
                    normalized=redact(normalized, text)[:MAX_STORED_QUESTION],
                    locale=locale[:8],
                )
            )

    def unanswered(self, status: str = "open", limit: int = 200) -> list[UnansweredQuestion]:
        """The newest unanswered questions with the given status."""
        with self.session() as s:
            stmt = (
                select(UnansweredQuestion)
                .where(UnansweredQuestion.status == status)
                .order_by(
                    col(UnansweredQuestion.created_at).desc(), col(UnansweredQuestion.id).desc()
                )
                .limit(limit)
            )
            return list(s.exec(stmt).all())

    def count_users(self) -> int:
        """How many users have ever written (for health and dashboards); the demo's sample
        people (``storage.samples``) never did."""
        with self.session() as s:
            stmt = select(func.count()).select_from(User)
            return int(s.exec(stmt.where(col(User.platform) != SAMPLE_PLATFORM)).one())

    def ping(self) -> datetime:
        """A round trip to the database (a read)."""
        with self.session() as s:
            s.exec(select(func.count()).select_from(ProcessedEvent)).one()
        return utcnow()

    def heartbeat(self, name: str) -> datetime:
        """Prove the database takes a write: this process's heartbeat row, upserted and
        committed as a webhook's events are (health check). Raises when it cannot."""
        now = utcnow()
        table = Heartbeat.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            dialect = s.get_bind().dialect.name
            insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
            s.execute(
                insert.values(name=name[:100], beat_at=now).on_conflict_do_update(
                    index_elements=["name"], set_={"beat_at": now}
                )
            )
        return now

    def app_value(self, name: str) -> str | None:
        """A value every process shares, set by a setup command (e.g. a LINE rich menu id)."""
        with self.reading() as s:
            row = s.get(AppSecret, name)
            return row.value if row else None

    def set_app_value(self, name: str, value: str) -> None:
        """Set (or replace) a shared value."""
        with self.session() as s:
            row = s.get(AppSecret, name) or AppSecret(name=name, value=value)
            row.value = value
            s.add(row)
