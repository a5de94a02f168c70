"""Tables. Every change here needs an Alembic revision in ``storage/migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware now; stored as UTC on both SQLite and PostgreSQL."""
    return datetime.now(UTC)


def _ts(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class User(SQLModel, table=True):
    """A person talking to the bot on one platform."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=128)
    locale: str = Field(default="ja", max_length=8)
    active: bool = Field(default=True)
    consent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ConversationState(SQLModel, table=True):
    """Where a user is in a conversation, kept in the database so any process can serve them."""

    __tablename__ = "conversation_states"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    data: str = Field(default="{}")  # JSON
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ProcessedEvent(SQLModel, table=True):
    """Platform event ids already handled (webhook redelivery, two processes)."""

    __tablename__ = "processed_events"

    platform: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class UnansweredQuestion(SQLModel, table=True):
    """A question the bot could not answer, kept for the 市民活動センター without who asked it."""

    __tablename__ = "unanswered_questions"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=500)
    normalized: str = Field(max_length=500, index=True)
    locale: str = Field(default="ja", max_length=8)
    status: str = Field(default="open", max_length=16)  # open | attached | dismissed
    faq_entry_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class FaqFeedback(SQLModel, table=True):
    """Counts of 「役に立った／ちがう」 taps per FAQ entry; no user identifiers."""

    __tablename__ = "faq_feedback"

    entry_id: str = Field(primary_key=True, max_length=64)
    helpful: int = Field(default=0)
    not_helpful: int = Field(default=0)
