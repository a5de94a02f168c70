"""The queries the conversation core needs, each in its own short transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, delete, func, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import (
    ConversationState,
    FaqFeedback,
    Group,
    GroupArea,
    GroupField,
    ProcessedEvent,
    UnansweredQuestion,
    User,
    area_bits,
    utcnow,
)
from storage.openings import OpeningQueries, take_due
from storage.staff import StaffQueries, add_counts

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


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group as the directory (CSV, console) describes it; ``areas`` empty means citywide."""

    key: str
    name: str
    description: str = ""
    fields: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    contact: str = ""
    welcomes_newcomers: bool = True
    welcomes_young: bool = False
    verified: bool = True

    @property
    def citywide(self) -> bool:
        return not self.areas


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as residents see it, with why it ranked where it did."""

    id: int
    key: str
    name: str
    description: str
    contact: str
    fields: tuple[str, ...]
    areas: tuple[str, ...]
    citywide: bool
    welcomes_newcomers: bool
    welcomes_young: bool
    verified: bool
    is_sample: bool
    area_rank: int = 3  # 0 same area, 1 neighbouring, 2 citywide, 3 elsewhere


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import changed."""

    created: int
    updated: int
    samples_removed: int


def _chunks(items: list[Any], size: int = 900) -> Iterator[list[Any]]:
    """Slices small enough for one IN list on every backend."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Store(OpeningQueries, StaffQueries):
    """Data access for the bot; construct it with an engine whose schema is migrated."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> str:
        """The database URL without its password (for logs)."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

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
        return self._find_or_create(platform, platform_user_id, locale, with_state=False)[0]

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
        self, platform: str, platform_user_id: str, locale: str
    ) -> tuple[UserRef, dict[str, Any]]:
        """Find or create the user, mark them seen, and load their state, in one transaction."""
        return self._find_or_create(platform, platform_user_id, locale, with_state=True)

    def _find_or_create(
        self, platform: str, platform_user_id: str, locale: str, *, with_state: bool
    ) -> tuple[UserRef, dict[str, Any]]:
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
                    user_id = int(user.id or 0)
                    row = s.get(ConversationState, user_id) if with_state and not is_new else None
                    state = dict(json.loads(row.data)) if row else {}
                    ref = UserRef(user_id, platform, platform_user_id, user.locale, is_new)
                    return ref, state
            except IntegrityError:
                continue
        raise RuntimeError("could not create user")

    def close_turn(
        self,
        user_id: int,
        state: dict[str, Any],
        *,
        pull_notices: bool,
        now: datetime,
        counters: tuple[date, list[str]] | None = None,
    ) -> list[str]:
        """Save the state and (for chats without push) take the notices due, in one
        transaction. Returns the notices' bodies."""
        with self.session() as s:
            row = s.get(ConversationState, user_id) or ConversationState(user_id=user_id)
            row.data = json.dumps(state, ensure_ascii=False)
            row.updated_at = utcnow()
            s.add(row)
            if counters is not None:
                add_counts(s, *counters)
            if not pull_notices:
                return []
            return take_due(s, user_id, now)

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

    # the group directory ------------------------------------------------------------------

    def import_groups(self, records: list[GroupRecord], *, sample: bool = False) -> ImportSummary:
        """Upsert ``records`` by key in one transaction.

        A real import (``sample=False``) removes the sample directory in the same
        transaction, so samples never mix with a real directory.
        """
        removed = 0
        with self.session() as s:
            if not sample:
                samples = list(s.exec(select(Group.id).where(col(Group.is_sample))).all())
                removed = len(samples)
                for chunk in _chunks(samples):
                    s.execute(delete(Group).where(col(Group.id).in_(chunk)))
            existing: dict[str, Group] = {}
            for chunk in _chunks([r.key for r in records]):
                existing.update(
                    (g.key, g) for g in s.exec(select(Group).where(col(Group.key).in_(chunk)))
                )
            now = utcnow()
            groups: list[tuple[Group, GroupRecord]] = []
            for r in records:
                group = existing.get(r.key) or Group(key=r.key, name=r.name)
                group.name, group.description, group.contact = r.name, r.description, r.contact
                group.citywide = r.citywide
                group.area_mask = area_bits(r.areas)
                group.welcomes_newcomers = r.welcomes_newcomers
                group.welcomes_young = r.welcomes_young
                group.verified, group.is_sample, group.updated_at = r.verified, sample, now
                groups.append((group, r))
            s.add_all(g for g, _ in groups)
            s.flush()  # one batched INSERT for the new ones; ids assigned
            updated_ids = [int(g.id or 0) for g in existing.values()]
            for chunk in _chunks(updated_ids):
                s.execute(delete(GroupField).where(col(GroupField.group_id).in_(chunk)))
                s.execute(delete(GroupArea).where(col(GroupArea.group_id).in_(chunk)))
            s.add_all(
                GroupField(group_id=int(g.id or 0), field=f)
                for g, r in groups
                for f in dict.fromkeys(r.fields)
            )
            s.add_all(
                GroupArea(group_id=int(g.id or 0), area=a)
                for g, r in groups
                for a in dict.fromkeys(r.areas)
            )
        return ImportSummary(len(records) - len(existing), len(existing), removed)

    def count_groups(self, *, include_samples: bool = True) -> int:
        """How many groups the directory holds."""
        with self.session() as s:
            stmt = select(func.count()).select_from(Group)
            if not include_samples:
                stmt = stmt.where(col(Group.is_sample).is_(False))
            return int(s.exec(stmt).one())

    def find_groups(
        self,
        field: str | None,
        area: str | None,
        neighbours: tuple[str, ...] = (),
        *,
        limit: int = 5,
        offset: int = 0,
    ) -> tuple[list[GroupView], int]:
        """Verified groups ranked for a resident: field, then same / neighbouring area /
        citywide / elsewhere, newcomers welcome first. Returns one page and the total."""
        gid = col(Group.id)
        area_rank: ColumnElement[Any] = literal(3)
        if area:
            mask = col(Group.area_mask)
            area_rank = case(
                (col(Group.citywide), 2),
                (mask.op("&")(area_bits([area])) != 0, 0),
                (mask.op("&")(area_bits(list(neighbours))) != 0, 1),
                else_=3,
            )
        ranked = select(gid, area_rank.label("area_rank"), func.count().over().label("total"))
        if field:
            ranked = ranked.select_from(GroupField).join(
                Group, and_(gid == col(GroupField.group_id), col(GroupField.field) == field)
            )
        else:
            ranked = ranked.select_from(Group)
        ranked = (
            ranked.where(col(Group.verified))
            .order_by(area_rank, col(Group.welcomes_newcomers).desc(), col(Group.name), gid)
            .limit(limit)
            .offset(offset)
        )
        with self.session() as s:
            rows = s.execute(ranked).all()
            if rows:
                total = int(rows[0][2])
            elif offset:  # paged past the end: the window count came back empty
                total = int(
                    s.exec(
                        select(func.count()).select_from(
                            ranked.limit(None).offset(None).subquery()
                        )
                    ).one()
                )
            else:
                total = 0
            views = self._group_views(s, [(int(r[0]), int(r[1])) for r in rows])
        return views, total

    def get_group(self, group_id: int) -> GroupView | None:
        """One group, whatever its status (staff and detail views)."""
        with self.session() as s:
            views = self._group_views(s, [(group_id, 3)])
        return views[0] if views else None

    def all_groups(self, *, include_samples: bool = False) -> list[GroupView]:
        """Every group, ordered by key (export)."""
        with self.session() as s:
            stmt = select(Group.id).order_by(col(Group.key))
            if not include_samples:
                stmt = stmt.where(col(Group.is_sample).is_(False))
            ids = [(int(i or 0), 3) for i in s.exec(stmt).all()]
            # Chunked: a directory may hold more ids than one IN list should carry.
            return [
                v
                for n in range(0, len(ids), 1000)
                for v in self._group_views(s, ids[n : n + 1000])
            ]

    @staticmethod
    def _group_views(s: Session, ranked: list[tuple[int, int]]) -> list[GroupView]:
        if not ranked:
            return []
        ids = [i for i, _ in ranked]
        groups = {int(g.id or 0): g for g in s.exec(select(Group).where(col(Group.id).in_(ids)))}
        fields: dict[int, list[str]] = {i: [] for i in ids}
        areas: dict[int, list[str]] = {i: [] for i in ids}
        for gf in s.exec(select(GroupField).where(col(GroupField.group_id).in_(ids))):
            fields[gf.group_id].append(gf.field)
        for ga in s.exec(select(GroupArea).where(col(GroupArea.group_id).in_(ids))):
            areas[ga.group_id].append(ga.area)
        views = []
        for gid, rank in ranked:
            g = groups.get(gid)
            if g is None:
                continue
            views.append(
                GroupView(
                    id=gid,
                    key=g.key,
                    name=g.name,
                    description=g.description,
                    contact=g.contact,
                    fields=tuple(sorted(fields[gid])),
                    areas=tuple(sorted(areas[gid])),
                    citywide=g.citywide,
                    welcomes_newcomers=g.welcomes_newcomers,
                    welcomes_young=g.welcomes_young,
                    verified=g.verified,
                    is_sample=g.is_sample,
                    area_rank=rank,
                )
            )
        return views

    def field_counts(self, area: str | None = None) -> list[tuple[str, int]]:
        """Verified groups per field (in ``area``, or citywide ones, when given), most first."""
        with self.session() as s:
            stmt = (
                select(col(GroupField.field), func.count(func.distinct(col(Group.id))))
                .join(Group, col(Group.id) == col(GroupField.group_id))
                .where(col(Group.verified))
            )
            if area:
                stmt = stmt.outerjoin(GroupArea, col(GroupArea.group_id) == col(Group.id)).where(
                    (col(GroupArea.area) == area) | col(Group.citywide)
                )
            stmt = stmt.group_by(col(GroupField.field)).order_by(
                func.count(func.distinct(col(Group.id))).desc(), col(GroupField.field)
            )
            return [(str(f), int(n)) for f, n in s.exec(stmt).all()]
