"""The outbox: messages that are not replies (notices, reminders, replies kept while a
platform was down), kept until the platform accepts them. Mixed into
:class:`storage.store.Store`.

A message is, in turn: due (``deliver_after`` passed), claimed by one worker (a conditional
UPDATE sets a lease, so two workers never send it), then delivered (the platform accepted
it), due again later (a 5xx, a 429, a timeout: ``mark_failed`` with the backoff), or failed
(refused for good, or too many tries: ``give_up``). A failed message is not delivered: it
stays, with its error, on the console's 配信エラー page until staff send it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, func, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import rowcount
from storage.models import OutboxMessage, User, utcnow

CLAIM_LEASE = timedelta(minutes=2)
MAX_ERROR = 300  # outbox.last_error


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox message claimed for delivery."""

    id: int
    user_id: int
    platform: str
    platform_user_id: str
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A message the platform would not take, as the console lists it (no user ids)."""

    id: int
    platform: str
    body: str
    attempts: int
    error: str
    created_at: datetime
    failed_at: datetime


def _not_done() -> Any:
    return col(OutboxMessage.delivered_at).is_(None) & col(OutboxMessage.failed_at).is_(None)


class OutboxQueries:
    """The outbox's statements (see the module docstring)."""

    def enqueue(
        self: _HasSession,
        user_id: int,
        body: str,
        *,
        dedupe_key: str | None = None,
        deliver_after: datetime | None = None,
    ) -> bool:
        """Queue a message; False when one with the same ``dedupe_key`` already exists."""
        try:
            with self.session() as s:
                s.add(
                    OutboxMessage(
                        user_id=user_id,
                        body=body,
                        dedupe_key=dedupe_key,
                        deliver_after=deliver_after or utcnow(),
                    )
                )
            return True
        except IntegrityError:
            return False

    def claim_due(
        self: _HasSession, platforms: tuple[str, ...], now: datetime, limit: int = 50
    ) -> list[Delivery]:
        """Claim due messages to users on push platforms; another worker skips claimed ones."""
        lease_free = or_(
            col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now
        )
        with self.session() as s:
            candidates = s.exec(
                select(OutboxMessage, User)
                .join(User, col(User.id) == col(OutboxMessage.user_id))
                .where(
                    _not_done(),
                    col(OutboxMessage.deliver_after) <= now,
                    lease_free,
                    col(User.platform).in_(platforms),
                    col(User.active),
                )
                .order_by(col(OutboxMessage.id))
                .limit(limit)
            ).all()
            claimed = []
            for message, user in candidates:
                tries = message.attempts + 1  # read now: the UPDATE refreshes the object
                won = s.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == message.id, _not_done(), lease_free)
                    .values(
                        claimed_until=now + CLAIM_LEASE, attempts=col(OutboxMessage.attempts) + 1
                    )
                )
                if rowcount(won) == 1:
                    claimed.append(
                        Delivery(
                            int(message.id or 0),
                            int(user.id or 0),
                            user.platform,
                            user.platform_user_id,
                            message.body,
                            tries,
                        )
                    )
            return claimed

    def mark_delivered(self: _HasSession, message_ids: Sequence[int], now: datetime) -> None:
        """The platform accepted the messages."""
        _settle(self, message_ids, delivered_at=now, claimed_until=None)

    def mark_failed(
        self: _HasSession, message_ids: Sequence[int], error: str, retry_at: datetime
    ) -> None:
        """Delivery failed for now; try again at ``retry_at``."""
        _settle(
            self, message_ids, claimed_until=None, deliver_after=retry_at,
            last_error=error[:MAX_ERROR],
        )  # fmt: skip

    def give_up(self: _HasSession, message_ids: Sequence[int], error: str, now: datetime) -> None:
        """The platform refused the messages for good, or they were tried too often: they
        are not sent again unless staff say so (``retry_failed``)."""
        _settle(self, message_ids, claimed_until=None, failed_at=now, last_error=error[:MAX_ERROR])

    def failed_deliveries(self: _HasSession, limit: int = 200) -> list[FailedDelivery]:
        """The newest messages that could not be delivered (the console)."""
        with self.session() as s:
            rows = s.exec(
                select(OutboxMessage, User.platform)
                .join(User, col(User.id) == col(OutboxMessage.user_id))
                .where(col(OutboxMessage.failed_at).is_not(None))
                .order_by(col(OutboxMessage.failed_at).desc(), col(OutboxMessage.id).desc())
                .limit(limit)
            ).all()
            return [
                FailedDelivery(
                    int(m.id or 0), str(platform), m.body, m.attempts, m.last_error or "",
                    m.created_at, m.failed_at or m.created_at,
                )
                for m, platform in rows
            ]  # fmt: skip

    def count_failed_deliveries(self: _HasSession) -> int:
        """How many messages could not be delivered (the dashboard)."""
        with self.session() as s:
            return int(
                s.exec(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(col(OutboxMessage.failed_at).is_not(None))
                ).one()
            )

    def retry_failed(
        self: _HasSession, message_ids: Sequence[int], now: datetime | None = None
    ) -> int:
        """Staff send failed messages again: due now, with their tries counted from zero.
        Returns how many."""
        if not message_ids:
            return 0
        with self.session() as s:
            done = s.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id).in_(list(message_ids)),
                    col(OutboxMessage.failed_at).is_not(None),
                    col(OutboxMessage.delivered_at).is_(None),
                )
                .values(failed_at=None, attempts=0, deliver_after=now or utcnow())
            )
            return rowcount(done)

    def outbox_pending(self: _HasSession) -> int:
        """Messages still to be delivered, failed ones not counted (health and tests)."""
        with self.session() as s:
            return int(
                s.exec(select(func.count()).select_from(OutboxMessage).where(_not_done())).one()
            )


def _settle(store: _HasSession, message_ids: Sequence[int], **values: Any) -> None:
    """One UPDATE of the given messages (a multicast's 500 are one statement)."""
    if message_ids:
        with store.session() as s:
            s.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(list(message_ids)))
                .values(**values)
            )


def take_due(s: Session | Connection, user_id: int, now: datetime) -> list[str]:
    """Mark the user's due outbox messages delivered and return their bodies (pull delivery:
    the web chat and the console take them with their next reply)."""
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = s.execute(
        core_select(outbox.c.id, outbox.c.body)
        .where(
            outbox.c.user_id == user_id,
            outbox.c.delivered_at.is_(None),
            outbox.c.failed_at.is_(None),
            outbox.c.deliver_after <= now,
        )
        .order_by(outbox.c.id)
    ).all()
    bodies = []
    for row in rows:
        done = s.execute(
            update(outbox)
            .where(outbox.c.id == row.id, outbox.c.delivered_at.is_(None))
            .values(delivered_at=now)
        )
        if rowcount(done) == 1:  # another request may have delivered it a moment ago
            bodies.append(row.body)
    return bodies
