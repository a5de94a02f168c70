"""The statements every chat turn runs, as plain SQL on the driver's own cursor.

A turn claims its event id, reads the user and their state, and at its end saves the state
and counts the message: five small statements on every message. Through SQLAlchemy each cost
about 18 µs of Python before SQLite did any work, against 1 µs on the driver's cursor, so
these few are written out here and run on the caller's SQLAlchemy connection (the same
transaction and the same locks). Everything else uses SQLAlchemy.

Turns come in batches (``Conversation.handle_many``; never two of one user in a batch). On
SQLite their statements run one by one inside the caller's one transaction. On PostgreSQL
every statement is a network round trip and costs the client about 60 µs of Python, so the
beginning of a whole batch is one statement (the claims in a data-modifying CTE, then each
user and state) and so is its end (the users seen, the states saved, the counters): the
caller runs them in autocommit (``storage.db.create_turn_engine``).

The SQL is the same on both but for that; parameters are ``:name`` (sqlite3's own style,
rewritten to psycopg's ``%(name)s``). Timestamps are stored as SQLAlchemy stores them (see
``storage.models.UTCDateTime``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


def count_sql(rows: int) -> str:
    """One multi-row upsert of dashboard counters (no user ids): ``:dayN, :keyN, :nN``."""
    values = ", ".join(f"(:day{i}, :key{i}, :n{i})" for i in range(rows))
    return (
        f"INSERT INTO daily_counts (day, key, count) VALUES {values} "  # noqa: S608 (no input)
        "ON CONFLICT (day, key) DO UPDATE SET count = daily_counts.count + excluded.count"
    )


def count_params(counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """``count_sql``'s parameters for ``{(day, key): n}`` (keys cut to MAX_COUNTER_KEY by
    the caller, before counting), in sorted order: two transactions that upsert the same
    counters must lock them in the same order, or they deadlock."""
    params: dict[str, Any] = {}
    for i, ((day, key), n) in enumerate(sorted(counts.items())):
        params |= {f"day{i}": day, f"key{i}": key, f"n{i}": n}
    return params


# PostgreSQL: a whole batch in one statement whose text never changes with the batch's size:
# the rows come as arrays (unnest). psycopg caches the parsing of a query only up to 4 kB and
# prepares only a text it has seen before: a VALUES list of 64 rows was neither, and parsing
# it cost more of the client's time than the turn's own statements.
OPEN_PG = """
WITH input AS (
  SELECT * FROM unnest(CAST(:n AS integer[]), CAST(:platforms AS text[]),
                       CAST(:users AS text[]), CAST(:events AS text[]))
    AS input (n, platform, platform_user_id, event_id)
),
claim AS (
  INSERT INTO processed_events (platform, event_id, created_at)
  SELECT platform, event_id, CAST(:now AS timestamptz) FROM input WHERE event_id IS NOT NULL
  ON CONFLICT (platform, event_id) DO NOTHING
  RETURNING platform, event_id
)
SELECT input.n, input.event_id IS NULL OR claim.event_id IS NOT NULL,
       users.id, users.locale, conversation_states.data
FROM input
LEFT JOIN claim ON claim.platform = input.platform AND claim.event_id = input.event_id
LEFT JOIN users
  ON users.platform = input.platform AND users.platform_user_id = input.platform_user_id
LEFT JOIN conversation_states ON conversation_states.user_id = users.id
ORDER BY input.n
"""
"""PostgreSQL: claim a batch's events and read their users, in one statement.

A CTE's rows are not visible to the rest of the statement, but its RETURNING is: an event
whose id came back was claimed by this statement. (A batch never holds two turns of one
user, so never one event twice.)"""

CLOSE_PG = """
WITH input AS (
  SELECT * FROM unnest(CAST(:users AS integer[]), CAST(:locales AS text[]),
                       CAST(:datas AS text[]))
    AS input (user_id, locale, data)
),
seen AS (
  UPDATE users SET last_seen_at = CAST(:now AS timestamptz), active = TRUE, locale = input.locale
  FROM input WHERE users.id = input.user_id AND input.locale IS NOT NULL
),
state AS (
  INSERT INTO conversation_states (user_id, data, updated_at)
  SELECT user_id, data, CAST(:now AS timestamptz) FROM input
  ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
)
INSERT INTO daily_counts (day, key, count)
SELECT * FROM unnest(CAST(:days AS text[]), CAST(:keys AS text[]), CAST(:counts AS integer[]))
ON CONFLICT (day, key) DO UPDATE SET count = daily_counts.count + excluded.count
"""
"""PostgreSQL: the end of a batch of turns in one statement (users seen, states saved, the
counters added)."""

PUT_INBOX_PG = """
INSERT INTO inbox (platform, event_id, body, received_at, attempts, claimed_until, claimed_by)
SELECT p, e, b, CAST(:now AS timestamptz), CASE WHEN l THEN 1 ELSE 0 END,
       CASE WHEN l THEN CAST(:lease AS timestamptz) END, CASE WHEN l THEN CAST(:owner AS text) END
FROM unnest(CAST(:p AS text[]), CAST(:e AS text[]), CAST(:b AS text[]), CAST(:l AS boolean[]))
  AS input (p, e, b, l)
ON CONFLICT (platform, event_id) DO NOTHING
RETURNING id, platform, event_id, body, attempts
"""
"""PostgreSQL: insert inbox events (the ones stored before are skipped)."""

FINISH_INBOX_PG = """
UPDATE inbox SET done_at = CASE WHEN input.done THEN CAST(:now AS timestamptz) END,
                 claimed_until = NULL
FROM unnest(CAST(:ids AS bigint[]), CAST(:done AS boolean[])) AS input (id, done)
WHERE inbox.id = input.id
"""
"""PostgreSQL: mark inbox events answered (done) or give them back (not done)."""

# SQLite: the same in two statements, the ids as a JSON array (json_each): one text for any
# number of ids, which sqlite3 keeps compiled.
FINISH_INBOX = """
UPDATE inbox SET done_at = :now, claimed_until = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
"""
RELEASE_INBOX = """
UPDATE inbox SET claimed_until = NULL WHERE id IN (SELECT value FROM json_each(:ids))
"""


INBOX_CHUNK = 200  # inbox rows per INSERT (5 parameters each; SQLite allows 32,766)


@cache
def put_inbox_sql(rows: int) -> str:
    """Insert ``rows`` inbox events (``:pN, :eN, :bN, :lN``: platform, event id, body, leased
    now); the ones stored before are skipped."""
    values = ",\n  ".join(
        f"(:p{i}, :e{i}, :b{i}, :now, CASE WHEN :l{i} THEN 1 ELSE 0 END, "
        f"CASE WHEN :l{i} THEN :lease END, CASE WHEN :l{i} THEN :owner END)"
        for i in range(rows)
    )
    return f"""
INSERT INTO inbox (platform, event_id, body, received_at, attempts, claimed_until, claimed_by)
VALUES {values}
ON CONFLICT (platform, event_id) DO NOTHING
RETURNING id, platform, event_id, body, attempts
"""  # noqa: S608 (no input in the text: only placeholders)


@dataclass(frozen=True, slots=True)
class Ending:
    """One turn's end: whose, the locale to note (None: leave it), the state as JSON."""

    user_id: int
    locale: str | None
    data: str


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

    def open_many(
        self, c: Connection, starts: list[tuple[str, str, str | None]], now: datetime
    ) -> list[tuple[bool, UserRow | None]]:
        """Claim each ``(platform, platform_user_id, event_id)``'s event (when it has one) and
        read the user: ``(claimed, user)`` for each; the user is None when they are new (or
        when the claim failed)."""
        if not starts:
            return []
        if not self._named:
            out: list[tuple[bool, UserRow | None]] = []
            for platform, platform_user_id, event_id in starts:
                if event_id is not None and not self.claim(c, platform, event_id, now):
                    out.append((False, None))
                else:
                    out.append((True, self.user(c, platform, platform_user_id)))
            return out
        params: dict[str, Any] = {
            "now": self._stamp(now),
            "n": list(range(len(starts))),
            "platforms": [platform for platform, _, _ in starts],
            "users": [user for _, user, _ in starts],
            "events": [event_id for _, _, event_id in starts],
        }
        opened = []
        for _, claimed, uid, locale, data in self._all(c, OPEN_PG, params):
            user = UserRow(int(uid), str(locale), data) if claimed and uid is not None else None
            opened.append((bool(claimed), user))
        return opened

    def close_many(
        self,
        c: Connection,
        endings: list[Ending],
        counts: dict[tuple[str, str], int],
        now: datetime,
    ) -> None:
        """End turns: mark each user seen (when a locale is given), save each state, and add
        ``counts`` (``{(day, key): n}``) to the dashboard counters."""
        if not endings and not counts:
            return
        if not self._named or not endings:
            for end in endings:
                if end.locale:
                    self.seen(c, end.user_id, end.locale, now)
                self.save_state(c, end.user_id, end.data, now)
            if counts:
                self._run(c, count_sql(len(counts)), **count_params(counts))
            return
        # Rows in a fixed order, for the same reason as the counters.
        ends = sorted(endings, key=lambda e: e.user_id)
        counted = sorted(counts.items())
        self._run(
            c,
            CLOSE_PG,
            now=self._stamp(now),
            users=[end.user_id for end in ends],
            locales=[end.locale for end in ends],
            datas=[end.data for end in ends],
            days=[day for (day, _), _ in counted],
            keys=[key for (_, key), _ in counted],
            counts=[n for _, n in counted],
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

    def put_inbox(
        self,
        c: Connection,
        rows: list[tuple[str, str, str, bool]],
        now: datetime,
        lease: datetime,
        owner: str,
    ) -> list[tuple[int, str, str, str, int]]:
        """Insert inbox rows ``(platform, event_id, body, leased)`` in one statement; an event
        stored before is skipped. Returns ``(id, platform, event_id, body, attempts)`` of each
        row inserted with a lease."""
        out: list[tuple[int, str, str, str, int]] = []
        leased = {(p, e) for p, e, _, lease_it in rows if lease_it}
        if self._named:
            params: dict[str, Any] = {
                "now": self._stamp(now), "lease": self._stamp(lease), "owner": owner,
                "p": [row[0] for row in rows], "e": [row[1] for row in rows],
                "b": [row[2] for row in rows], "l": [row[3] for row in rows],
            }  # fmt: skip
            return [
                (int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))
                for row in self._all(c, PUT_INBOX_PG, params)
                if (row[1], row[2]) in leased
            ]
        for start in range(0, len(rows), INBOX_CHUNK):
            chunk = rows[start : start + INBOX_CHUNK]
            values: dict[str, Any] = {
                "now": self._stamp(now), "lease": self._stamp(lease), "owner": owner,
            }  # fmt: skip
            for i, (platform, event_id, body, lease_it) in enumerate(chunk):
                values |= {f"p{i}": platform, f"e{i}": event_id, f"b{i}": body, f"l{i}": lease_it}
            for row in self._all(c, put_inbox_sql(len(chunk)), values):
                if (row[1], row[2]) in leased:
                    out.append((int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4])))
        return out

    def finish_inbox(
        self, c: Connection, done: Sequence[int], released: Sequence[int], now: datetime
    ) -> None:
        """Mark the inbox rows ``done`` answered and give ``released`` back (not answered)."""
        if self._named:
            ids = sorted({*done, *released})  # rows locked in one order: no deadlock
            finished = set(done)
            self._run(c, FINISH_INBOX_PG, now=self._stamp(now), ids=ids,
                      done=[i in finished for i in ids])  # fmt: skip
            return
        if done:
            self._run(c, FINISH_INBOX, now=self._stamp(now), ids=json.dumps(sorted(done)))
        if released:
            self._run(c, RELEASE_INBOX, ids=json.dumps(sorted(released)))

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

    def _all(self, c: Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self._execute(c, sql, params)
        try:
            return [tuple(row) for row in cursor.fetchall()]
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
