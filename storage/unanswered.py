"""The console's view of unanswered questions: open questions grouped by their folded text (the
matcher's form, ``UnansweredQuestion.normalized``), a page at a time, and changes that apply
to a whole group. Mixed into :class:`storage.store.Store`.

Grouping by folded text happens in SQL, so a page costs one GROUP BY over the open questions
however many there are; merging near-identical folded texts (a typo, a different ending) is
the console's work, on one page's groups only (``bot.admin.unanswered``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.models import UnansweredQuestion

MAX_GROUP_IDS = 200  # folded texts one change may name (a page has far fewer)
CHUNK = 500  # ids per statement


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    """The open questions that fold to one text."""

    id: int  # the smallest question id: names the group in a form
    folded: str
    text: str  # one of them as it was asked (masked)
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class UnansweredPage:
    """One page of groups, biggest first (then the most recently asked), and the totals."""

    groups: list[QuestionGroup]
    questions: int  # open questions in all
    folded_texts: int  # groups in all (what the pages are counted in)


_OPEN = col(UnansweredQuestion.status) == "open"


class UnansweredQueries:
    """Mixed into Store: open questions for the console, grouped."""

    def unanswered_groups(self: _HasSession, offset: int = 0, limit: int = 50) -> UnansweredPage:
        """``limit`` groups of open questions from ``offset``: one per folded text, the
        biggest first, then the most recently asked."""
        q = UnansweredQuestion
        count = func.count(col(q.id))
        last = func.max(col(q.created_at))
        with self.session() as s:
            questions, folded_texts = s.exec(
                select(count, func.count(func.distinct(col(q.normalized)))).where(_OPEN)
            ).one()
            rows = s.execute(
                core_select(
                    func.min(col(q.id)), col(q.normalized), func.min(col(q.text)), count,
                    func.min(col(q.created_at)), last,
                )
                .where(_OPEN)
                .group_by(col(q.normalized))
                .order_by(count.desc(), last.desc(), func.min(col(q.id)))
                .offset(max(0, offset))
                .limit(limit)
            ).all()  # fmt: skip
        return UnansweredPage(
            [QuestionGroup(int(i), str(f), str(t), int(n), a, b) for i, f, t, n, a, b in rows],
            int(questions),
            int(folded_texts),
        )

    def unanswered_texts(self: _HasSession, ids: list[int]) -> list[str]:
        """For the groups these questions name, one open question's text per folded text."""
        q = UnansweredQuestion
        with self.session() as s:
            stmt = (
                select(func.min(col(q.text)))
                .where(_OPEN, col(q.normalized).in_(_folded_of(ids)))
                .group_by(col(q.normalized))
                .order_by(func.min(col(q.id)))
            )
            return [str(t) for t in s.exec(stmt).all()]

    def resolve_unanswered(
        self: _HasSession, ids: list[int], status: str, entry_id: str | None = None
    ) -> int:
        """Mark every open question that folds like one of ``ids`` ``attached`` (to an entry)
        or ``dismissed``: the whole group, asked again since the page was shown included.
        Returns how many questions changed."""
        q = UnansweredQuestion
        with self.session() as s:
            result = s.execute(
                update(q)
                .where(_OPEN, col(q.normalized).in_(_folded_of(ids)))
                .values(status=status, faq_entry_id=entry_id)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def dismiss_unanswered(self: _HasSession, ids: list[int]) -> list[int]:
        """「対応不要」: every open question that folds like one of ``ids`` is dismissed; the
        ids of exactly those questions (what 「元に戻す」 gives back)."""
        q = UnansweredQuestion
        with self.session() as s:
            rows = s.exec(select(col(q.id)).where(_OPEN, col(q.normalized).in_(_folded_of(ids))))
            found = [int(i) for i in rows.all() if i is not None]
            for start in range(0, len(found), CHUNK):
                s.execute(
                    update(q)
                    .where(_OPEN, col(q.id).in_(found[start : start + CHUNK]))
                    .values(status="dismissed", faq_entry_id=None)
                    .execution_options(synchronize_session=False)
                )
            return found

    def reopen_unanswered(self: _HasSession, question_ids: list[int]) -> int:
        """Take back 「対応不要」: these questions, if still dismissed, are open again (nothing
        dismissed at another time, nothing attached meanwhile). How many changed."""
        q = UnansweredQuestion
        changed = 0
        with self.session() as s:
            for start in range(0, len(question_ids), CHUNK):
                result = s.execute(
                    update(q)
                    .where(
                        col(q.status) == "dismissed",
                        col(q.id).in_(question_ids[start : start + CHUNK]),
                    )
                    .values(status="open")
                    .execution_options(synchronize_session=False)
                )
                changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return changed


def _folded_of(ids: list[int]) -> Any:
    """The folded texts of these questions (a subquery)."""
    q = UnansweredQuestion
    return select(col(q.normalized)).where(col(q.id).in_(ids[:MAX_GROUP_IDS]))
