"""The console's staff accounts: passwords, sign-in with lock-out, sessions kept on the
server, and managing the accounts (list, add, new password, unlock, disable). Mixed into
:class:`storage.store.Store`.

**A sign-in tells a visitor nothing.** An unknown name, a disabled account, an account locked
for this client and a wrong password all come back ``bad``, after the same work: one scrypt
check (against a dummy hash when there is no account to check) and one failure row.

**Lock-out that a visitor cannot aim at someone else.** Failures are rows (the name typed,
the client's address, when), kept for ``WINDOW`` (15 minutes), so every process counts the
same ones. Three limits, each over the last ``WINDOW``:

- *per client*: ``ADDRESS_LIMIT`` (10) failures from one address, for any names, and that
  address is ``throttled`` (the console answers 429) for every name, without a password
  check, until its oldest failures age out. An IPv6 address counts as its /64, which one
  machine usually holds whole.
- *per account and client*: ``ACCOUNT_LIMIT`` (5) failures for one name from one address,
  and further tries of that name from that address are refused (``bad``, like any wrong
  password). Failures from elsewhere are counted apart, so a stranger's guesses never lock
  a staff member out: the lock is on the guesser's own address.
- *per account, everywhere*: ``ACCOUNT_WIDE_LIMIT`` (100) failures for one name from all
  addresses (at least 10 addresses, each throttled at 10) mean a guess spread over many
  machines. Then the name is refused from addresses that have not signed in to it within
  ``KNOWN_FOR`` (30 days): staff at their usual desk still get in, and
  ``python -m bot staff unlock`` clears it for everyone.

So one address gets at most 5 guesses per account and 10 in all per 15 minutes. A success
clears that name's failures from that address. Two processes counting at the same moment may
let a try or two past a limit; the limits slow guessing down, they are not exact counters.

**Sessions.** A sign-in makes a random id; the cookie carries it and the table keeps only its
sha256. A session ends at sign-out, when its account gets a new password or is disabled, after
``SESSION_LIFETIME`` (8 hours) and after ``IDLE_TIMEOUT`` (2 hours without a request). Every
process reads the same rows, so an ended session is refused everywhere at once.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import StaffLoginFailure, StaffSession, StaffUser

WINDOW = timedelta(minutes=15)
ADDRESS_LIMIT = 10
ACCOUNT_LIMIT = 5
ACCOUNT_WIDE_LIMIT = 100
KNOWN_FOR = timedelta(days=30)
SESSION_LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
MIN_PASSWORD = 12  # characters
# scrypt, a slow standard KDF from the standard library: 2**14 × 8 × 1 is OWASP's minimum.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison against a stored hash."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


_DUMMY_HASH = hash_password(secrets.token_hex(8))  # refused names cost as much as known ones


def address_key(address: str) -> str:
    """How a client is counted: its IPv4 address, its IPv6 /64, or the text as given."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def session_hash(token: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginResult:
    """``ok`` (with the account and the new session's id, for the cookie), ``bad`` (whatever
    the reason) or ``throttled`` (this client failed too often)."""

    outcome: str
    user_id: int | None = None
    username: str | None = None
    session: str | None = None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session's account."""

    user_id: int
    username: str


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """One account as the staff page and ``python -m bot staff list`` show it."""

    id: int
    username: str
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool
    locked: bool  # some client, or everyone new, is refused this name now
    sessions: int  # live sessions


class StaffAccountQueries:
    """Mixed into Store: staff accounts, sign-in and sessions."""

    # --- sign-in -----------------------------------------------------------------------------

    def login(
        self: _HasSession, username: str, password: str, address: str, now: datetime
    ) -> LoginResult:
        """Check a password under the limits above; on success, start a session."""
        username, key, since = username[:64], address_key(address), now - WINDOW
        with self.session() as s:
            if _failures(s, since, address=key) >= ADDRESS_LIMIT:
                return LoginResult("throttled")
            user = s.exec(select(StaffUser).where(col(StaffUser.username) == username)).first()
            # Counted for unknown names too: the same queries whatever the name.
            locked = _locked_for(s, username, int(user.id or 0) if user else 0, key, now)
            usable = user is not None and user.disabled_at is None and not locked
            stored = user.password_hash if user is not None and usable else _DUMMY_HASH
        # The slow check runs outside any transaction (SQLite would hold its write lock).
        good = check_password(password, stored) and usable
        with self.session() as s:
            s.execute(delete(StaffLoginFailure).where(col(StaffLoginFailure.at) < since))
            fresh = s.get(StaffUser, user.id) if good and user is not None else None
            # A new password or a disabled account between the two steps wins.
            if fresh is None or fresh.disabled_at is not None or fresh.password_hash != stored:
                s.add(StaffLoginFailure(at=now, username=username, address=key))
                return LoginResult("bad")
            s.execute(
                delete(StaffLoginFailure).where(
                    col(StaffLoginFailure.username) == username,
                    col(StaffLoginFailure.address) == key,
                )
            )
            s.execute(delete(StaffSession).where(col(StaffSession.expires_at) < now - KNOWN_FOR))
            token = secrets.token_urlsafe(32)
            s.add(
                StaffSession(
                    id_hash=session_hash(token), staff_id=int(fresh.id or 0), address=key,
                    created_at=now, expires_at=now + SESSION_LIFETIME, last_seen_at=now,
                )
            )  # fmt: skip
            fresh.last_login_at = now
            s.add(fresh)
            return LoginResult("ok", fresh.id, fresh.username, token)

    def staff_session(self: _HasSession, token: str, now: datetime) -> SignedIn | None:
        """The account of a live session (and note that it was used), or None."""
        if not token:
            return None
        with self.session() as s:
            row = s.exec(
                select(StaffSession, StaffUser)
                .join(StaffUser, col(StaffUser.id) == col(StaffSession.staff_id))
                .where(col(StaffSession.id_hash) == session_hash(token))
            ).first()
            if row is None:
                return None
            live, user = row
            if (
                live.revoked_at is not None
                or live.expires_at <= now
                or live.last_seen_at + IDLE_TIMEOUT <= now
                or user.disabled_at is not None
            ):
                return None
            if now - live.last_seen_at >= TOUCH_EVERY:
                live.last_seen_at = now
                s.add(live)
            return SignedIn(int(user.id or 0), user.username)

    def end_staff_session(self: _HasSession, token: str, now: datetime) -> None:
        """Sign out: the session is refused from now on, in every process."""
        with self.session() as s:
            s.execute(
                update(StaffSession)
                .where(
                    col(StaffSession.id_hash) == session_hash(token),
                    col(StaffSession.revoked_at).is_(None),
                )
                .values(revoked_at=now)
            )

    # --- accounts ----------------------------------------------------------------------------

    def create_staff(self: _HasSession, username: str, password: str) -> bool:
        """A new staff account; False when the name is taken."""
        try:
            with self.session() as s:
                s.add(StaffUser(username=username, password_hash=hash_password(password)))
            return True
        except IntegrityError:
            return False

    def staff_accounts(self: _HasSession, now: datetime) -> list[StaffAccount]:
        """Every account, by name."""
        with self.session() as s:
            users = s.exec(select(StaffUser).order_by(col(StaffUser.username))).all()
            return [_account(s, u, now) for u in users]

    def find_staff(self: _HasSession, username: str, now: datetime) -> StaffAccount | None:
        """The account with this name."""
        with self.session() as s:
            user = s.exec(select(StaffUser).where(col(StaffUser.username) == username)).first()
            return _account(s, user, now) if user is not None else None

    def get_staff(self: _HasSession, staff_id: int, now: datetime) -> StaffAccount | None:
        """The account with this id."""
        with self.session() as s:
            user = s.get(StaffUser, staff_id)
            return _account(s, user, now) if user is not None else None

    def set_staff_password(self: _HasSession, staff_id: int, password: str, now: datetime) -> bool:
        """A new password; every session of the account ends and its lock-out is cleared.
        False when there is no such account."""
        new_hash = hash_password(password)
        with self.session() as s:
            user = s.get(StaffUser, staff_id)
            if user is None:
                return False
            user.password_hash = new_hash
            s.add(user)
            _revoke_all(s, staff_id, now)
            _clear_failures(s, user.username)
            return True

    def unlock_staff(self: _HasSession, staff_id: int) -> bool:
        """Forget the account's failed sign-ins (from every address)."""
        with self.session() as s:
            user = s.get(StaffUser, staff_id)
            if user is None:
                return False
            _clear_failures(s, user.username)
            return True

    def set_staff_disabled(
        self: _HasSession, staff_id: int, disabled: bool, now: datetime
    ) -> bool:
        """Disable (its sessions end at once; it cannot sign in) or enable an account."""
        with self.session() as s:
            user = s.get(StaffUser, staff_id)
            if user is None:
                return False
            if disabled and user.disabled_at is None:
                user.disabled_at = now
                _revoke_all(s, staff_id, now)
            elif not disabled:
                user.disabled_at = None
            s.add(user)
            return True


def _failures(
    s: Session, since: datetime, *, address: str | None = None, username: str | None = None
) -> int:
    stmt = select(func.count()).select_from(StaffLoginFailure)
    stmt = stmt.where(col(StaffLoginFailure.at) >= since)
    if address is not None:
        stmt = stmt.where(col(StaffLoginFailure.address) == address)
    if username is not None:
        stmt = stmt.where(col(StaffLoginFailure.username) == username)
    return int(s.exec(stmt).one())


def _locked_for(s: Session, username: str, staff_id: int, key: str, now: datetime) -> bool:
    """Whether this client is refused this name now (the limits in the module docstring)."""
    since = now - WINDOW
    if _failures(s, since, address=key, username=username) >= ACCOUNT_LIMIT:
        return True
    if _failures(s, since, username=username) < ACCOUNT_WIDE_LIMIT:
        return False
    known = s.exec(
        select(func.count())
        .select_from(StaffSession)
        .where(
            col(StaffSession.staff_id) == staff_id,
            col(StaffSession.address) == key,
            col(StaffSession.created_at) >= now - KNOWN_FOR,
        )
    ).one()
    return not known


def _account(s: Session, user: StaffUser, now: datetime) -> StaffAccount:
    since = now - WINDOW
    per_address = s.exec(
        select(func.count())
        .select_from(StaffLoginFailure)
        .where(
            col(StaffLoginFailure.username) == user.username, col(StaffLoginFailure.at) >= since
        )
        .group_by(col(StaffLoginFailure.address))
    ).all()
    locked = any(n >= ACCOUNT_LIMIT for n in per_address) or sum(per_address) >= ACCOUNT_WIDE_LIMIT
    sessions = s.exec(
        select(func.count())
        .select_from(StaffSession)
        .where(
            col(StaffSession.staff_id) == user.id,
            col(StaffSession.revoked_at).is_(None),
            col(StaffSession.expires_at) > now,
            col(StaffSession.last_seen_at) > now - IDLE_TIMEOUT,
        )
    ).one()
    return StaffAccount(
        id=int(user.id or 0),
        username=user.username,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        disabled=user.disabled_at is not None,
        locked=locked,
        sessions=int(sessions) if user.disabled_at is None else 0,
    )


def _revoke_all(s: Session, staff_id: int, now: datetime) -> None:
    s.execute(
        update(StaffSession)
        .where(col(StaffSession.staff_id) == staff_id, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def _clear_failures(s: Session, username: str) -> None:
    s.execute(delete(StaffLoginFailure).where(col(StaffLoginFailure.username) == username))
