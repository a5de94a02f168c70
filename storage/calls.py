"""Recruitment calls: post, edit, close, re-open, call off, hide and show again, find (mixed
into ``storage.store.Store``). Every change follows ``storage.call_changes``' two rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, or_
from sqlmodel import col, select

from storage.call_changes import Tell, fill_places, lock_call, tell_about
from storage.models import (
    Group,
    RecruitmentCall,
    Representative,
    utcnow,
)
from storage.openings import (
    CallDraft,
    CallView,
    Volunteer,
    _aware,
    _call_view,
    _draft_values,
    _HasSession,
    _own_call,
    _volunteers,
    call_views,
)

CALL_STATES = ("open", "closed", "review", "hidden", "cancelled")


@dataclass(frozen=True, slots=True)
class CallQuery:
    """Which calls the console lists. ``state``: one of :data:`CALL_STATES`, or empty for
    every state; ``upcoming``: True, calls not over yet (sooner first); False, calls that are
    over (latest first); None, both; ``starts_from`` / ``starts_before``: a span their start
    falls in (a month)."""

    state: str = ""
    upcoming: bool | None = True
    starts_from: datetime | None = None
    starts_before: datetime | None = None


class CallQueries:
    """The calls' statements."""

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
            call = _own_call(s, user_id, call_id, lock=True)
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
            call = _own_call(s, user_id, call_id, lock=True)
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
            call = lock_call(s, call_id)
            if call is None or call.status == "cancelled":
                return False
            if call.status in ("hidden", "review"):
                return True  # hidden already (a second submit): nobody is told twice
            call.hidden_from = call.status
            call.status, call.hidden_reason, call.updated_at = "hidden", reason[:300], now
            s.add(call)
            s.flush()
            tell_about(s, tell, "hidden", call, _call_view(s, call), now, reason=reason[:300])
            return True

    def unhide_call(
        self: _HasSession, call_id: int, now: datetime | None = None, tell: Tell | None = None
    ) -> bool:
        """Staff: show a hidden (or fixed, in-review) call again, in the state it had (open or
        closed); free places go to the waiting list first and everyone concerned is told."""
        now = now or utcnow()
        with self.session() as s:
            call = lock_call(s, call_id)
            if call is None or call.status not in ("hidden", "review"):
                return False
            back = call.hidden_from if call.hidden_from in ("open", "closed") else "open"
            call.status, call.hidden_reason, call.updated_at = back, None, now
            call.hidden_from = None
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

    def list_calls(
        self: _HasSession, query: CallQuery, now: datetime, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[CallView], int]:
        """One page of the calls ``query`` selects (staff see hidden ones too), those waiting
        for the center's review first, and how many there are in all."""
        starts = col(RecruitmentCall.starts_at)
        stmt = select(RecruitmentCall, func.count().over().label("total"))
        if query.state:
            stmt = stmt.where(col(RecruitmentCall.status) == query.state)
        if query.upcoming is not None:
            ends = col(RecruitmentCall.ends_at)
            stmt = stmt.where(ends > now if query.upcoming else ends <= now)
        if query.starts_from is not None:
            stmt = stmt.where(starts >= query.starts_from)
        if query.starts_before is not None:
            stmt = stmt.where(starts < query.starts_before)
        sooner_first = query.upcoming or query.starts_from is not None
        review = case((col(RecruitmentCall.status) == "review", 0), else_=1)
        order = [starts, col(RecruitmentCall.id)] if sooner_first else [
            starts.desc(), col(RecruitmentCall.id).desc()
        ]  # fmt: skip
        stmt = stmt.order_by(review, *order).limit(limit).offset(max(0, offset))
        with self.reading() as s:
            rows = s.execute(stmt).all()
            if rows:
                total = int(rows[0][1])
            elif offset:  # paged past the end: the window count came back empty
                counted = stmt.with_only_columns(func.count()).order_by(None)
                total = int(s.execute(counted.limit(None).offset(None)).scalar_one())
            else:
                total = 0
            return call_views(s, [r[0] for r in rows]), total

    def group_calls(
        self: _HasSession, group_id: int, *, limit: int = 100
    ) -> tuple[list[CallView], int]:
        """A group's calls, the latest date first, and how many it has in all."""
        with self.reading() as s:
            rows = s.execute(
                select(RecruitmentCall, func.count().over().label("total"))
                .where(col(RecruitmentCall.group_id) == group_id)
                .order_by(col(RecruitmentCall.starts_at).desc(), col(RecruitmentCall.id).desc())
                .limit(limit)
            ).all()
            total = int(rows[0][1]) if rows else 0
            return call_views(s, [r[0] for r in rows]), total

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
        words: tuple[str, ...] = (),
    ) -> tuple[list[CallView], int]:
        """Upcoming open calls of verified groups: same area first, then by date. With
        ``field``, the calls of that field; and with ``words`` (what the resident said for
        it: 英語), also the calls whose title or description says one of them."""
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
            said = [
                col(c).like(f"%{_like(w)}%", escape="\\")
                for w in words
                if w
                for c in (RecruitmentCall.title, RecruitmentCall.description)
            ]
            stmt = stmt.where(or_(col(RecruitmentCall.field) == field, *said))
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


def _like(word: str) -> str:
    """``word`` for a LIKE pattern: its % and _ taken literally."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
