"""The demo's recruitment calls and their sign-ups (``knowledge/sample_calls.toml``, read by
``bot.directory_csv.load_sample_calls``), made once for the sample groups.

Their sign-ups are made by **sample people**: ``users`` rows on the platform ``sample``, not
active. Nobody is behind them and nothing reaches them: the worker delivers only to the
platforms it has a sender for (LINE, Telegram) and only to active users; a notice on a
platform without push waits until that person writes, which a sample person never does.
Removing the sample directory (``storage.staff``) deletes them with it and tells nobody
about their sign-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import Group, RecruitmentCall, SignUp, User
from storage.openings import CallDraft, _draft_values, _HasSession

SAMPLE_PLATFORM = "sample"  # no sender exists for it: see the module docstring
SAMPLE_CONTACT = "（サンプルのため連絡先なし）"


@dataclass(frozen=True, slots=True)
class SamplePerson:
    """A made-up volunteer; ``key`` is their platform id on the ``sample`` platform."""

    key: str
    name: str
    age_group: str


@dataclass(frozen=True, slots=True)
class SampleCall:
    """A sample group's call, with the sample people already on it (keys, in order)."""

    group_key: str
    draft: CallDraft
    confirmed: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()


def add_sample_calls(
    store: _HasSession, calls: list[SampleCall], people: list[SamplePerson], now: datetime
) -> int:
    """Post ``calls`` for the sample groups with their sign-ups, in one transaction; none
    when a sample group has a call already (the demo is made once). Returns how many calls.

    Raises:
        ValueError: a call names a group that is not a sample group, a person not in
            ``people``, or more confirmed people than places.
    """
    with store.session() as s:
        rows = s.exec(select(Group.key, Group.id).where(col(Group.is_sample))).all()
        groups = {str(key): int(group_id or 0) for key, group_id in rows}
        existing = s.exec(
            select(func.count())
            .select_from(RecruitmentCall)
            .where(col(RecruitmentCall.group_id).in_(list(groups.values()) or [0]))
        ).one()
        if not groups or existing:
            return 0
        users = _sample_people(s, people, now)
        for call in calls:
            if call.group_key not in groups:
                raise ValueError(
                    f"sample call {call.draft.title!r}: no sample group {call.group_key!r}"
                )
            if len(call.confirmed) > call.draft.capacity:
                raise ValueError(f"sample call {call.draft.title!r}: more people than places")
            unknown = set(call.confirmed + call.waiting) - set(users)
            if unknown:
                raise ValueError(
                    f"sample call {call.draft.title!r}: unknown people {sorted(unknown)}"
                )
            row = RecruitmentCall(
                group_id=groups[call.group_key],
                taken=len(call.confirmed),
                **_draft_values(call.draft),
            )
            row.created_at = row.updated_at = now
            s.add(row)
            s.flush()
            # One at a time: the waiting list is ordered by id.
            for status, keys in (("confirmed", call.confirmed), ("waiting", call.waiting)):
                for key in keys:
                    s.add(
                        SignUp(
                            call_id=int(row.id or 0), user_id=users[key], status=status,
                            created_at=now, updated_at=now,
                        )
                    )  # fmt: skip
                    s.flush()
        return len(calls)


def _sample_people(s: Session, people: list[SamplePerson], now: datetime) -> dict[str, int]:
    """The sample people's user ids, made when missing."""
    found = dict(
        s.exec(
            select(User.platform_user_id, User.id).where(col(User.platform) == SAMPLE_PLATFORM)
        ).all()
    )
    for person in people:
        if person.key in found:
            continue
        user = User(
            platform=SAMPLE_PLATFORM, platform_user_id=person.key, active=False,
            name=person.name, contact=SAMPLE_CONTACT, age_group=person.age_group,
            consent_at=now, created_at=now, last_seen_at=now,
        )  # fmt: skip
        s.add(user)
        s.flush()
        found[person.key] = user.id
    return {k: int(v or 0) for k, v in found.items()}


def keep_sample_calls_ahead(store: _HasSession, now: datetime) -> int:
    """Move the sample groups' calls that have begun forward by whole weeks (same weekday and
    time), so a demo that runs for weeks still shows openings from today on. Their sample
    sign-ups stay. Returns how many calls moved."""
    week = timedelta(days=7)
    moved = 0
    with store.session() as s:
        rows = s.exec(
            select(RecruitmentCall)
            .join(Group, col(Group.id) == col(RecruitmentCall.group_id))
            .where(col(Group.is_sample), col(RecruitmentCall.starts_at) <= now)
        ).all()
        for call in rows:
            weeks = (now - call.starts_at) // week + 1
            call.starts_at += weeks * week
            call.ends_at += weeks * week
            call.updated_at = now
            s.add(call)
            moved += 1
    return moved
