"""Volunteer openings: the types every query returns (calls, sign-ups, profiles), who may
join a call, and the helpers the queries share. The queries themselves, mixed into
:class:`storage.store.Store`:

- ``storage.representatives``: invite codes and the groups' representatives;
- ``storage.calls``: recruitment calls (post, edit, close, hide, find);
- ``storage.signups``: sign-ups, the waiting list, a volunteer's profile, reminders;
- ``storage.call_changes``: the two rules every change of a call follows;
- ``storage.outbox``: the messages that are not replies.

Races closed, on SQLite and PostgreSQL alike:

- the last free place: ``UPDATE … SET taken = taken + 1 WHERE taken < capacity`` is one atomic
  statement, so two people tapping at once cannot both get it;
- an invite code: ``UPDATE … SET used_at WHERE used_at IS NULL`` lets one redemption win;
- a reminder: its outbox row has a unique ``dedupe_key``, so two workers enqueue it once;
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.call_changes import lock_call
from storage.models import (
    Group,
    RecruitmentCall,
    Representative,
    SignUp,
    User,
)

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on phones
INVITE_TTL = timedelta(days=7)
ACTIVE = ("confirmed", "waiting")


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...

    def reading(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True, slots=True)
class CallDraft:
    """What a representative fills in for a recruitment call."""

    title: str
    description: str
    field: str
    area: str
    place: str
    meeting_point: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    high_school_ok: bool = True
    min_age: int | None = None
    beginners_welcome: bool = True
    bring: str = ""


@dataclass(frozen=True, slots=True)
class CallView:
    """A recruitment call as shown to residents and representatives."""

    id: int
    group_id: int
    group_name: str
    group_is_sample: bool
    title: str
    description: str
    field: str
    area: str
    place: str
    meeting_point: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    taken: int
    waiting: int
    high_school_ok: bool
    min_age: int | None
    beginners_welcome: bool
    bring: str
    status: str
    hidden_reason: str | None

    @property
    def places_left(self) -> int:
        return max(0, self.capacity - self.taken)


@dataclass(frozen=True, slots=True)
class Volunteer:
    """A sign-up as a representative sees it."""

    sign_up_id: int
    status: str
    name: str
    contact: str
    age_group: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MySignUp:
    """One of a resident's sign-ups."""

    id: int
    status: str
    position: int  # 0 when confirmed; 1 = first on the waiting list
    call: CallView


@dataclass(frozen=True, slots=True)
class SignUpResult:
    """What a sign-up or a cancellation did."""

    outcome: str  # confirmed | waiting | full | already | closed | started | cancelled | gone
    sign_up_id: int | None = None
    promoted_user_id: int | None = None
    call_id: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What a volunteer told us; None fields are not given yet."""

    name: str | None
    contact: str | None
    age_group: str | None
    consent_at: datetime | None


# --- who may join a call -------------------------------------------------------------------------
# The age groups a volunteer picks, youngest first (intents.openings labels them): 中学生以下,
# 高校生, 18〜29, 30〜64, 65歳以上.
AGE_GROUP_CODES = ("u15", "hs", "18", "30", "65")
HIGH_SCHOOL_AGE = 15  # high school begins at 15: a 高校生OK call keeps min_age 15
# A call's rule lives in its two columns, no schema change: (high_school_ok, min_age) is
# (True, None) どなたでも · (True, 12) 中学生から · (True, 15) 高校生OK · (False, 18) 18歳以上.
ADMITTED = {
    "anyone": frozenset(AGE_GROUP_CODES),
    "junior_high": frozenset(AGE_GROUP_CODES),  # 中学生以下 takes in 中学生 (guardian's OK asked)
    "high_school": frozenset(AGE_GROUP_CODES[1:]),
    "adults": frozenset(AGE_GROUP_CODES[2:]),
}


def audience(high_school_ok: bool, min_age: int | None) -> str:
    """Who may join a call, from its stored columns: a key of :data:`ADMITTED`."""
    if not high_school_ok or (min_age or 0) >= 18:
        return "adults"
    if not min_age:
        return "anyone"
    return "high_school" if min_age >= HIGH_SCHOOL_AGE else "junior_high"


# --- helpers ------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    """Every timestamp goes to the database in UTC: SQLite keeps no offset, so a Tokyo 10:00
    stored as is would read back as 10:00 UTC."""
    return _aware(moment).astimezone(UTC)


def _draft_values(draft: CallDraft) -> dict[str, Any]:
    return {
        "title": draft.title,
        "description": draft.description,
        "field": draft.field,
        "area": draft.area,
        "place": draft.place,
        "meeting_point": draft.meeting_point,
        "starts_at": _utc(draft.starts_at),
        "ends_at": _utc(draft.ends_at),
        "capacity": draft.capacity,
        "high_school_ok": draft.high_school_ok,
        "min_age": draft.min_age,
        "beginners_welcome": draft.beginners_welcome,
        "bring": draft.bring,
    }


def _own_call(
    s: Session, user_id: int, call_id: int, *, lock: bool = False
) -> RecruitmentCall | None:
    call = lock_call(s, call_id) if lock else s.get(RecruitmentCall, call_id)
    if call is None or s.get(Representative, (user_id, call.group_id)) is None:
        return None
    return call


def _call_view(s: Session, call: RecruitmentCall) -> CallView:
    return call_views(s, [call])[0]


def call_views(s: Session, calls: Sequence[RecruitmentCall]) -> list[CallView]:
    """Views of many calls: two queries in all (groups, waiting counts), not two per call."""
    ids = [c.id for c in calls]
    group_ids = {c.group_id for c in calls}
    groups = (
        {g.id: g for g in s.exec(select(Group).where(col(Group.id).in_(group_ids)))}
        if calls
        else {}
    )
    waiting_rows = (
        s.exec(
            select(col(SignUp.call_id), func.count())
            .where(col(SignUp.call_id).in_(ids), col(SignUp.status) == "waiting")
            .group_by(col(SignUp.call_id))
        ).all()
        if calls
        else []
    )
    waiting_by_call = {int(c): int(n) for c, n in waiting_rows}
    return [
        _view(call, groups.get(call.group_id), waiting_by_call.get(int(call.id or 0), 0))
        for call in calls
    ]


def _view(call: RecruitmentCall, group: Group | None, waiting: int) -> CallView:
    return CallView(
        id=int(call.id or 0),
        group_id=call.group_id,
        group_name=group.name if group else "",
        group_is_sample=bool(group and group.is_sample),
        title=call.title,
        description=call.description,
        field=call.field,
        area=call.area,
        place=call.place,
        meeting_point=call.meeting_point,
        starts_at=_aware(call.starts_at),
        ends_at=_aware(call.ends_at),
        capacity=call.capacity,
        taken=call.taken,
        waiting=waiting,
        high_school_ok=call.high_school_ok,
        min_age=call.min_age,
        beginners_welcome=call.beginners_welcome,
        bring=call.bring,
        status=call.status,
        hidden_reason=call.hidden_reason,
    )


def _volunteers(s: Session, call_id: int) -> list[Volunteer]:
    rows = s.exec(
        select(SignUp, User)
        .join(User, col(User.id) == col(SignUp.user_id))
        .where(col(SignUp.call_id) == call_id, col(SignUp.status).in_(ACTIVE))
        .order_by(col(SignUp.status), col(SignUp.id))
    ).all()
    return [
        Volunteer(
            int(su.id or 0),
            su.status,
            u.name or "",
            u.contact or "",
            u.age_group or "",
            _aware(su.created_at),
        )
        for su, u in rows
    ]
