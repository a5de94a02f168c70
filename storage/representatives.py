"""Invite codes and the groups' representatives (mixed into ``storage.store.Store``).

A code is 8 characters of 32 (about 1.1 × 10¹² codes), and guessing is slowed down further:
after ``INVITE_TRIES`` codes that did not link them within ``INVITE_WINDOW``, a user's codes
are not even looked up (a right one neither) until the oldest of those tries is that old.
The tries are rows (``invite_attempts``), so the limit holds across processes and restarts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.db import rowcount
from storage.models import (
    Group,
    GroupField,
    InviteAttempt,
    InviteCode,
    OutboxMessage,
    Representative,
    User,
    utcnow,
)
from storage.openings import (
    INVITE_ALPHABET,
    INVITE_TTL,
    _aware,
    _HasSession,
)

INVITE_TRIES = 5  # codes that did not link a user, per INVITE_WINDOW
INVITE_WINDOW = timedelta(hours=1)
MAX_DISPLAY_NAME = 100
_NOT_SHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")


@dataclass(frozen=True, slots=True)
class RepresentativeLink:
    """A group's representative as the console shows them: who (``display_name`` None when
    the platform has not told us), on which platform, and since when."""

    user_id: int
    platform: str
    platform_user_id: str
    display_name: str | None
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class OpenInvite:
    """An invite code not used yet and not expired. Only its hash is stored, so the code
    itself cannot be shown again: when it was issued and until when it works."""

    issued_at: datetime
    expires_at: datetime


UnlinkNotice = Callable[[str, str, bool], str]
"""(locale, group name, still the representative of another group) → the outbox body (JSON)."""


class RepresentativeQueries:
    """Invites, links and unlinks."""

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
        ``linked`` | ``invalid`` | ``expired`` | ``used`` | ``limited`` (too many codes that
        did not link them lately: this one was not looked up; see the module docstring)."""
        now = now or utcnow()
        with self.session() as s:
            # One user's tries one after another (the row lock; SQLite has one writer): two
            # at once cannot both slip under the limit.
            s.exec(select(User.id).where(col(User.id) == user_id).with_for_update()).first()
            tried = s.exec(
                select(func.count())
                .select_from(InviteAttempt)
                .where(
                    col(InviteAttempt.user_id) == user_id,
                    col(InviteAttempt.at) > now - INVITE_WINDOW,
                )
            ).one()
            if int(tried) >= INVITE_TRIES:
                return "limited", None
            outcome, group = _redeem(s, user_id, invite_hash(code), now)
            if outcome == "linked":
                s.execute(delete(InviteAttempt).where(col(InviteAttempt.user_id) == user_id))
            else:
                s.add(InviteAttempt(user_id=user_id, at=now))
            return outcome, group

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

    def linked_representatives(self: _HasSession, group_id: int) -> list[RepresentativeLink]:
        """The group's representatives, the first linked first (the console shows them)."""
        with self.reading() as s:
            rows = s.execute(
                core_select(
                    col(Representative.user_id), col(User.platform), col(User.platform_user_id),
                    col(Representative.display_name), col(Representative.created_at),
                )
                .join(User, col(Representative.user_id) == col(User.id))
                .where(col(Representative.group_id) == group_id)
                .order_by(col(Representative.created_at), col(Representative.user_id))
            ).all()  # fmt: skip
            return [
                RepresentativeLink(int(u), str(p), str(pu), n, _aware(at))
                for u, p, pu, n, at in rows
            ]

    def set_display_name(
        self: _HasSession, platform: str, platform_user_id: str, name: str
    ) -> int:
        """Keep the name the platform shows for a user on each of their links to groups
        (nothing for someone who represents no group: we keep no names of residents). How
        many links it was written on."""
        cleaned = " ".join(_NOT_SHOWN.sub(" ", name).split())[:MAX_DISPLAY_NAME]
        if not cleaned:
            return 0
        user = (
            select(User.id)
            .where(col(User.platform) == platform, col(User.platform_user_id) == platform_user_id)
            .scalar_subquery()
        )
        with self.session() as s:
            done = s.execute(
                update(Representative)
                .where(col(Representative.user_id) == user)
                .values(display_name=cleaned)
            )
            return rowcount(done)

    def open_invites(self: _HasSession, group_id: int, now: datetime) -> list[OpenInvite]:
        """The group's invite codes that can still be used, the newest first."""
        with self.reading() as s:
            rows = s.exec(
                select(InviteCode.created_at, InviteCode.expires_at)
                .where(
                    col(InviteCode.group_id) == group_id,
                    col(InviteCode.used_at).is_(None),
                    col(InviteCode.expires_at) > now,
                )
                .order_by(col(InviteCode.created_at).desc())
            ).all()
            return [OpenInvite(_aware(a), _aware(b)) for a, b in rows]

    def represents_any(self: _HasSession, platform: str, platform_user_id: str) -> bool:
        """:meth:`is_representative` by the platform's id (a notice being delivered)."""
        with self.reading() as s:
            found = s.exec(
                select(Representative.group_id)
                .join(User, col(User.id) == col(Representative.user_id))
                .where(
                    col(User.platform) == platform, col(User.platform_user_id) == platform_user_id
                )
            ).first()
            return found is not None

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

    def unlink_by_staff(
        self: _HasSession,
        user_id: int,
        group_id: int,
        notice: UnlinkNotice,
        now: datetime | None = None,
    ) -> str | None:
        """The center ends a representative's link (the console): as
        :meth:`unlink_representative` (calls and sign-ups stay), and the person is told, in
        their language, through the outbox in the same transaction. The group's name, or None
        when they did not represent it (nothing is changed, nobody told)."""
        now = now or utcnow()
        with self.session() as s:
            link = s.get(Representative, (user_id, group_id))
            user = s.get(User, user_id)
            if link is None or user is None:
                return None
            group = s.get(Group, group_id)
            name = group.name if group else ""
            s.delete(link)
            s.flush()
            still = s.exec(
                select(Representative.group_id).where(col(Representative.user_id) == user_id)
            ).first()
            body = notice(user.locale, name, still is not None)
            s.add(OutboxMessage(user_id=user_id, body=body, deliver_after=now))
            return name


def _redeem(s: Session, user_id: int, digest: str, now: datetime) -> tuple[str, str | None]:
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
    if rowcount(won) != 1:
        return "used", None
    if s.get(Representative, (user_id, invite.group_id)) is None:
        s.add(Representative(user_id=user_id, group_id=invite.group_id))
    group = s.get(Group, invite.group_id)
    return "linked", group.name if group else None


def invite_hash(code: str) -> str:
    """The stored form of an invite code (case, spaces and hyphens do not matter)."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_invite_code() -> str:
    """8 random characters, shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"
