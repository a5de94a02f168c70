"""Sign-ups: a place or a waiting-list spot, cancelling, a volunteer's details, and the
reminders due (mixed into ``storage.store.Store``; 退会 is ``storage.forget``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.call_changes import (
    TAKES_PLACE,
    Tell,
    fill_places,
    lock_call,
    tell_about,
    withdraw_reminders,
)
from storage.db import rowcount
from storage.models import OutboxMessage, RecruitmentCall, SignUp, User
from storage.openings import (
    ACTIVE,
    ADMITTED,
    CallView,
    MySignUp,
    Profile,
    SignUpResult,
    _aware,
    _call_view,
    _HasSession,
    audience,
    call_views,
)


class SignUpQueries:
    """The sign-ups' statements."""

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
        self: _HasSession,
        user_id: int,
        call_id: int,
        now: datetime,
        *,
        wait: bool = False,
        tell: Tell | None = None,
    ) -> SignUpResult:
        """Take a place (atomically), or a waiting-list spot when ``wait`` and the call is full.

        The volunteer's stored details are checked here again, whatever the form said:
        ``incomplete`` without consent, a name, a contact or an age group; ``refused`` when
        the call's age rule does not admit the age group.
        """
        with self.session() as s:
            call = lock_call(s, call_id)
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
            if rowcount(took) == 1:
                status = "confirmed"
            elif wait:
                status = "waiting"
            else:
                return SignUpResult("full", call_id=call_id)
            if existing is not None:
                # Rejoining after a cancel: a new row, so the queue (ordered by id) puts
                # them at its end, not back where they had been.
                s.delete(existing)
                s.flush()
            row = SignUp(call_id=call_id, user_id=user_id, status=status)
            row.created_at, row.updated_at = now, now
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                # The same user, twice at once: the other request already holds the place.
                s.rollback()
                return SignUpResult("already", call_id=call_id)
            s.refresh(call)
            kind = "signed_up" if status == "confirmed" else "joined_waiting"
            tell_about(
                s, tell, kind, call, _call_view(s, call), now,
                actor_user_id=user_id, actor=(user.name or "", user.age_group or ""),
            )  # fmt: skip
            _name_in_notices(s, user_id)
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

    def sign_up_view(self: _HasSession, sign_up_id: int) -> MySignUp | None:
        """One sign-up and its call, whatever their status (a calendar link names it);
        ``position`` is not counted (0)."""
        with self.reading() as s:
            row = s.get(SignUp, sign_up_id)
            call = s.get(RecruitmentCall, row.call_id) if row is not None else None
            if row is None or call is None:
                return None
            return MySignUp(int(row.id or 0), row.status, 0, _call_view(s, call))

    # --- outbox -----------------------------------------------------------------------------

    def reminders_due(
        self: _HasSession, now: datetime, until: datetime
    ) -> list[tuple[int, int, CallView, str]]:
        """(sign-up id, user id, call, the user's language) of confirmed sign-ups of people
        who can be reached, for calls starting in (now, until]; the caller enqueues each with
        a dedupe key, so repeats are harmless."""
        with self.session() as s:
            rows = s.exec(
                select(SignUp, RecruitmentCall, User.locale)
                .join(RecruitmentCall, col(RecruitmentCall.id) == col(SignUp.call_id))
                .join(User, col(User.id) == col(SignUp.user_id))
                .where(
                    col(SignUp.status) == "confirmed",
                    col(User.active).is_(True),  # blocked the bot, or a sample person
                    col(RecruitmentCall.status).in_(TAKES_PLACE),
                    col(RecruitmentCall.starts_at) > now,
                    col(RecruitmentCall.starts_at) <= until,
                )
            ).all()
            views = call_views(s, [call for _, call, _ in rows])
            return [
                (int(su.id or 0), su.user_id, v, str(locale or "ja"))
                for (su, _, locale), v in zip(rows, views, strict=True)
            ]


def _name_in_notices(s: Session, user_id: int) -> None:
    """The notices a sign-up just wrote (``tell_about`` adds them to the session, not yet
    flushed) tell the group the volunteer's name and age group: mark them as about the
    volunteer, so that 「データ削除」 removes them too (``storage.forget``)."""
    for row in s.new:
        if isinstance(row, OutboxMessage) and row.user_id != user_id:
            row.about_user_id = user_id


def _cancel(s: Session, row: SignUp, now: datetime, tell: Tell | None) -> SignUpResult:
    call = lock_call(s, row.call_id)  # first: a sign-up or an edit on this call waits
    s.refresh(row)
    if row.status not in ACTIVE:  # cancelled meanwhile (two taps)
        return SignUpResult("gone")
    was_confirmed = row.status == "confirmed"
    row.status, row.updated_at = "cancelled", now
    s.add(row)
    s.flush()
    withdraw_reminders(s, [int(row.id or 0)])
    promoted: list[int] = []
    if was_confirmed:
        s.execute(
            update(RecruitmentCall)
            .where(col(RecruitmentCall.id) == row.call_id)
            .values(taken=col(RecruitmentCall.taken) - 1)
        )
        if call is not None:
            s.refresh(call)
            promoted = fill_places(s, call, now)
    if call is not None and call.status != "cancelled":  # a called-off call: nobody to tell
        tell_about(
            s, tell, "sign_up_cancelled", call, _call_view(s, call), now,
            promoted=promoted, actor_user_id=row.user_id,
        )  # fmt: skip
    first = promoted[0] if promoted else None
    return SignUpResult("cancelled", row.id, first, row.call_id)
