"""The queries the conversation core needs, each in its own short transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import (
    ConversationState,
    FaqFeedback,
    ProcessedEvent,
    UnansweredQuestion,
    User,
    utcnow,
)

MAX_STORED_QUESTION = 500

# Residents sometimes type their phone number or e-mail into a question; the center does not
# need it, so it is masked before the question is stored.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+?\d[\d\-\s()（）－ー]{8,}\d)")


def redact(text: str) -> str:
    """Mask e-mail addresses and phone-number-like digit runs."""
    return _PHONE.sub("[電話番号]", _EMAIL.sub("[メール]", text))


@dataclass(frozen=True, slots=True)
class UserRef:
    """The few facts about a user the conversation needs."""

    id: int
    platform: str
    platform_user_id: str
    locale: str
    is_new: bool


class Store:
    """Data access for the bot; construct it with an engine whose schema is migrated."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    # users -------------------------------------------------------------------------------

    def touch_user(self, platform: str, platform_user_id: str, locale: str) -> UserRef:
        """Find or create the user and mark them seen now."""
        for _ in range(2):  # a concurrent first message may create the row between our steps
            try:
                with self.session() as s:
                    user = s.exec(
                        select(User).where(
                            User.platform == platform, User.platform_user_id == platform_user_id
                        )
                    ).first()
                    is_new = user is None
                    if user is None:
                        user = User(
                            platform=platform, platform_user_id=platform_user_id, locale=locale
                        )
                    user.last_seen_at = utcnow()
                    user.active = True
                    if locale and locale != user.locale:
                        user.locale = locale
                    s.add(user)
                    s.flush()
                    return UserRef(
                        int(user.id or 0), platform, platform_user_id, user.locale, is_new
                    )
            except IntegrityError:
                continue
        raise RuntimeError("could not create user")

    # conversation state -------------------------------------------------------------------

    def load_state(self, user_id: int) -> dict[str, Any]:
        """The user's conversation state (empty when none)."""
        with self.session() as s:
            row = s.get(ConversationState, user_id)
            return dict(json.loads(row.data)) if row else {}

    def save_state(self, user_id: int, data: dict[str, Any]) -> None:
        """Replace the user's conversation state."""
        with self.session() as s:
            row = s.get(ConversationState, user_id) or ConversationState(user_id=user_id)
            row.data = json.dumps(data, ensure_ascii=False)
            row.updated_at = utcnow()
            s.add(row)

    # idempotency --------------------------------------------------------------------------

    def claim_event(self, platform: str, event_id: str) -> bool:
        """Record an event id; False when it was already processed (by us or another process)."""
        try:
            with self.session() as s:
                s.add(ProcessedEvent(platform=platform, event_id=event_id[:128]))
            return True
        except IntegrityError:
            return False

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
        """Keep a question the bot could not answer, masked and without who asked."""
        with self.session() as s:
            s.add(
                UnansweredQuestion(
                    text=redact(text.strip())[:MAX_STORED_QUESTION],
                    normalized=redact(normalized)[:MAX_STORED_QUESTION],
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
        """How many users have ever written (for health and dashboards)."""
        with self.session() as s:
            return int(s.exec(select(func.count()).select_from(User)).one())

    def ping(self) -> datetime:
        """A round trip to the database (health check)."""
        with self.session() as s:
            s.exec(select(func.count()).select_from(ProcessedEvent)).one()
        return utcnow()
