"""The durable inbox: webhook events stored before the 2xx, answered from the table.

Mixed into :class:`storage.store.Store`. How nothing is lost or answered twice:

- ``put_inbox`` stores a webhook's events in one committed insert before the webhook answers;
  a redelivered event (same platform and event id) is stored once;
- a process takes events with a conditional UPDATE that sets a lease (``claimed_until``): two
  processes never hold one event, and a process that died holding one lets another take it
  when the lease runs out;
- ``finish_inbox`` marks an event done after its reply went out (or was kept in the outbox);
  ``release_inbox`` gives it back at once when its turn failed, so the next round retries it.
  The turn itself claims the event id again (processed_events), so an event whose turn had
  committed but whose ``finish`` was lost is not answered twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.models import InboxEvent, utcnow

LEASE = timedelta(seconds=60)  # a turn takes milliseconds; a process silent this long is gone
KEEP_DONE = timedelta(days=7)  # done events are kept this long (redeliveries come in minutes)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event of the inbox, taken by this process to answer."""

    id: int
    platform: str
    event_id: str
    body: str
    attempts: int


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


class InboxQueries:
    """The inbox's statements (see the module docstring)."""

    def put_inbox(self: _HasSession, platform: str, events: Sequence[tuple[str, str]]) -> None:
        """Store ``(event_id, body)`` pairs in one committed insert; repeats are ignored.

        Raises whatever the database raises: the webhook then answers non-2xx, and the
        platform delivers the events again later."""
        if not events:
            return
        now = utcnow()
        rows = [
            {"platform": platform, "event_id": eid[:128], "body": body, "received_at": now,
             "attempts": 0}
            for eid, body in dict(events).items()
        ]  # fmt: skip
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            dialect = s.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            s.execute(insert(table).values(rows).on_conflict_do_nothing())

    def take_inbox(
        self: _HasSession,
        platform: str,
        ids: Sequence[int] | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> list[StoredEvent]:
        """Take (lease) events to answer: the given ids, or any that are due (never taken, or
        whose lease ran out), oldest first. Only what this call leased comes back."""
        now = now or utcnow()
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        due = (
            (table.c.platform == platform)
            & table.c.done_at.is_(None)
            & or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
        )
        with self.session() as s:
            if ids is None:
                ids = list(
                    s.execute(
                        core_select(table.c.id).where(due).order_by(table.c.id).limit(limit)
                    ).scalars()
                )
            if not ids:
                return []
            rows = s.execute(
                update(table)
                .where(due & table.c.id.in_(list(ids)))
                .values(claimed_until=now + LEASE, attempts=table.c.attempts + 1)
                .returning(
                    table.c.id, table.c.platform, table.c.event_id, table.c.body,
                    table.c.attempts,
                )
            ).all()  # fmt: skip
        return sorted((StoredEvent(*r) for r in rows), key=lambda e: e.id)

    def finish_inbox(self: _HasSession, event_ids: Sequence[int]) -> None:
        """Mark events answered."""
        if event_ids:
            with self.session() as s:
                s.execute(
                    update(InboxEvent)
                    .where(col(InboxEvent.id).in_(list(event_ids)))
                    .values(done_at=utcnow(), claimed_until=None)
                )

    def release_inbox(self: _HasSession, event_id: int) -> None:
        """Give an event back at once (its turn failed): the next round takes it again."""
        with self.session() as s:
            s.execute(
                update(InboxEvent).where(col(InboxEvent.id) == event_id).values(claimed_until=None)
            )

    def inbox_pending(self: _HasSession, platform: str | None = None) -> int:
        """How many events are not answered yet (health, tests, benchmarks)."""
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        query = core_select(table.c.id).where(table.c.done_at.is_(None))
        if platform is not None:
            query = query.where(table.c.platform == platform)
        with self.session() as s:
            return len(s.execute(query).all())

    def prune_inbox(self: _HasSession, now: datetime | None = None) -> int:
        """Forget answered events older than KEEP_DONE; returns how many."""
        cutoff = (now or utcnow()) - KEEP_DONE
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            gone = s.execute(
                delete(table).where(table.c.done_at < cutoff).returning(table.c.id)
            ).all()
            return len(gone)
