"""The statements every chat turn runs, as plain SQL on the driver's own cursor.

A turn claims its event id, reads the user and their state, and at its end saves the state
and counts the message: five small statements on every message. Through SQLAlchemy each cost
about 18 µs of Python before SQLite did any work, against 1 µs on the driver's cursor, so
these few are written out here and run on the caller's SQLAlchemy connection (the same
transaction and the same locks). Everything else uses SQLAlchemy.

On SQLite they run one by one inside the caller's transaction. On PostgreSQL every statement
is a network round trip and costs the client about 60 µs of Python, so the beginning of a
turn is one statement (the claim in a data-modifying CTE, then the user and state) and so is
its end (the user seen, the state saved and the counters in CTEs); the caller runs them in
autocommit (``storage.db.create_turn_engine``): two round trips a turn instead of eleven.

The SQL is the same on both but for that; parameters are ``:name`` (sqlite3's own style,
rewritten to psycopg's ``%(name)s``). Timestamps are stored as SQLAlchemy stores them (see
``storage.models.UTCDateTime``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection

CLAIM = """
INSERT INTO processed_events (platform, event_id, created_at)
VALUES (:platform, :event_id, :now)
ON CONFLICT (platform, event_id) DO NOTHING
RETURNING event_id
"""
USER_AND_STATE = """
SELECT users.id, users.locale, conversation_states.data
FROM users LEFT OUTER JOIN conversation_states ON conversation_states.user_id = users.id
WHERE users.platform = :platform AND users.platform_user_id = :platform_user_id
"""
CREATE_USER = """
INSERT INTO users (platform, platform_user_id, locale, active, created_at, last_seen_at)
VALUES (:platform, :platform_user_id, :locale, TRUE, :now, :now)
ON CONFLICT (platform, platform_user_id) DO NOTHING
RETURNING id
"""
SEEN = """
UPDATE users SET last_seen_at = :now, active = TRUE, locale = :locale WHERE id = :user_id
"""
SAVE_STATE = """
INSERT INTO conversation_states (user_id, data, updated_at) VALUES (:user_id, :data, :now)
ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
"""
MAX_COUNTER_KEY = 80  # daily_counts.key

# PostgreSQL: the claim and the read in one statement; it returns exactly one row. A CTE's
# rows are not visible to the rest of the statement, but its RETURNING is: count(*) says
# whether this statement inserted the event id.
OPEN_PG = """
WITH claim AS (
  INSERT INTO processed_events (platform, event_id, created_at)
  VALUES (:platform, :event_id, :now)
  ON CONFLICT (platform, event_id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM claim), users.id, users.locale, conversation_states.data
FROM (SELECT 1) AS one
LEFT JOIN users ON users.platform = :platform AND users.platform_user_id = :platform_user_id
LEFT JOIN conversation_states ON conversation_states.user_id = users.id
"""


def count_sql(keys: int) -> str:
    """One multi-row upsert of ``keys`` dashboard counters for a day (no user ids)."""
    rows = ", ".join(f"(:day, :key{i}, 1)" for i in range(keys))
    return (
        f"INSERT INTO daily_counts (day, key, count) VALUES {rows} "  # noqa: S608 (no input)
        "ON CONFLICT (day, key) DO UPDATE SET count = daily_counts.count + 1"
    )


@cache
def close_pg_sql(seen: bool, keys: int) -> str:
    """PostgreSQL: the end of a turn in one statement (the user seen, the state, counters)."""
    parts = [f"state AS ({SAVE_STATE.strip()})"]
    if seen:
        parts.insert(0, f"seen AS ({SEEN.strip()})")
    last = count_sql(keys) if keys else "SELECT 1"
    return "WITH " + ",\n".join(parts) + "\n" + last


@dataclass(frozen=True, slots=True)
class UserRow:
    """The user's id, stored locale and saved state (JSON, or None)."""

    id: int
    locale: str
    data: str | None


class TurnSql:
    """Runs the turn's statements on the driver cursor of a connection in a transaction."""

    def __init__(self, dialect: str) -> None:
        self._named = dialect == "postgresql"  # psycopg: %(name)s; sqlite3 takes :name

    def open(
        self,
        c: Connection,
        platform: str,
        platform_user_id: str,
        event_id: str | None,
        now: datetime,
    ) -> tuple[bool, UserRow | None]:
        """Claim the event (when there is one) and read the user: ``(claimed, user)``; the
        user is None when they are new (or when the claim failed)."""
        if not self._named or event_id is None:
            if event_id is not None and not self.claim(c, platform, event_id, now):
                return False, None
            return True, self.user(c, platform, platform_user_id)
        row = self._one(
            c,
            OPEN_PG,
            platform=platform,
            platform_user_id=platform_user_id,
            event_id=event_id,
            now=self._stamp(now),
        )
        if row is None or not row[0]:
            return False, None
        return True, (None if row[1] is None else UserRow(int(row[1]), str(row[2]), row[3]))

    def close(
        self,
        c: Connection,
        user_id: int,
        locale: str | None,
        data: str,
        counters: tuple[date, list[str]] | None,
        now: datetime,
    ) -> None:
        """End a turn: mark the user seen (when ``locale`` is given), save the state, count."""
        day, keys = counters or (None, [])
        unique = list(dict.fromkeys(key[:MAX_COUNTER_KEY] for key in keys))
        if not self._named:
            if locale:
                self.seen(c, user_id, locale, now)
            self.save_state(c, user_id, data, now)
            if day is not None:
                self.count(c, day, unique)
            return
        values = {f"key{i}": key for i, key in enumerate(unique)}
        self._run(
            c,
            close_pg_sql(bool(locale), len(unique)),
            user_id=user_id,
            locale=locale,
            data=data,
            now=self._stamp(now),
            day=day.isoformat() if day else None,
            **values,
        )

    def claim(self, c: Connection, platform: str, event_id: str, now: datetime) -> bool:
        """Record an event id; False when some process recorded it before."""
        row = self._one(c, CLAIM, platform=platform, event_id=event_id, now=self._stamp(now))
        return row is not None

    def user(self, c: Connection, platform: str, platform_user_id: str) -> UserRow | None:
        """The user with their state, or None."""
        row = self._one(c, USER_AND_STATE, platform=platform, platform_user_id=platform_user_id)
        return None if row is None else UserRow(int(row[0]), str(row[1]), row[2])

    def create_user(
        self, c: Connection, platform: str, platform_user_id: str, locale: str, now: datetime
    ) -> int | None:
        """Insert the user; None when a concurrent first message inserted them first."""
        row = self._one(
            c,
            CREATE_USER,
            platform=platform,
            platform_user_id=platform_user_id,
            locale=locale,
            now=self._stamp(now),
        )
        return None if row is None else int(row[0])

    def seen(self, c: Connection, user_id: int, locale: str, now: datetime) -> None:
        """Mark the user seen (and active) now, in this locale."""
        self._run(c, SEEN, user_id=user_id, locale=locale, now=self._stamp(now))

    def save_state(self, c: Connection, user_id: int, data: str, now: datetime) -> None:
        """Insert or replace the user's conversation state."""
        self._run(c, SAVE_STATE, user_id=user_id, data=data, now=self._stamp(now))

    def count(self, c: Connection, day: date, keys: list[str]) -> None:
        """Add one to each ``(day, key)`` counter."""
        unique = list(dict.fromkeys(key[:MAX_COUNTER_KEY] for key in keys))
        if unique:
            values = {f"key{i}": key for i, key in enumerate(unique)}
            self._run(c, count_sql(len(unique)), day=day.isoformat(), **values)

    # --- the driver -----------------------------------------------------------------------

    def _stamp(self, moment: datetime) -> Any:
        utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        if self._named:
            return utc  # psycopg sends an aware datetime as timestamptz
        # SQLAlchemy's SQLite DATETIME format, without offset (UTCDateTime reads it as UTC).
        return utc.replace(tzinfo=None).isoformat(" ", "microseconds")

    def _one(self, c: Connection, sql: str, **params: Any) -> tuple[Any, ...] | None:
        cursor = self._execute(c, sql, params)
        try:
            row = cursor.fetchone()
            return None if row is None else tuple(row)
        finally:
            cursor.close()

    def _run(self, c: Connection, sql: str, **params: Any) -> None:
        self._execute(c, sql, params).close()

    def _execute(self, c: Connection, sql: str, params: dict[str, Any]) -> Any:
        if not c.in_transaction():
            raise RuntimeError("turn statements run inside the caller's transaction")
        driver = c.connection.driver_connection
        if driver is None:
            raise RuntimeError("the connection has no driver connection")
        cursor = driver.cursor()
        cursor.execute(_pyformat(sql) if self._named else sql, params)
        return cursor


@cache
def _pyformat(sql: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s``."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
