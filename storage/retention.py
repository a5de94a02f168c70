"""Stored message texts are kept for a while, not for ever (mixed into
``storage.store.Store``; the worker runs :meth:`RetentionQueries.purge_expired` once an hour).

Older than the retention period (``RETENTION_DAYS``, default 30) go:

- outbox messages delivered, or given up on (failed), that long ago: notices carry names
  and call details, and a failed one is not worth sending a month late;
- inbox events received that long ago, answered or not (their messages' texts; answered
  ones go after a week anyway: ``storage.inbox.KEEP_DONE``);
- conversation states not touched for that long: half-filled forms, kept replies, the last
  question (a resident who comes back after a month starts afresh);
- unanswered questions asked that long ago: they are masked and kept without who asked, but
  a question can still carry a name or an address the masking does not know; what staff
  taught the bot from them stays (``faq_phrasings``).

Invite codes tried go once they no longer count (``INVITE_WINDOW``). Sign-ups, calls and the
directory are not messages: they stay until their owner removes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlmodel import col

from storage.db import rowcount
from storage.models import (
    ConversationState,
    InboxEvent,
    InviteAttempt,
    OutboxMessage,
    UnansweredQuestion,
)
from storage.openings import _HasSession
from storage.representatives import INVITE_WINDOW

DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows of each kind :meth:`RetentionQueries.purge_expired` deleted."""

    outbox: int = 0
    inbox: int = 0
    states: int = 0
    questions: int = 0
    invite_attempts: int = 0

    @property
    def total(self) -> int:
        return self.outbox + self.inbox + self.states + self.questions + self.invite_attempts


class RetentionQueries:
    """The retention purge (see the module docstring)."""

    def purge_expired(self: _HasSession, now: datetime, keep: timedelta) -> Purged:
        """Delete what is older than ``keep`` (see the module docstring), in one
        transaction."""
        cutoff = now - keep
        with self.session() as s:
            outbox = s.execute(
                delete(OutboxMessage).where(
                    or_(
                        col(OutboxMessage.delivered_at) < cutoff,
                        col(OutboxMessage.failed_at) < cutoff,
                    )
                )
            )
            inbox = s.execute(delete(InboxEvent).where(col(InboxEvent.received_at) < cutoff))
            states = s.execute(
                delete(ConversationState).where(col(ConversationState.updated_at) < cutoff)
            )
            questions = s.execute(
                delete(UnansweredQuestion).where(col(UnansweredQuestion.created_at) < cutoff)
            )
            tries = s.execute(
                delete(InviteAttempt).where(col(InviteAttempt.at) < now - INVITE_WINDOW)
            )
            return Purged(
                rowcount(outbox), rowcount(inbox), rowcount(states), rowcount(questions),
                rowcount(tries),
            )  # fmt: skip
