"""The queries the conversation core needs, each in its own short transaction."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.calls import CallQueries
from storage.db import create_turn_engine
from storage.forget import ForgetQueries
from storage.inbox import InboxQueries
from storage.masking import redact
from storage.models import (
    AppSecret,
    FaqFeedback,
    Group,
    GroupArea,
    GroupField,
    Heartbeat,
    ProcessedEvent,
    UnansweredQuestion,
    User,
    area_bits,
    utcnow,
)
from storage.outbox import OutboxQueries, take_due
from storage.representatives import RepresentativeQueries
from storage.retention import RetentionQueries
from storage.signups import SignUpQueries
from storage.staff import StaffQueries
from storage.staff_accounts import StaffAccountQueries
from storage.turns import MAX_COUNTER_KEY, Ending, TurnSql, UserRow

MAX_STORED_QUESTION = 500


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
    """What an import changed: groups added, and groups whose details the file replaced
    (``updated_keys``, by key). An import never removes a group; the sample directory goes
    only when staff remove it (``Store.remove_samples``), and ``samples_left`` says how many
    sample groups are still there."""

    created: int
    updated: int
    updated_keys: tuple[str, ...] = ()
    samples_left: int = 0


def _chunks(items: list[Any], size: int = 900) -> Iterator[list[Any]]:
    """Slices small enough for one IN list on every backend."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def _group_columns() -> list[Any]:
    """What a group view shows: its columns, and its field and area codes as "a,b"."""
    groups = Group.__table__  # type: ignore[attr-defined]
    fields = GroupField.__table__  # type: ignore[attr-defined]
    areas = GroupArea.__table__  # type: ignore[attr-defined]

    def codes(table: Any, column: Any) -> Any:  # "a,b" (order varies; sorted in Python)
        return (
            core_select(func.aggregate_strings(column, ","))
            .where(table.c.group_id == groups.c.id)
            .scalar_subquery()
        )

    return [
        groups.c.id,
        groups.c.key,
        groups.c.name,
        groups.c.description,
        groups.c.contact,
        groups.c.citywide,
        groups.c.welcomes_newcomers,
        groups.c.welcomes_young,
        groups.c.verified,
        groups.c.is_sample,
        codes(fields, fields.c.field).label("fields"),
        codes(areas, areas.c.area).label("areas"),
    ]


_GROUP_DETAILS = core_select(*_group_columns()).where(
    Group.__table__.c.id.in_(bindparam("ids", expanding=True))  # type: ignore[attr-defined]
)


def _order(by_area: bool) -> tuple[ColumnElement[Any], list[Any]]:
    """A group's area rank (0 same area, 1 neighbouring, 2 citywide, 3 elsewhere) and the
    ranking order: area rank, newcomers welcome first, then name."""
    groups = Group.__table__  # type: ignore[attr-defined]
    area_rank: ColumnElement[Any] = literal(3)
    if by_area:
        mask = groups.c.area_mask
        area_rank = case(
            (groups.c.citywide, 2),
            (mask.op("&")(bindparam("same", type_=Integer())) != 0, 0),
            (mask.op("&")(bindparam("near", type_=Integer())) != 0, 1),
            else_=3,
        )
    return area_rank, [area_rank, groups.c.welcomes_newcomers.desc(), groups.c.name, groups.c.id]


@cache
def _ranked_groups(by_field: bool, by_area: bool) -> Select[Any]:
    """One page of verified group ids with their area rank and the total, as a statement
    built once per shape (parameters: field, same, near, limit, offset)."""
    groups = Group.__table__  # type: ignore[attr-defined]
    fields = GroupField.__table__  # type: ignore[attr-defined]
    area_rank, order = _order(by_area)
    ranked = core_select(
        groups.c.id, area_rank.label("area_rank"), func.count().over().label("total")
    )
    if by_field:
        ranked = ranked.select_from(fields).join(
            groups,
            and_(groups.c.id == fields.c.group_id, fields.c.field == bindparam("field")),
        )
    else:
        ranked = ranked.select_from(groups)
    return (
        ranked.where(groups.c.verified)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@cache
def _ranked_page(by_field: bool, by_area: bool) -> Select[Any]:
    """One page of ranked groups with everything a view shows, in one statement (a round
    trip fewer than the ids and then their details)."""
    groups = Group.__table__  # type: ignore[attr-defined]
    page = _ranked_groups(by_field, by_area).subquery("page")
    # The page's own order again, on its few rows (a window numbering every match cost more
    # than the round trip it saved, with 20,000 groups).
    return (
        core_select(*_group_columns(), page.c.area_rank, page.c.total)
        .select_from(page.join(groups, groups.c.id == page.c.id))
        .order_by(page.c.area_rank, groups.c.welcomes_newcomers.desc(), groups.c.name, groups.c.id)
    )


def _view(g: Any, rank: int) -> GroupView:
    """A group view from a row of ``_group_columns()``."""
    return GroupView(
        id=int(g.id),
        key=g.key,
        name=g.name,
        description=g.description,
        contact=g.contact,
        fields=tuple(sorted(filter(None, (g.fields or "").split(",")))),
        areas=tuple(sorted(filter(None, (g.areas or "").split(",")))),
        citywide=bool(g.citywide),
        welcomes_newcomers=bool(g.welcomes_newcomers),
        welcomes_young=bool(g.welcomes_young),
        verified=bool(g.verified),
        is_sample=bool(g.is_sample),
        area_rank=rank,
    )


def _describe(group: Group, r: GroupRecord, now: datetime) -> None:
    """Write a record's details (not its fields and areas: ``_replace_codes``) on a group."""
    group.name, group.description, group.contact = r.name, r.description, r.contact
    group.citywide = r.citywide
    group.area_mask = area_bits(r.areas)
    group.welcomes_newcomers = r.welcomes_newcomers
    group.welcomes_young = r.welcomes_young
    group.verified, group.updated_at = r.verified, now


def _replace_codes(
    s: Session, groups: list[tuple[Group, GroupRecord]], known_ids: list[int]
) -> None:
    """The groups' field and area codes as their records give them (``known_ids``: groups
    that had codes before, cleared first)."""
    for chunk in _chunks(known_ids):
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


class Store(
    RepresentativeQueries,
    CallQueries,
    SignUpQueries,
    OutboxQueries,
    StaffQueries,
    StaffAccountQueries,
    InboxQueries,
    ForgetQueries,
    RetentionQueries,
):
    """Data access for the bot; construct it with an engine whose schema is migrated."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._turn = TurnSql(engine.dialect.name)
        self._lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._sqlite: Connection | None = None  # see _bind
        self._turn_engine = None if self._lock is not None else create_turn_engine(engine)

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
        if self._turn_engine is not None:
            self._turn_engine.dispose()
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

    @contextmanager
    def _turn_connection(self) -> Iterator[Connection]:
        """The connection for a turn's own bookkeeping (its event id, the user, their state,
        the counters) and its Core reads: on PostgreSQL from the autocommit pool whose commits
        do not wait for the disk."""
        if self._turn_engine is None:
            with self.connection() as c:
                yield c
            return
        with self._turn_engine.begin() as c:
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
        """How many users have ever written (for health and dashboards)."""
        with self.session() as s:
            return int(s.exec(select(func.count()).select_from(User)).one())

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

    # the group directory ------------------------------------------------------------------

    def import_groups(self, records: list[GroupRecord], *, sample: bool = False) -> ImportSummary:
        """Upsert ``records`` by key in one transaction: a new key adds a group, a known key
        replaces that group's details with the record's (the summary names them). Nothing
        else changes: no group is removed, the sample directory included.

        A record of a real import (``sample=False``) is a real group, also when its key was
        a sample's.
        """
        with self.session() as s:
            existing: dict[str, Group] = {}
            for chunk in _chunks([r.key for r in records]):
                existing.update(
                    (g.key, g) for g in s.exec(select(Group).where(col(Group.key).in_(chunk)))
                )
            now = utcnow()
            groups: list[tuple[Group, GroupRecord]] = []
            for r in records:
                group = existing.get(r.key) or Group(key=r.key, name=r.name)
                _describe(group, r, now)
                group.is_sample = sample
                groups.append((group, r))
            s.add_all(g for g, _ in groups)
            s.flush()  # one batched INSERT for the new ones; ids assigned
            _replace_codes(s, groups, [int(g.id or 0) for g in existing.values()])
            samples_left = int(
                s.exec(select(func.count()).select_from(Group).where(col(Group.is_sample))).one()
            )
        return ImportSummary(
            created=len(records) - len(existing),
            updated=len(existing),
            updated_keys=tuple(sorted(existing)),
            samples_left=samples_left,
        )

    def add_group(self, record: GroupRecord) -> int | None:
        """A new group (the console's 「団体を追加」); its id, or None when a group already has
        the key: then nothing is changed (editing that group is the way to change it)."""
        try:
            with self.session() as s:
                taken = s.exec(select(Group.id).where(col(Group.key) == record.key)).first()
                if taken is not None:
                    return None
                group = Group(key=record.key, name=record.name)
                _describe(group, record, utcnow())
                s.add(group)
                s.flush()  # a concurrent add of the same key fails here (the unique key)
                _replace_codes(s, [(group, record)], [])
                return int(group.id or 0)
        except IntegrityError:
            return None

    def update_group(self, group_id: int, record: GroupRecord) -> bool:
        """Replace one group's details with ``record``'s; its key and whether it is a sample
        stay as they are. False when there is no such group."""
        with self.session() as s:
            group = s.get(Group, group_id)
            if group is None:
                return False
            _describe(group, record, utcnow())
            s.add(group)
            _replace_codes(s, [(group, record)], [group_id])
            return True

    def set_group_verified(self, group_id: int, verified: bool) -> bool:
        """Mark a group checked by the center (shown to residents) or not. False: no group."""
        with self.session() as s:
            group = s.get(Group, group_id)
            if group is None:
                return False
            group.verified, group.updated_at = verified, utcnow()
            s.add(group)
            return True

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
        ranked = _ranked_groups(field is not None, area is not None)
        params = {
            "field": field,
            "same": area_bits([area]) if area else 0,
            "near": area_bits(list(neighbours)),
            "limit": limit,
            "offset": offset,
        }
        with self._turn_connection() as c:  # a read: autocommit on PostgreSQL
            rows = c.execute(_ranked_page(field is not None, area is not None), params).all()
            if rows:
                total = int(rows[0].total)
            elif offset:  # paged past the end: the window count came back empty
                count = core_select(func.count()).select_from(
                    ranked.limit(None).offset(None).subquery()
                )
                total = int(c.execute(count, params).scalar_one())
            else:
                total = 0
        return [_view(r, int(r.area_rank)) for r in rows], total

    def get_group(self, group_id: int) -> GroupView | None:
        """One group, whatever its status (staff and detail views)."""
        with self.reading() as s:
            views = self._group_views(s, [(group_id, 3)])
        return views[0] if views else None

    def group_by_key(self, key: str) -> GroupView | None:
        """The group with this directory key, whatever its status."""
        with self.reading() as s:
            found = s.exec(select(Group.id).where(col(Group.key) == key)).first()
            views = self._group_views(s, [(int(found), 3)]) if found is not None else []
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
    def _group_views(c: Session | Connection, ranked: list[tuple[int, int]]) -> list[GroupView]:
        if not ranked:
            return []
        rows = c.execute(_GROUP_DETAILS, {"ids": [i for i, _ in ranked]}).all()
        groups = {int(r.id): r for r in rows}
        return [_view(groups[gid], rank) for gid, rank in ranked if gid in groups]

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
