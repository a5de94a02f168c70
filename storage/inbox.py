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

import os
import socket
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, delete, func, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session

from storage.db import connection_died
from storage.models import InboxEvent, utcnow
from storage.turns import TurnSql

# A turn takes milliseconds and an event waits in memory a second or two at most (the
# drainer's bound): a lease this old belongs to a process that is gone.
LEASE = timedelta(seconds=30)
# Who holds a lease: this machine, this process, and when it started (a pid can be reused).
LEASE_OWNER = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
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
    _turn: TurnSql

    def session(self) -> AbstractContextManager[Session]: ...

    def connection(self) -> AbstractContextManager[Connection]: ...

    def _turn_connection(self) -> AbstractContextManager[Connection]: ...

    def _inbox_connection(self) -> AbstractContextManager[Connection]: ...


class InboxQueries:
    """The inbox's statements (see the module docstring)."""

    def put_inbox(
        self: _HasSession,
        platform: str,
        events: Sequence[tuple[str, str]],
        *,
        lease: bool = False,
        now: datetime | None = None,
    ) -> list[StoredEvent]:
        """Store ``(event_id, body)`` pairs in one committed insert; repeats are ignored.

        With ``lease`` the new rows are leased to this process at once (it answers them now,
        without taking them again) and come back; without, they wait for a drainer.

        Raises whatever the database raises: the webhook then answers non-2xx, and the
        platform delivers the events again later."""
        (stored,) = InboxQueries.put_inbox_many(self, [(platform, events, lease)], now=now)
        return stored

    def put_inbox_many(
        self: _HasSession,
        puts: Sequence[tuple[str, Sequence[tuple[str, str]], bool]],
        *,
        now: datetime | None = None,
    ) -> list[list[StoredEvent]]:
        """Several webhooks' ``put_inbox`` in one transaction (one commit: on PostgreSQL the
        wait for the disk is shared). One list per put: what it leased."""
        now = now or utcnow()
        rows: list[tuple[str, str, str, bool]] = []
        for platform, events, lease in puts:
            rows.extend((platform, eid[:128], body, lease) for eid, body in dict(events).items())
        if not rows:
            return [[] for _ in puts]
        try:
            with self._inbox_connection() as c:
                inserted = self._turn.put_inbox(c, rows, now, now + LEASE, LEASE_OWNER)
        except Exception as exc:
            if not connection_died(exc):
                raise
            # A connection the server dropped (a restart, pg_terminate_backend): the pool has
            # discarded it; once more on a new one. (Nothing was stored: the INSERT failed.)
            with self._inbox_connection() as c:
                inserted = self._turn.put_inbox(c, rows, now, now + LEASE, LEASE_OWNER)
        mine = {(p, e): StoredEvent(i, p, e, b, n) for i, p, e, b, n in inserted}
        out: list[list[StoredEvent]] = []
        for platform, events, lease in puts:
            got = [mine[(platform, eid[:128])] for eid, _ in dict(events).items()
                   if lease and (platform, eid[:128]) in mine]  # fmt: skip
            out.append(sorted(got, key=lambda e: e.id))
        return out

    def take_inbox(
        self: _HasSession, platform: str, limit: int = 100, now: datetime | None = None
    ) -> list[StoredEvent]:
        """Take (lease) up to ``limit`` events that are due (never taken, or whose lease ran
        out), oldest first. Only what this call leased comes back."""
        now = now or utcnow()
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        due = (
            (table.c.platform == platform)
            & table.c.done_at.is_(None)
            & or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
        )
        with self.session() as s:
            ids = list(
                s.execute(
                    core_select(table.c.id).where(due).order_by(table.c.id).limit(limit)
                ).scalars()
            )
            if not ids:
                return []
            rows = s.execute(
                update(table)
                .where(due & table.c.id.in_(ids))
                .values(
                    claimed_until=now + LEASE,
                    claimed_by=LEASE_OWNER,
                    attempts=table.c.attempts + 1,
                )
                .returning(
                    table.c.id,
                    table.c.platform,
                    table.c.event_id,
                    table.c.body,
                    table.c.attempts,
                )
            ).all()
        return sorted((StoredEvent(*r) for r in rows), key=lambda e: e.id)

    def finish_inbox(self: _HasSession, done: Sequence[int], released: Sequence[int] = ()) -> None:
        """Mark events answered, and give others back at once (their turn failed: the next
        round takes them again), in one transaction.

        On PostgreSQL this commits on the turn pool, without waiting for the disk: should a
        crash lose it, the event is taken again and its turn finds its id already claimed
        (processed_events), so it is not answered twice."""
        if not done and not released:
            return
        with self._turn_connection() as c:
            self._turn.finish_inbox(c, done, released, utcnow())

    def release_inbox(self: _HasSession, event_id: int) -> None:
        """Give one event back at once (see ``finish_inbox``)."""
        InboxQueries.finish_inbox(self, (), [event_id])

    def take_over_dead(self: _HasSession, platform: str) -> int:
        """Free at once the leases of processes on this machine that are gone (a restart
        after a crash), instead of waiting for them to run out. Returns how many events."""
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        held = (
            (table.c.platform == platform)
            & table.c.done_at.is_(None)
            & table.c.claimed_until.is_not(None)
        )
        with self.session() as s:
            owners = s.execute(core_select(table.c.claimed_by).where(held).distinct()).scalars()
            dead = [o for o in owners if o and _gone(o)]
            if not dead:
                return 0
            freed = s.execute(
                update(table)
                .where(held & table.c.claimed_by.in_(dead))
                .values(claimed_until=None, claimed_by=None)
                .returning(table.c.id)
            ).all()
            return len(freed)

    def inbox_pending(self: _HasSession, platform: str | None = None) -> int:
        """How many events are not answered yet (health, tests, benchmarks)."""
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        query = core_select(func.count()).select_from(table).where(table.c.done_at.is_(None))
        if platform is not None:
            query = query.where(table.c.platform == platform)
        with self.session() as s:
            return int(s.execute(query).scalar_one())

    def prune_inbox(self: _HasSession, now: datetime | None = None) -> int:
        """Forget answered events older than KEEP_DONE; returns how many."""
        cutoff = (now or utcnow()) - KEEP_DONE
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            gone = s.execute(
                delete(table).where(table.c.done_at < cutoff).returning(table.c.id)
            ).all()
            return len(gone)


def _gone(owner: str) -> bool:
    """Whether the process ``owner`` names ran on this machine and is no longer running (or
    is this very process's predecessor with the same pid)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False  # another machine: its lease runs out by itself
    if owner == LEASE_OWNER:
        return False
    if int(pid) == os.getpid():
        return True  # our pid, another start: that process is gone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False
