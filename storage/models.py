"""Tables. Every change here needs an Alembic revision in ``storage/migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

# Kamakura's five 地域 (knowledge/places.toml codes), in a fixed order: bit i of
# ``Group.area_mask`` is AREA_CODES[i]. Never reorder; append only.
AREA_CODES = ("kamakura", "koshigoe", "fukasawa", "ofuna", "tamanawa")


def area_bits(codes: tuple[str, ...] | list[str]) -> int:
    """The mask of the given area codes (unknown codes add nothing)."""
    return sum(1 << AREA_CODES.index(c) for c in set(codes) if c in AREA_CODES)


def utcnow() -> datetime:
    """Timezone-aware now; stored as UTC on both SQLite and PostgreSQL."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC in the database and always aware in Python.

    SQLite keeps no offset: a Tokyo 10:00 stored as it is would read back as 10:00 UTC. So
    every value, in a row or in a WHERE clause, is converted to UTC on the way in, and marked
    UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class User(SQLModel, table=True):
    """A person talking to the bot on one platform."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=128)
    locale: str = Field(default="ja", max_length=8)
    active: bool = Field(default=True)  # False after unfollow/block: send nothing
    consent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # What a volunteer gives on their first sign-up; shared only with the groups they join.
    name: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=200)
    age_group: str | None = Field(default=None, max_length=16)
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


class InboxEvent(SQLModel, table=True):
    """A webhook's event, stored before the webhook is acknowledged (the durable inbox): the
    turn is answered from here, so a crash after the 200 loses nothing. ``claimed_until`` is a
    lease: a process that died holding it lets another take the event when it runs out."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inbox_due", "platform", "done_at", "claimed_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    event_id: str = Field(max_length=128)
    body: str  # JSON: what the adapter needs to answer it (the inbound, where to reply)
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    attempts: int = Field(default=0)
    claimed_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    claimed_by: str | None = Field(default=None, max_length=100)  # host:pid:start of the holder
    done_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Heartbeat(SQLModel, table=True):
    """The last time a process proved the database takes writes (``/healthz``)."""

    __tablename__ = "heartbeats"

    name: str = Field(primary_key=True, max_length=100)  # host:pid of the process
    beat_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


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


class Group(SQLModel, table=True):
    """A 市民活動団体等 in the directory the 市民活動センター keeps."""

    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)  # the directory's stable id (CSV ``key``)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    contact: str = Field(default="", max_length=300)  # public contact, as the group gave it
    citywide: bool = Field(default=False)
    # The areas again, as bits of AREA_CODES: ranking by area is then arithmetic on the row.
    area_mask: int = Field(default=0)
    welcomes_newcomers: bool = Field(default=True)
    welcomes_young: bool = Field(default=False)
    verified: bool = Field(default=False)
    is_sample: bool = Field(default=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # name, description and contact folded for the console's search (knowledge.text
    # fold_search), written with them: a search is then one LIKE on one column.
    search_text: str = Field(default="")


class GroupField(SQLModel, table=True):
    """An activity field (knowledge/fields.toml code) a group works in."""

    __tablename__ = "group_fields"
    __table_args__ = (Index("ix_group_fields_field", "field", "group_id"),)

    group_id: int = Field(foreign_key="groups.id", primary_key=True, ondelete="CASCADE")
    field: str = Field(primary_key=True, max_length=32)


class GroupArea(SQLModel, table=True):
    """An area (地域, knowledge/places.toml code) a group is active in."""

    __tablename__ = "group_areas"
    __table_args__ = (Index("ix_group_areas_area", "area", "group_id"),)

    group_id: int = Field(foreign_key="groups.id", primary_key=True, ondelete="CASCADE")
    area: str = Field(primary_key=True, max_length=16)


class Representative(SQLModel, table=True):
    """A user who may post and manage recruitment calls for a group (linked by invite code)."""

    __tablename__ = "representatives"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    group_id: int = Field(foreign_key="groups.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # The name the platform shows for them (Telegram's first/last name, LINE's profile), for
    # the console; kept only while they represent a group. None: not known.
    display_name: str | None = Field(default=None, max_length=100)


class InviteCode(SQLModel, table=True):
    """A one-time code the center issues so a group's representative can link their chat."""

    __tablename__ = "invite_codes"

    code_hash: str = Field(
        primary_key=True, max_length=64
    )  # sha256; the code itself is shown once
    group_id: int = Field(foreign_key="groups.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    used_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class InviteAttempt(SQLModel, table=True):
    """An invite code a user sent that did not link them (wrong, used or expired): a few an
    hour per user, then no code is checked for them until the oldest is an hour old."""

    __tablename__ = "invite_attempts"
    __table_args__ = (Index("ix_invite_attempts_user_at", "user_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RecruitmentCall(SQLModel, table=True):
    """A 募集: one volunteer opening a group posts, with a date, a place and a capacity."""

    __tablename__ = "recruitment_calls"
    __table_args__ = (Index("ix_calls_status_starts", "status", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="groups.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=60)
    description: str = Field(max_length=1000)
    field: str = Field(max_length=32)
    area: str = Field(max_length=16)
    place: str = Field(max_length=60)  # the town or station named
    meeting_point: str = Field(max_length=100)
    starts_at: datetime = Field(sa_column=_ts())
    ends_at: datetime = Field(sa_column=_ts())
    capacity: int
    taken: int = Field(default=0)  # confirmed places; only changed by atomic UPDATEs
    high_school_ok: bool = Field(default=True)
    min_age: int | None = Field(default=None)
    beginners_welcome: bool = Field(default=True)
    bring: str = Field(default="", max_length=200)
    status: str = Field(default="open", max_length=16)  # open | closed | hidden
    hidden_reason: str | None = Field(default=None, max_length=300)
    hidden_from: str | None = Field(default=None, max_length=16)  # the status before hiding
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SignUp(SQLModel, table=True):
    """A resident's place (or waiting-list spot) on a recruitment call."""

    __tablename__ = "sign_ups"
    __table_args__ = (
        UniqueConstraint("call_id", "user_id"),
        Index("ix_sign_ups_call_status", "call_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="recruitment_calls.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    status: str = Field(max_length=16)  # confirmed | waiting | cancelled
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class OutboxMessage(SQLModel, table=True):
    """A message that is not a reply (notices, reminders), kept until it is delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_at", "deliver_after"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    # Whose details the body carries when that is not the addressee (a new sign-up told to the
    # group names the volunteer): 「データ削除」 removes the message with them.
    about_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="CASCADE", index=True
    )
    dedupe_key: str | None = Field(default=None, max_length=100, unique=True)
    body: str  # JSON of a Reply
    deliver_after: datetime = Field(default_factory=utcnow, sa_column=_ts())
    attempts: int = Field(default=0)
    claimed_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))  # given up
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class StaffUser(SQLModel, table=True):
    """A 市民活動センター staff account for the web console (lock-out is counted in
    ``StaffLoginFailure``; see ``storage/staff_accounts.py``)."""

    __tablename__ = "staff_users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=300)
    disabled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_login_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class StaffSession(SQLModel, table=True):
    """A signed-in console session. The cookie carries a random id; only its sha256 is kept,
    so a copy of the database signs nobody in. Ended by sign-out, a new password, disabling
    the account, or time (``expires_at``, and idleness since ``last_seen_at``)."""

    __tablename__ = "staff_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(foreign_key="staff_users.id", ondelete="CASCADE", index=True)
    address: str = Field(default="", max_length=64)  # the client it was started from
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class StaffLoginFailure(SQLModel, table=True):
    """One failed console sign-in: the name typed (known or not) and the client's address.
    Rows older than the lock-out window are deleted."""

    __tablename__ = "staff_login_failures"
    __table_args__ = (
        Index("ix_staff_login_failures_address", "address", "at"),
        Index("ix_staff_login_failures_username", "username", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    username: str = Field(max_length=64)
    address: str = Field(max_length=64)


class AuditEntry(SQLModel, table=True):
    """Who changed what in the console, and when."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    detail: str = Field(default="", max_length=1000)


class AppSecret(SQLModel, table=True):
    """Secrets every server process must share (the console's cookie-signing key)."""

    __tablename__ = "app_secrets"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)


class FaqPhrasing(SQLModel, table=True):
    """A way of asking that staff attached to an FAQ entry from the unanswered questions."""

    __tablename__ = "faq_phrasings"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=64, index=True)
    text: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DailyCount(SQLModel, table=True):
    """Messages per day and intent (no user identifiers): the dashboard's figures."""

    __tablename__ = "daily_counts"

    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD, Kamakura time
    key: str = Field(primary_key=True, max_length=80)  # intent:faq, faq:term-kyodo …
    count: int = Field(default=0)


class Broadcast(SQLModel, table=True):
    """An announcement staff sent from the console, with whom it reached. ``token`` is the
    one-time key its form carried: unique, so a second submit of the same form (Back and
    送る again, a double click, two tabs) inserts nothing and sends nothing."""

    __tablename__ = "broadcasts"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    text: str = Field(max_length=500)
    field: str | None = Field(default=None, max_length=32)  # None: every field
    area: str | None = Field(default=None, max_length=16)  # None: every area
    recipients: int = Field(default=0)  # outbox messages queued
    actor: str = Field(max_length=64)  # the staff member's username
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
