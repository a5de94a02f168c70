"""Two rules for a recruitment call's state, each in one place (STYLE: one rule per change).

1. **A place becomes free → the first waiting person gets it.** A cancellation, a re-opened
   call, a raised capacity and a call the center shows again all go through
   :func:`fill_places`, which promotes waiters in the order they asked, one atomic
   ``taken < capacity`` UPDATE each, while the call still gives places.
2. **A call changes → everyone on it is told.** The change and its notices are one
   transaction: the caller hands in ``tell``, which turns a :class:`CallChange` into
   :class:`Notice` rows; they are written to the outbox in the same commit as the change,
   so a crash cannot keep the one and lose the other.

The words of a notice are not here (storage speaks no Japanese): ``tell`` comes from
``intents.notices``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

if TYPE_CHECKING:  # storage.openings imports this module
    from storage.openings import CallView

from storage.db import rowcount
from storage.models import OutboxMessage, RecruitmentCall, Representative, SignUp, User

# A call gives its free places to the waiting list while it is open or closed (closing stops
# newcomers, not the people already waiting); a hidden, in-review or called-off one does not.
GIVES_PLACES = ("open", "closed")
# Statuses whose participants still expect to take part (reminders follow these).
TAKES_PLACE = ("open", "closed")


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a change concerns, with the language to tell them in."""

    user_id: int
    locale: str
    sign_up_id: int = 0  # their sign-up on the call (0 for a representative)


@dataclass(frozen=True, slots=True)
class Notice:
    """One outbox message: a JSON body (text and buttons) for one user."""

    user_id: int
    body: str


@dataclass(frozen=True, slots=True)
class CallChange:
    """What happened to a call, and to whom it matters.

    ``kind``: ``signed_up`` | ``joined_waiting`` | ``sign_up_cancelled`` | ``closed`` |
    ``reopened`` | ``edited`` | ``hidden`` | ``in_review`` | ``unhidden`` | ``called_off``.
    """

    kind: str
    call: CallView  # as it is after the change
    confirmed: tuple[Person, ...]  # holding a place now, the promoted included
    waiting: tuple[Person, ...]  # still waiting, in order
    promoted: tuple[Person, ...]  # moved from the waiting list to a place by this change
    representatives: tuple[Person, ...]
    changed: tuple[str, ...] = ()  # for ``edited``: when | place | meeting_point | capacity
    reason: str = ""
    actor_user_id: int | None = None  # who made the change (not told about their own act)
    actor_name: str = ""  # for a sign-up: the volunteer's name and age group, for the group
    actor_age_group: str = ""

    @property
    def everyone(self) -> tuple[Person, ...]:
        """Confirmed and waiting people (the promoted are among the confirmed)."""
        return self.confirmed + self.waiting


Tell = Callable[[CallChange], Iterable[Notice]]


def lock_call(s: Session, call_id: int) -> RecruitmentCall | None:
    """The call, its row locked until the transaction ends (PostgreSQL; SQLite has one writer).

    Every change of a call and of its places takes this lock first, so a sign-up, a cancel,
    an edit, a status change and a hide on one call happen one after another: none decides
    on what it read before another committed.
    """
    return s.exec(
        select(RecruitmentCall)
        .where(col(RecruitmentCall.id) == call_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def reminder_key(sign_up_id: int, starts_at: datetime) -> str:
    """A reminder's outbox key: per sign-up and start, so a moved call gets a new one."""
    return f"remind:{sign_up_id}:{int(starts_at.timestamp())}"


def withdraw_reminders(s: Session, sign_up_ids: Iterable[int]) -> None:
    """Drop reminders queued but not yet delivered for these sign-ups (a call called off,
    hidden or removed, a sign-up cancelled): the worker would still send them."""
    ids = list(sign_up_ids)
    for start in range(0, len(ids), 200):
        keys = [
            col(OutboxMessage.dedupe_key).like(f"remind:{i}:%") for i in ids[start : start + 200]
        ]
        s.execute(
            delete(OutboxMessage).where(or_(*keys), col(OutboxMessage.delivered_at).is_(None))
        )


def fill_places(s: Session, call: RecruitmentCall, now: datetime) -> list[int]:
    """Give every free place to the first waiting people, in order; their user ids.

    Safe against a racing sign-up or cancel: each promotion is the same atomic
    ``taken < capacity`` UPDATE a newcomer's sign-up uses, and the waiter's row is locked.
    """
    if call.status not in GIVES_PLACES or call.starts_at <= now:
        return []
    promoted: list[int] = []
    while True:
        first = s.exec(
            select(SignUp)
            .where(col(SignUp.call_id) == call.id, col(SignUp.status) == "waiting")
            .order_by(col(SignUp.id))
            .limit(1)
            .with_for_update()
        ).first()
        if first is None:
            break
        took = s.execute(
            update(RecruitmentCall)
            .where(
                col(RecruitmentCall.id) == call.id,
                col(RecruitmentCall.taken) < col(RecruitmentCall.capacity),
            )
            .values(taken=col(RecruitmentCall.taken) + 1)
        )
        if rowcount(took) != 1:
            break
        first.status, first.updated_at = "confirmed", now
        s.add(first)
        s.flush()
        promoted.append(first.user_id)
    if promoted:
        s.refresh(call)
    return promoted


def tell_about(
    s: Session,
    tell: Tell | None,
    kind: str,
    call: RecruitmentCall,
    view: Any,
    now: datetime,
    *,
    promoted: Iterable[int] = (),
    changed: Iterable[str] = (),
    reason: str = "",
    actor_user_id: int | None = None,
    actor: tuple[str, str] = ("", ""),
) -> CallChange:
    """Build the change, and write ``tell``'s notices in this transaction."""
    rows = s.exec(
        select(col(SignUp.user_id), col(SignUp.status), col(User.locale), col(SignUp.id))
        .join(User, col(User.id) == col(SignUp.user_id))
        .where(col(SignUp.call_id) == call.id, col(SignUp.status).in_(("confirmed", "waiting")))
        .order_by(col(SignUp.id))
    ).all()
    reps = s.exec(
        select(col(User.id), col(User.locale))
        .join(Representative, col(Representative.user_id) == col(User.id))
        .where(col(Representative.group_id) == call.group_id)
        .order_by(col(User.id))
    ).all()
    promoted_ids = list(promoted)
    people = [(Person(int(u), str(loc or "ja"), int(n or 0)), st) for u, st, loc, n in rows]
    by_user = {p.user_id: p for p, _ in people}
    change = CallChange(
        kind=kind,
        call=view,
        confirmed=tuple(p for p, st in people if st == "confirmed"),
        waiting=tuple(p for p, st in people if st == "waiting"),
        promoted=tuple(by_user.get(u, Person(u, "ja")) for u in promoted_ids),
        representatives=tuple(Person(int(u or 0), str(loc or "ja")) for u, loc in reps),
        changed=tuple(changed),
        reason=reason,
        actor_user_id=actor_user_id,
        actor_name=actor[0],
        actor_age_group=actor[1],
    )
    if kind in ("hidden", "called_off"):
        confirmed = select(SignUp.id).where(
            col(SignUp.call_id) == call.id, col(SignUp.status) == "confirmed"
        )
        withdraw_reminders(s, [int(i or 0) for i in s.exec(confirmed).all()])
    if tell is not None:
        for notice in tell(change):
            s.add(OutboxMessage(user_id=notice.user_id, body=notice.body, deliver_after=now))
    return change
