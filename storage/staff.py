"""Queries for the 市民活動センター's console: shared secrets, phrasings staff teach the FAQ,
daily counts, the figures on the dashboard, broadcasts and the removal of the sample
directory. Mixed into :class:`storage.store.Store`. Staff accounts, sign-in and
sessions are in ``storage.staff_accounts``; the audit log in ``storage.audit``; unanswered
questions in ``storage.unanswered``."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.call_changes import withdraw_reminders
from storage.models import (
    AppSecret,
    Broadcast,
    DailyCount,
    FaqPhrasing,
    Group,
    OutboxMessage,
    RecruitmentCall,
    Representative,
    SignUp,
    UnansweredQuestion,
    User,
    utcnow,
)
from storage.openings import ACTIVE
from storage.samples import SAMPLE_PLATFORM
from storage.turns import MAX_COUNTER_KEY, count_params, count_sql


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The figures on the console's front page."""

    users: int
    groups: int
    verified_groups: int
    open_calls: int
    active_sign_ups: int
    open_questions: int
    per_day: list[tuple[str, int]]
    top_questions: list[tuple[str, int]]
    sign_ups_by_field: list[tuple[str, int]]
    sign_ups_by_area: list[tuple[str, int]]
    filling_up: list[tuple[int, str, int, int]]  # id, title, taken, capacity


@dataclass(frozen=True, slots=True)
class BroadcastSent:
    """A broadcast, and whether this submit sent it (False: its token had been sent before,
    and nothing was queued now)."""

    broadcast: Broadcast
    first: bool


@dataclass(frozen=True, slots=True)
class Affected:
    """Someone whose things go with the sample directory, told in their language.

    ``role`` ``participant``: ``names`` are the titles of the calls they were on;
    ``representative``: the names of the groups they were linked to.
    """

    user_id: int
    locale: str
    role: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SampleDirectory:
    """What removing the sample directory takes away, and whom it tells: the sign-ups of
    calls not yet over (and not called off) and the groups' representatives."""

    groups: int
    calls: int
    sign_ups: int  # every row, cancelled ones included
    links: int  # representative links
    affected: tuple[Affected, ...]

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """groups, calls, sign-ups, links: what staff are shown before they confirm."""
        return self.groups, self.calls, self.sign_ups, self.links

    @property
    def people(self) -> int:
        """How many people are told."""
        return len({a.user_id for a in self.affected})


@dataclass(frozen=True, slots=True)
class SamplesRemoved:
    """``removed`` False: nothing was changed (no samples left, or not what staff were
    shown); ``directory`` is then what a removal would take now."""

    removed: bool
    directory: SampleDirectory


SampleNotice = Callable[[Affected], str]  # the outbox body (JSON) for one person


class StaffQueries:
    """Mixed into Store: the console's data."""

    # --- shared secrets -------------------------------------------------------------------

    def shared_secret(self: _HasSession, name: str) -> str:
        """A random secret, created once and shared by every process (cookie signing)."""
        with self.session() as s:
            row = s.get(AppSecret, name)
            if row is not None:
                return row.value
        try:
            with self.session() as s:
                s.add(AppSecret(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process made it first
        with self.session() as s:
            found = s.get(AppSecret, name)
            if found is None:  # pragma: no cover - just written
                raise RuntimeError("secret vanished")
            return found.value

    # --- FAQ phrasings (the unanswered questions are in storage.unanswered) ----------------------

    def add_phrasing(self: _HasSession, entry_id: str, text: str) -> None:
        """Keep a phrasing staff attached to an entry (loaded by every process at start)."""
        with self.session() as s:
            s.add(FaqPhrasing(entry_id=entry_id, text=text[:500]))

    def phrasings(self: _HasSession) -> list[tuple[str, str]]:
        """(entry id, text) of every phrasing staff added."""
        with self.session() as s:
            rows = s.exec(select(FaqPhrasing).order_by(col(FaqPhrasing.id))).all()
            return [(r.entry_id, r.text) for r in rows]

    # --- counts ----------------------------------------------------------------------

    def count(self: _HasSession, day: date, keys: list[str]) -> None:
        """Add one to each ``(day, key)`` counter (an atomic upsert)."""
        with self.session() as s:
            add_counts(s, day, keys)

    def dashboard(self: _HasSession, today: date, days: int = 14) -> Dashboard:
        """The dashboard's figures, today included."""
        first = (today - timedelta(days=days - 1)).isoformat()
        with self.session() as s:

            def scalar(stmt: object) -> int:
                return int(s.exec(stmt).one())  # type: ignore[call-overload]

            per_day_rows = dict(
                s.exec(
                    select(col(DailyCount.day), col(DailyCount.count)).where(
                        col(DailyCount.key) == "messages", col(DailyCount.day) >= first
                    )
                ).all()
            )
            per_day = [
                (d, int(per_day_rows.get(d, 0)))
                for d in ((today - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1))
            ]
            top = s.exec(
                select(col(DailyCount.key), func.sum(col(DailyCount.count)))
                .where(col(DailyCount.key).startswith("faq:"), col(DailyCount.day) >= first)
                .group_by(col(DailyCount.key))
                .order_by(func.sum(col(DailyCount.count)).desc())
                .limit(10)
            ).all()
            active = col(SignUp.status).in_(("confirmed", "waiting"))
            by_field = s.exec(
                select(col(RecruitmentCall.field), func.count())
                .join(SignUp, col(SignUp.call_id) == col(RecruitmentCall.id))
                .where(active)
                .group_by(col(RecruitmentCall.field))
                .order_by(func.count().desc())
            ).all()
            by_area = s.exec(
                select(col(RecruitmentCall.area), func.count())
                .join(SignUp, col(SignUp.call_id) == col(RecruitmentCall.id))
                .where(active)
                .group_by(col(RecruitmentCall.area))
                .order_by(func.count().desc())
            ).all()
            filling = s.exec(
                select(RecruitmentCall)
                .where(
                    col(RecruitmentCall.status) == "open",
                    col(RecruitmentCall.starts_at) > utcnow(),
                    col(RecruitmentCall.taken) * 10 >= col(RecruitmentCall.capacity) * 8,
                )
                .order_by(col(RecruitmentCall.starts_at))
                .limit(10)
            ).all()
            return Dashboard(
                users=scalar(select(func.count()).select_from(User)),
                groups=scalar(select(func.count()).select_from(Group)),
                verified_groups=scalar(
                    select(func.count()).select_from(Group).where(col(Group.verified))
                ),
                open_calls=scalar(
                    select(func.count())
                    .select_from(RecruitmentCall)
                    .where(col(RecruitmentCall.status) == "open")
                ),
                active_sign_ups=scalar(select(func.count()).select_from(SignUp).where(active)),
                open_questions=scalar(
                    select(func.count())
                    .select_from(UnansweredQuestion)
                    .where(col(UnansweredQuestion.status) == "open")
                ),
                per_day=per_day,
                top_questions=[(str(k).removeprefix("faq:"), int(n)) for k, n in top],
                sign_ups_by_field=[(str(f), int(n)) for f, n in by_field],
                sign_ups_by_area=[(str(a), int(n)) for a, n in by_area],
                filling_up=[(int(c.id or 0), c.title, c.taken, c.capacity) for c in filling],
            )

    # --- broadcasts (the console's list of calls is storage.calls.list_calls) ----------

    def audience(
        self: _HasSession, field: str | None = None, area: str | None = None
    ) -> list[int]:
        """Active users for a broadcast: everyone, or those who signed up for calls in the
        field/area (the interest we actually know about)."""
        with self.session() as s:
            return [int(u or 0) for u in s.exec(_audience(field, area)).all()]

    def send_broadcast(
        self: _HasSession,
        token: str,
        text: str,
        body: str,
        *,
        field: str | None,
        area: str | None,
        actor: str,
        now: datetime | None = None,
    ) -> BroadcastSent:
        """Queue ``body`` for the audience (``audience``) and keep the broadcast, in one
        transaction, once per ``token``: a token sent before queues nothing and gives the
        first send back."""
        now = now or utcnow()
        token = token[:64]
        try:
            with self.session() as s:
                sent = Broadcast(
                    token=token, text=text[:500], field=field or None, area=area or None,
                    actor=actor[:64], created_at=now,
                )  # fmt: skip
                s.add(sent)
                # The token is unique: a second submit fails here, and a concurrent one
                # waits for ours to commit and then fails (one INSERT wins).
                s.flush()
                people = [int(u or 0) for u in s.exec(_audience(field, area)).all()]
                s.add_all(
                    OutboxMessage(
                        user_id=u, body=body, dedupe_key=f"bc:{sent.id}:{u}", deliver_after=now
                    )
                    for u in people
                )
                sent.recipients = len(people)
                s.add(sent)
            return BroadcastSent(sent, True)
        except IntegrityError:
            with self.session() as s:
                first = s.exec(select(Broadcast).where(col(Broadcast.token) == token)).first()
            if first is None:  # not the token's constraint
                raise
            return BroadcastSent(first, False)

    def broadcasts(self: _HasSession, limit: int = 50) -> list[Broadcast]:
        """The newest broadcasts first."""
        with self.session() as s:
            stmt = select(Broadcast).order_by(col(Broadcast.id).desc()).limit(limit)
            return list(s.exec(stmt).all())

    # --- the sample directory -----------------------------------------------------------

    def sample_directory(self: _HasSession, now: datetime | None = None) -> SampleDirectory:
        """What removing the sample directory would take away and whom it would tell."""
        with self.session() as s:
            return _sample_reach(s, now or utcnow(), lock=False)

    def remove_samples(
        self: _HasSession,
        notice: SampleNotice,
        *,
        expected: tuple[int, int, int, int] | None = None,
        now: datetime | None = None,
    ) -> SamplesRemoved:
        """Delete the sample groups with their calls, sign-ups, representative links and
        invite codes (and the sample people, ``storage.samples``), and queue a notice
        (``notice`` renders it) to each real person affected, in one transaction. With
        ``expected`` (the counts staff confirmed), nothing is removed unless they are still
        what would go."""
        now = now or utcnow()
        with self.session() as s:
            reach = _sample_reach(s, now, lock=True)
            if not reach.groups or (expected is not None and reach.counts != expected):
                return SamplesRemoved(False, reach)
            s.add_all(
                OutboxMessage(user_id=a.user_id, body=notice(a), deliver_after=now)
                for a in reach.affected
            )
            ids = list(s.exec(select(Group.id).where(col(Group.is_sample))).all())
            calls = select(RecruitmentCall.id).where(col(RecruitmentCall.group_id).in_(ids))
            sign_ups = select(SignUp.id).where(col(SignUp.call_id).in_(calls))
            # Queued for an event that is gone: the worker would still send them.
            withdraw_reminders(s, [int(i or 0) for i in s.exec(sign_ups).all()])
            # Calls, sign-ups, links, invite codes, fields and areas go by ON DELETE CASCADE.
            s.execute(delete(Group).where(col(Group.id).in_(ids)))
            # The sample people (storage.samples) were only ever on sample calls.
            s.execute(delete(User).where(col(User.platform) == SAMPLE_PLATFORM))
        return SamplesRemoved(True, reach)


def _audience(field: str | None, area: str | None) -> Any:
    """The ids of a broadcast's audience (``StaffQueries.audience``)."""
    stmt = select(col(User.id)).where(col(User.active)).distinct()
    if field or area:
        stmt = stmt.join(SignUp, col(SignUp.user_id) == col(User.id)).join(
            RecruitmentCall, col(RecruitmentCall.id) == col(SignUp.call_id)
        )
        if field:
            stmt = stmt.where(col(RecruitmentCall.field) == field)
        if area:
            stmt = stmt.where(col(RecruitmentCall.area) == area)
    return stmt


def _sample_reach(s: Session, now: datetime, *, lock: bool) -> SampleDirectory:
    """What the sample directory holds and whom its removal concerns. ``lock``: the sample
    groups' rows are locked first (PostgreSQL), so a second removal at the same moment
    waits, then finds them gone and tells nobody again (SQLite: transactions are
    serialised already, each begins IMMEDIATE)."""
    stmt = select(Group.id, Group.name).where(col(Group.is_sample)).order_by(col(Group.id))
    groups = dict(s.exec(stmt.with_for_update() if lock else stmt).all())
    if not groups:
        return SampleDirectory(0, 0, 0, 0, ())
    ids = list(groups)
    calls = {
        int(c.id or 0): c
        for c in s.exec(
            select(RecruitmentCall)
            .where(col(RecruitmentCall.group_id).in_(ids))
            .order_by(col(RecruitmentCall.starts_at), col(RecruitmentCall.id))
        ).all()
    }
    sign_ups = (
        s.exec(
            select(SignUp.user_id, SignUp.call_id, SignUp.status)
            .where(col(SignUp.call_id).in_(list(calls)))
            .order_by(col(SignUp.id))
        ).all()
        if calls
        else []
    )
    links = s.exec(
        select(Representative.user_id, Representative.group_id)
        .where(col(Representative.group_id).in_(ids))
        .order_by(col(Representative.user_id), col(Representative.group_id))
    ).all()
    # Sample people (storage.samples) are nobody: their sign-ups go, and nobody is told.
    nobody = (
        set(s.exec(select(User.id).where(col(User.platform) == SAMPLE_PLATFORM)).all())
        if sign_ups
        else set()
    )
    on_calls: dict[int, list[str]] = {}
    for user_id, call_id, status in sign_ups:
        call = calls[int(call_id)]
        still_on = call.ends_at > now and call.status != "cancelled"  # called off: told then
        if status in ACTIVE and still_on and user_id not in nobody:
            on_calls.setdefault(int(user_id), []).append(call.title)
    for_groups: dict[int, list[str]] = {}
    for user_id, group_id in links:
        for_groups.setdefault(int(user_id), []).append(groups[int(group_id)])
    people = set(on_calls) | set(for_groups)
    locales = (
        dict(s.exec(select(User.id, User.locale).where(col(User.id).in_(list(people)))).all())
        if people
        else {}
    )

    def affected(role: str, names: dict[int, list[str]]) -> list[Affected]:
        return [
            Affected(u, str(locales.get(u, "ja")), role, tuple(dict.fromkeys(n)))
            for u, n in sorted(names.items())
        ]

    return SampleDirectory(
        groups=len(groups),
        calls=len(calls),
        sign_ups=len(sign_ups),
        links=len(links),
        affected=tuple(affected("participant", on_calls) + affected("representative", for_groups)),
    )


def add_counts(s: Session, day: date, keys: list[str]) -> None:
    """Add one to each ``(day, key)`` counter within the caller's transaction."""
    counts = {(day.isoformat(), key[:MAX_COUNTER_KEY]): 1 for key in keys}
    if counts:
        s.execute(text(count_sql(len(counts))), count_params(counts))
