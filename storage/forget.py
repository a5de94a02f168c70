"""「データ削除」: everything kept about one person goes, in one transaction (mixed into
``storage.store.Store``).

What is kept about a person, table by table (``storage/models.py``), and what happens to it:

- ``users``: platform id, name, contact, age group, consent: the row is deleted;
- ``sign_ups``: their places and waiting-list spots: cancelled first (below), then deleted;
- ``outbox``, messages *to* them (notices, reminders, replies kept while a platform was down):
  deleted, sent or not;
- ``outbox``, notices to others *about* them (``about_user_id``: the group's 「新しい申し込み：
  山田さん（20代）」): deleted, sent or not. An unsent one is only about this person, and the
  group hears of the cancellation in its own notice, so deleting beats rewriting it;
- ``conversation_states``: form answers, kept replies, their last question: deleted;
- ``inbox``: the webhook events they sent (their messages' texts): deleted, answered or not;
- ``representatives``, ``invite_attempts``: their links to groups, codes tried: deleted;
- ``invite_codes.used_by``, ``recruitment_calls.created_by``: set to NULL (the calls they
  posted are the group's and stay).

- ``unanswered_questions``: kept without who asked, e-mails and phones masked when stored
  (``storage.masking``); the person's name, wherever a question holds it (as typed, without
  its spaces, or in the matcher's folded form), becomes 「[名前]」.

Kept without anyone's identity, so nothing to do: ``faq_feedback``, ``daily_counts``,
``processed_events`` (event ids).

A sign-up on a call that still takes place is cancelled as a cancel would be (the group is
told, the first waiting person moves up). One on a call that was called off or is over is
only deleted: nothing is happening there to give a place in or tell anyone about.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from knowledge.text import fold
from storage.call_changes import Tell
from storage.models import (
    ConversationState,
    InboxEvent,
    InviteAttempt,
    InviteCode,
    OutboxMessage,
    RecruitmentCall,
    Representative,
    SignUp,
    UnansweredQuestion,
    User,
)
from storage.openings import ACTIVE, SignUpResult, _aware, _HasSession
from storage.signups import _cancel


class ForgetQueries:
    """退会 (see the module docstring)."""

    def forget_user(
        self: _HasSession, user_id: int, now: datetime, tell: Tell | None = None
    ) -> list[SignUpResult]:
        """Cancel the user's sign-ups on calls that still take place (promoting waiters,
        telling groups), then delete everything kept about them. Returns those
        cancellations (what the user is told was cancelled)."""
        results = []
        with self.session() as s:
            user = s.get(User, user_id)
            if user is None:
                return []
            rows = s.exec(
                select(SignUp, RecruitmentCall)
                .join(RecruitmentCall, col(RecruitmentCall.id) == col(SignUp.call_id))
                .where(col(SignUp.user_id) == user_id, col(SignUp.status).in_(ACTIVE))
                .order_by(col(SignUp.id))
            ).all()
            for row, call in rows:
                if call.status != "cancelled" and _aware(call.ends_at) > now:
                    results.append(_cancel(s, row, now, tell))
            s.execute(delete(SignUp).where(col(SignUp.user_id) == user_id))
            s.execute(
                delete(OutboxMessage).where(
                    or_(
                        col(OutboxMessage.user_id) == user_id,
                        col(OutboxMessage.about_user_id) == user_id,
                    )
                )
            )
            _forget_inbox(s, user.platform, user.platform_user_id)
            s.execute(delete(ConversationState).where(col(ConversationState.user_id) == user_id))
            s.execute(delete(Representative).where(col(Representative.user_id) == user_id))
            s.execute(delete(InviteAttempt).where(col(InviteAttempt.user_id) == user_id))
            s.execute(
                update(InviteCode).where(col(InviteCode.used_by) == user_id).values(used_by=None)
            )
            s.execute(
                update(RecruitmentCall)
                .where(col(RecruitmentCall.created_by) == user_id)
                .values(created_by=None)
            )
            if user.name:
                _mask_name(s, user.name)
            s.execute(delete(User).where(col(User.id) == user_id))
        return results


NAME_MASK = "[名前]"
MIN_NAME = 2  # characters: a one-character "name" would mask half of every question


def _mask_name(s: Session, name: str) -> None:
    """Mask the person's name in the unanswered questions: a resident sometimes types it
    into a question (「山田花子ですが…」), and those rows carry no user to delete by. Found
    with or without spaces between its characters, and in the matcher's folded copy."""
    bare = "".join(name.split())
    if len(bare) < MIN_NAME:
        return
    folded = fold(bare) if len(fold(bare)) >= MIN_NAME else ""
    spaced = re.compile(r"\s*".join(map(re.escape, bare)))
    # The folded copy has no spaces: a name typed in any spacing is found there.
    holds = col(UnansweredQuestion.text).contains(bare, autoescape=True)
    if folded:
        holds = holds | col(UnansweredQuestion.normalized).contains(folded, autoescape=True)
    for question in s.exec(select(UnansweredQuestion).where(holds)).all():
        text = spaced.sub(NAME_MASK, question.text)
        normalized = spaced.sub(NAME_MASK, question.normalized)
        if folded:
            normalized = normalized.replace(folded, NAME_MASK)
        if (text, normalized) != (question.text, question.normalized):
            question.text, question.normalized = text, normalized
            s.add(question)


def _forget_inbox(s: Session, platform: str, platform_user_id: str) -> None:
    """Delete the inbox events this person sent. The inbox keeps no user column: the rows
    that mention their id are read, and those whose sender it is are deleted."""
    candidates = s.exec(
        select(InboxEvent.id, InboxEvent.body).where(
            col(InboxEvent.platform) == platform,
            col(InboxEvent.body).contains(platform_user_id, autoescape=True),
        )
    ).all()
    theirs = [i for i, body in candidates if platform_user_id in _senders(body)]
    for start in range(0, len(theirs), 500):
        s.execute(delete(InboxEvent).where(col(InboxEvent.id).in_(theirs[start : start + 500])))


def _senders(body: str) -> set[str]:
    """Who sent an inbox event, as the adapters store it: LINE's as ``{"user": id, …}``
    (``bot.adapters.line``), Telegram's as the update it sent (``{"message": {"from": {"id":
    …}}}``, ``callback_query`` alike)."""
    try:
        event: Any = json.loads(body)
    except ValueError:
        return set()
    if not isinstance(event, dict):
        return set()
    found = {str(event["user"])} if isinstance(event.get("user"), str) else set()
    for part in event.values():
        sender = part.get("from") if isinstance(part, dict) else None
        if isinstance(sender, dict) and "id" in sender:
            found.add(str(sender["id"]))
    return found
