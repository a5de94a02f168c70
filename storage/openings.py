"""Queries for volunteer openings: invites, representatives, recruitment calls and sign-ups.
Mixed into :class:`storage.store.Store` (the outbox is in ``storage.outbox``).

Races closed here, on SQLite and PostgreSQL alike:

- the last free place: ``UPDATE … SET taken = taken + 1 WHERE taken < capacity`` is one atomic
  statement, so two people tapping at once cannot both get it;
- an invite code: ``UPDATE … SET used_at WHERE used_at IS NULL`` lets one redemption win;
- a reminder: its outbox row has a unique ``dedupe_key``, so two workers enqueue it once;
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, delete, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.call_changes import TAKES_PLACE, Tell, fill_places, tell_about
from storage.models import (
    Group,
    GroupField,
    InviteCode,
    OutboxMessage,
    RecruitmentCall,
    Representative,
    SignUp,
    User,
    utcnow,
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


def invite_hash(code: str) -> str:
    """The stored form of an invite code (case, spaces and hyphens do not matter)."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_invite_code() -> str:
    """8 random characters, shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


class OpeningQueries:
    """Mixed into Store: everything about recruitment calls and sign-ups."""

    # --- invites and representatives ------------------------------------------------------

    def issue_invite(
        self: _HasSession, group_key: str, now: datetime | None = None
    ) -> tuple[str, datetime] | None:
        """A new one-time invite code for the group with this directory key (None: no group)."""
        now = now or utcnow()
        with self.session() as s:
            group = s.exec(select(Group).where(col(Group.key) == group_key)).first()
            if group is None or group.id is None:
                return None
            code = new_invite_code()
            expires = now + INVITE_TTL
            s.add(
                InviteCode(
                    code_hash=invite_hash(code),
                    group_id=group.id,
                    created_at=now,
                    expires_at=expires,
                )
            )
            return code, expires

    def redeem_invite(
        self: _HasSession, user_id: int, code: str, now: datetime | None = None
    ) -> tuple[str, str | None]:
        """Link the user to the code's group. Returns (outcome, group name):
        ``linked`` | ``invalid`` | ``expired`` | ``used``."""
        now = now or utcnow()
        digest = invite_hash(code)
        with self.session() as s:
            invite = s.get(InviteCode, digest)
            if invite is None:
                return "invalid", None
            if invite.used_at is not None:
                return "used", None
            if _aware(invite.expires_at) <= now:
                return "expired", None
            won = s.execute(
                update(InviteCode)
                .where(col(InviteCode.code_hash) == digest, col(InviteCode.used_at).is_(None))
                .values(used_at=now, used_by=user_id)
            )
            if _rowcount(won) != 1:
                return "used", None
            if s.get(Representative, (user_id, invite.group_id)) is None:
                s.add(Representative(user_id=user_id, group_id=invite.group_id))
            group = s.get(Group, invite.group_id)
            return "linked", group.name if group else None

    def represented_groups(self: _HasSession, user_id: int) -> list[tuple[int, str, str]]:
        """(id, name, first field) of the groups this user represents."""
        with self.reading() as s:
            rows = s.exec(
                select(Group)
                .join(Representative, col(Representative.group_id) == col(Group.id))
                .where(col(Representative.user_id) == user_id)
                .order_by(col(Group.name))
            ).all()
            out = []
            for g in rows:
                field = s.exec(
                    select(col(GroupField.field))
                    .where(col(GroupField.group_id) == g.id)
                    .order_by(col(GroupField.field))
                ).first()
                out.append((int(g.id or 0), g.name, field or ""))
            return out

    def representatives(self: _HasSession, group_id: int) -> list[int]:
        """User ids of the group's representatives (who get its notices)."""
        with self.session() as s:
            return [
                int(u)
                for u in s.exec(
                    select(Representative.user_id).where(col(Representative.group_id) == group_id)
                ).all()
            ]

    def linked_representatives(self: _HasSession, group_id: int) -> list[tuple[str, str]]:
        """(platform, platform user id) of each representative (the console shows them)."""
        with self.session() as s:
            rows = s.exec(
                select(User.platform, User.platform_user_id)
                .join(Representative, col(Representative.user_id) == col(User.id))
                .where(col(Representative.group_id) == group_id)
            ).all()
            return [(str(p), str(u)) for p, u in rows]

    def is_representative(self: _HasSession, user_id: int) -> bool:
        """Whether the user represents any group (their menu shows 募集する and 自分の募集)."""
        with self.reading() as s:
            return (
                s.exec(
                    select(Representative.group_id).where(col(Representative.user_id) == user_id)
                ).first()
                is not None
            )

    def unlink_representative(self: _HasSession, user_id: int, group_id: int) -> str | None:
        """Stop representing a group (its calls and sign-ups stay); the group's name, or None
        when the user did not represent it."""
        with self.session() as s:
            link = s.get(Representative, (user_id, group_id))
            if link is None:
                return None
            group = s.get(Group, group_id)
            s.delete(link)
            return group.name if group else ""

    # --- recruitment calls ----------------------------------------------------------------

    def create_call(
        self: _HasSession, user_id: int, group_id: int, draft: CallDraft
    ) -> int | None:
        """Post a call; None when the user does not represent the group."""
        with self.session() as s:
            if s.get(Representative, (user_id, group_id)) is None:
                return None
            call = RecruitmentCall(group_id=group_id, created_by=user_id, **_draft_values(draft))
            s.add(call)
            s.flush()
            return int(call.id or 0)

    def update_call(
        self: _HasSession,
        user_id: int,
        call_id: int,
        draft: CallDraft,
        now: datetime | None = None,
        tell: Tell | None = None,
    ) -> str:
        """Edit a call: ``updated`` | ``in_review`` (a hidden call, fixed, goes back to the
        center) | ``forbidden`` | ``below_taken`` (fewer places than taken).

        Everyone on the call is told when its date, time or place changes; a raised capacity
        goes to the waiting list first.
        """
        now = now or utcnow()
        with self.session() as s:
            call = _own_call(s, user_id, call_id)
            if call is None or call.status == "cancelled":
                return "forbidden"
            if draft.capacity < call.taken:
                return "below_taken"
            values = _draft_values(draft)
            changed = _what_changed(call, values)
            for key, value in values.items():
                setattr(call, key, value)
            outcome = "updated"
            if call.status == "hidden":
                call.status, outcome = "review", "in_review"
            call.updated_at = now
            s.add(call)
            s.flush()
            promoted = fill_places(s, call, now)
            kind = "in_review" if outcome == "in_review" else "edited"
            if changed or promoted or kind == "in_review":
                tell_about(
                    s, tell, kind, call, _call_view(s, call), now,
                    promoted=promoted, changed=changed, actor_user_id=user_id,
                )  # fmt: skip
            return outcome

    def set_call_status(
        self: _HasSession,
        user_id: int,
        call_id: int,
        status: str,
        now: datetime | None = None,
        tell: Tell | None = None,
    ) -> bool:
        """Close, re-open or call off (``cancelled``) one's own call.

        A hidden or in-review call stays so (the center decides); a called-off one is final.
        Re-opening gives free places to the waiting list first; everyone concerned is told.
        """
        now = now or utcnow()
        with self.session() as s:
            call = _own_call(s, user_id, call_id)
            if (
                call is None
                or call.status in ("hidden", "review", "cancelled")
                or status not in ("open", "closed", "cancelled")
            ):
                return False
            if call.status == status:
                return True
            call.status, call.updated_at = status, now
            s.add(call)
            s.flush()
            promoted = fill_places(s, call, now)
            kind = {"open": "reopened", "closed": "closed", "cancelled": "called_off"}[status]
            tell_about(
                s, tell, kind, call, _call_view(s, call), now,
                promoted=promoted, actor_user_id=user_id,
            )  # fmt: skip
            return True

    def hide_call(
        self: _HasSession,
        call_id: int,
        reason: str,
        now: datetime | None = None,
        tell: Tell | None = None,
    ) -> bool:
        """Staff moderation: hide a call that breaks the rules; its group and everyone on it
        are told, and no reminder goes out while it is hidden."""
        now = now or utcnow()
        with self.session() as s:
            call = s.get(RecruitmentCall, call_id)
            if call is None or call.status == "cancelled":
                return False
            call.status, call.hidden_reason, call.updated_at = "hidden", reason[:300], now
            s.add(call)
            s.flush()
            tell_about(s, tell, "hidden", call, _call_view(s, call), now, reason=reason[:300])
            return True

    def unhide_call(
        self: _HasSession, call_id: int, now: datetime | None = None, tell: Tell | None = None
    ) -> bool:
        """Staff: show a hidden (or fixed, in-review) call again, open; free places go to the
        waiting list first and everyone concerned is told."""
        now = now or utcnow()
        with self.session() as s:
            call = s.get(RecruitmentCall, call_id)
            if call is None or call.status not in ("hidden", "review"):
                return False
            call.status, call.hidden_reason, call.updated_at = "open", None, now
            s.add(call)
            s.flush()
            promoted = fill_places(s, call, now)
            tell_about(s, tell, "unhidden", call, _call_view(s, call), now, promoted=promoted)
            return True

    def calls_of(self: _HasSession, user_id: int) -> list[CallView]:
        """The calls of every group the user represents, newest date first."""
        with self.reading() as s:
            rows = s.exec(
                select(RecruitmentCall)
                .join(
                    Representative,
                    col(Representative.group_id) == col(RecruitmentCall.group_id),
                )
                .where(col(Representative.user_id) == user_id)
                .order_by(col(RecruitmentCall.starts_at).desc(), col(RecruitmentCall.id))
                .limit(30)
            ).all()
            return call_views(s, rows)

    def get_call(self: _HasSession, call_id: int) -> CallView | None:
        """One call, whatever its status."""
        with self.reading() as s:
            call = s.get(RecruitmentCall, call_id)
            return _call_view(s, call) if call else None

    def own_call(self: _HasSession, user_id: int, call_id: int) -> CallView | None:
        """A call, only if the user represents its group."""
        with self.session() as s:
            call = _own_call(s, user_id, call_id)
            return _call_view(s, call) if call else None

    def volunteers(self: _HasSession, user_id: int, call_id: int) -> list[Volunteer] | None:
        """Who signed up (active ones), only for the call's own representatives (else None)."""
        with self.session() as s:
            if _own_call(s, user_id, call_id) is None:
                return None
            return _volunteers(s, call_id)

    def all_volunteers(self: _HasSession, call_id: int) -> list[Volunteer]:
        """Who signed up for a call (staff export)."""
        with self.session() as s:
            return _volunteers(s, call_id)

    def find_openings(
        self: _HasSession,
        *,
        now: datetime,
        field: str | None = None,
        area: str | None = None,
        neighbours: tuple[str, ...] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 5,
        offset: int = 0,
    ) -> tuple[list[CallView], int]:
        """Upcoming open calls of verified groups: same area first, then by date."""
        starts = col(RecruitmentCall.starts_at)
        stmt = (
            select(RecruitmentCall, func.count().over().label("total"))
            .join(Group, col(Group.id) == col(RecruitmentCall.group_id))
            .where(
                col(RecruitmentCall.status) == "open",
                col(Group.verified),
                starts > max(now, start) if start else starts > now,
            )
        )
        if end:
            stmt = stmt.where(starts < end)
        if field:
            stmt = stmt.where(col(RecruitmentCall.field) == field)
        rank: Any = literal(0)
        if area:
            rank = case(
                (col(RecruitmentCall.area) == area, 0),
                (col(RecruitmentCall.area).in_(neighbours or ("",)), 1),
                else_=2,
            )
        stmt = stmt.order_by(rank, starts, col(RecruitmentCall.id)).limit(limit).offset(offset)
        with self.reading() as s:
            rows = s.execute(stmt).all()
            total = int(rows[0][1]) if rows else 0
            return call_views(s, [r[0] for r in rows]), total

    # --- volunteers -------------------------------------------------------------------------

    def profile(self: _HasSession, user_id: int) -> Profile:
        """What the volunteer has told us so far."""
        with self.reading() as s:
            user = s.get(User, user_id)
            if user is None:
                return Profile(None, None, None, None)
            return Profile(user.name, user.contact, user.age_group, user.consent_at)

    def save_profile(
        self: _HasSession,
        user_id: int,
        *,
        name: str,
        contact: str,
        age_group: str,
        consent_at: datetime,
    ) -> None:
        """Store the volunteer's details and when they agreed to share them."""
        with self.session() as s:
            user = s.get(User, user_id)
            if user is None:
                return
            user.name, user.contact, user.age_group = name[:100], contact[:200], age_group[:16]
            user.consent_at = user.consent_at or consent_at
            s.add(user)

    def sign_up(
        self: _HasSession, user_id: int, call_id: int, now: datetime, *, wait: bool = False
    ) -> SignUpResult:
        """Take a place (atomically), or a waiting-list spot when ``wait`` and the call is full.

        The volunteer's stored details are checked here again, whatever the form said:
        ``incomplete`` without consent, a name, a contact or an age group; ``refused`` when
        the call's age rule does not admit the age group.
        """
        with self.session() as s:
            call = s.get(RecruitmentCall, call_id)
            if call is None or call.status != "open":
                return SignUpResult("closed", call_id=call_id)
            if _aware(call.starts_at) <= now:
                return SignUpResult("started", call_id=call_id)
            user = s.get(User, user_id)
            if (
                user is None
                or user.consent_at is None
                or not (user.name or "").strip()
                or not (user.contact or "").strip()
                or not (user.age_group or "").strip()
            ):
                return SignUpResult("incomplete", call_id=call_id)
            rule = audience(call.high_school_ok, call.min_age)
            if rule != "anyone" and user.age_group not in ADMITTED[rule]:
                return SignUpResult("refused", call_id=call_id)
            existing = s.exec(
                select(SignUp).where(
                    col(SignUp.call_id) == call_id, col(SignUp.user_id) == user_id
                )
            ).first()
            if existing is not None and existing.status in ACTIVE:
                return SignUpResult("already", existing.id, call_id=call_id)
            # A newcomer never goes ahead of the waiting list: a free place there belongs to
            # the first waiting person (storage.call_changes gives it at once).
            queue = select(SignUp.id).where(
                col(SignUp.call_id) == call_id, col(SignUp.status) == "waiting"
            )
            took = s.execute(
                update(RecruitmentCall)
                .where(
                    col(RecruitmentCall.id) == call_id,
                    col(RecruitmentCall.taken) < col(RecruitmentCall.capacity),
                    col(RecruitmentCall.status) == "open",
                    ~queue.exists(),
                )
                .values(taken=col(RecruitmentCall.taken) + 1)
            )
            if _rowcount(took) == 1:
                status = "confirmed"
            elif wait:
                status = "waiting"
            else:
                return SignUpResult("full", call_id=call_id)
            row = existing or SignUp(call_id=call_id, user_id=user_id, status=status)
            row.status, row.created_at, row.updated_at = status, now, now
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                # The same user, twice at once: the other request already holds the place.
                s.rollback()
                return SignUpResult("already", call_id=call_id)
            return SignUpResult(status, int(row.id or 0), call_id=call_id)

    def cancel_sign_up(
        self: _HasSession,
        user_id: int,
        sign_up_id: int,
        now: datetime,
        tell: Tell | None = None,
    ) -> SignUpResult:
        """Cancel one's own sign-up; a freed place goes to the first on the waiting list."""
        with self.session() as s:
            row = s.get(SignUp, sign_up_id)
            if row is None or row.user_id != user_id or row.status not in ACTIVE:
                return SignUpResult("gone")
            return _cancel(s, row, now, tell)

    def my_sign_ups(self: _HasSession, user_id: int, now: datetime) -> list[MySignUp]:
        """The user's active sign-ups for calls that have not ended, soonest first."""
        with self.reading() as s:
            rows = s.exec(
                select(SignUp, RecruitmentCall)
                .join(RecruitmentCall, col(RecruitmentCall.id) == col(SignUp.call_id))
                .where(
                    col(SignUp.user_id) == user_id,
                    col(SignUp.status).in_(ACTIVE),
                    col(RecruitmentCall.ends_at) > now,
                )
                .order_by(col(RecruitmentCall.starts_at))
            ).all()
            out = []
            for sign_up, call in rows:
                position = 0
                if sign_up.status == "waiting":
                    position = 1 + int(
                        s.exec(
                            select(func.count())
                            .select_from(SignUp)
                            .where(
                                col(SignUp.call_id) == call.id,
                                col(SignUp.status) == "waiting",
                                col(SignUp.id) < sign_up.id,
                            )
                        ).one()
                    )
                out.append(
                    MySignUp(int(sign_up.id or 0), sign_up.status, position, _call_view(s, call))
                )
            return out

    def forget_user(
        self: _HasSession, user_id: int, now: datetime, tell: Tell | None = None
    ) -> list[SignUpResult]:
        """退会: cancel every active sign-up (promoting waiters), then delete the user and
        everything kept about them. Returns the cancellations, for notices to groups."""
        results = []
        with self.session() as s:
            rows = s.exec(
                select(SignUp).where(
                    col(SignUp.user_id) == user_id, col(SignUp.status).in_(ACTIVE)
                )
            ).all()
            for row in rows:
                results.append(_cancel(s, row, now, tell))
            s.execute(delete(SignUp).where(col(SignUp.user_id) == user_id))
            s.execute(delete(OutboxMessage).where(col(OutboxMessage.user_id) == user_id))
            s.execute(delete(Representative).where(col(Representative.user_id) == user_id))
            s.execute(delete(User).where(col(User.id) == user_id))
        return results

    # --- outbox -----------------------------------------------------------------------------

    def reminders_due(
        self: _HasSession, now: datetime, until: datetime
    ) -> list[tuple[int, int, CallView]]:
        """(sign-up id, user id, call) of confirmed sign-ups for calls starting in
        (now, until]; the caller enqueues each with a dedupe key, so repeats are harmless."""
        with self.session() as s:
            rows = s.exec(
                select(SignUp, RecruitmentCall)
                .join(RecruitmentCall, col(RecruitmentCall.id) == col(SignUp.call_id))
                .where(
                    col(SignUp.status) == "confirmed",
                    col(RecruitmentCall.status).in_(TAKES_PLACE),
                    col(RecruitmentCall.starts_at) > now,
                    col(RecruitmentCall.starts_at) <= until,
                )
            ).all()
            views = call_views(s, [call for _, call in rows])
            return [
                (int(su.id or 0), su.user_id, v) for (su, _), v in zip(rows, views, strict=True)
            ]


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


def _own_call(s: Session, user_id: int, call_id: int) -> RecruitmentCall | None:
    call = s.get(RecruitmentCall, call_id)
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


def _cancel(s: Session, row: SignUp, now: datetime, tell: Tell | None) -> SignUpResult:
    was_confirmed = row.status == "confirmed"
    row.status, row.updated_at = "cancelled", now
    s.add(row)
    s.flush()
    promoted: list[int] = []
    call = s.get(RecruitmentCall, row.call_id)
    if was_confirmed:
        s.execute(
            update(RecruitmentCall)
            .where(col(RecruitmentCall.id) == row.call_id)
            .values(taken=col(RecruitmentCall.taken) - 1)
        )
        if call is not None:
            s.refresh(call)
            promoted = fill_places(s, call, now)
    if call is not None:
        tell_about(
            s, tell, "sign_up_cancelled", call, _call_view(s, call), now,
            promoted=promoted, actor_user_id=row.user_id,
        )  # fmt: skip
    first = promoted[0] if promoted else None
    return SignUpResult("cancelled", row.id, first, row.call_id)


def _what_changed(call: RecruitmentCall, values: dict[str, Any]) -> list[str]:
    """What an edit changes that people who signed up must hear about."""
    changed = []
    if _aware(call.starts_at) != _aware(values["starts_at"]) or _aware(call.ends_at) != _aware(
        values["ends_at"]
    ):
        changed.append("when")
    if (call.place, call.area) != (values["place"], values["area"]):
        changed.append("place")
    if call.meeting_point != values["meeting_point"]:
        changed.append("meeting_point")
    if call.capacity != values["capacity"]:
        changed.append("capacity")
    return changed


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed (Session.execute's static type hides CursorResult)."""
    return int(getattr(result, "rowcount", 0))
