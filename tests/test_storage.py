"""Storage on SQLite and PostgreSQL alike: migrations, users, state, idempotency, counters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from storage import Store, migrate
from storage.models import ConversationState, DailyCount, User
from storage.store import AlreadyHandled, TurnEnd, TurnStart
from storage.turns import TurnSql
from tests.helpers import in_threads


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_migrate_twice_is_harmless(store: Store) -> None:
    migrate(store.engine)
    assert store.count_users() == 0


def test_touch_user_creates_once_and_updates(store: Store) -> None:
    first = store.touch_user("line", "U1", "ja")
    again = store.touch_user("line", "U1", "en")
    assert first.is_new
    assert not again.is_new
    assert first.id == again.id
    assert again.locale == "en"
    assert store.touch_user("telegram", "U1", "ja").id != first.id


def test_first_messages_at_once_make_one_user(store: Store) -> None:
    ids = in_threads(8, lambda _: store.touch_user("line", "Usame", "ja").id)
    assert len(set(ids)) == 1
    assert store.count_users() == 1


def test_state_round_trip(store: Store) -> None:
    user = store.touch_user("web", "w1", "ja")
    assert store.open_turn("web", "w1", "ja")[1] == {}
    now = datetime.now(UTC)
    store.close_turn(
        user.id, {"choices": [["協働とは", "faq:term-kyodo"]], "n": 1}, pull_notices=False, now=now
    )
    store.close_turn(user.id, {"choices": [], "n": 2, "絵文字": "😀"}, pull_notices=False, now=now)
    assert store.open_turn("web", "w1", "ja")[1] == {"choices": [], "n": 2, "絵文字": "😀"}


def test_an_event_is_claimed_once_even_at_the_same_moment(store: Store) -> None:
    wins = in_threads(6, lambda _: store.claim_event("line", "01HXYZEVENT"))
    assert wins.count(True) == 1
    assert store.claim_event("line", "01HXYZEVENT") is False
    assert store.claim_event("telegram", "01HXYZEVENT") is True


def test_feedback_counters_lose_no_taps(store: Store) -> None:
    in_threads(10, lambda i: store.record_feedback("term-kyodo", helpful=i % 2 == 0))
    store.record_feedback("kyodo-principles", helpful=False)
    assert store.feedback_counts() == {"term-kyodo": (5, 5), "kyodo-principles": (0, 1)}


def test_unanswered_questions_are_masked_and_capped(store: Store) -> None:
    store.record_unanswered("電話は 0467-23-3000 です。" + "あ" * 900, "x", "ja")
    store.record_unanswered("mail me: someone@example.org", "y", "en")
    newest, older = store.unanswered()
    assert newest.text == "mail me: [メール]"
    assert "0467-23-3000" not in older.text
    assert len(older.text) == 500


def test_a_turn_claims_its_event_once(store: Store) -> None:
    store.open_turn("line", "U7", "ja", event_id="01HTURN")
    with pytest.raises(AlreadyHandled):
        store.open_turn("line", "U7", "ja", event_id="01HTURN")
    outcomes = in_threads(6, lambda i: _opens(store, f"U{i}", "01HRACE"))
    assert outcomes.count(True) == 1


def _opens(store: Store, user: str, event_id: str) -> bool:
    try:
        store.open_turn("line", user, "ja", event_id=event_id)
    except AlreadyHandled:
        return False
    return True


def test_a_first_turn_creates_the_user_with_the_locale(store: Store) -> None:
    user, state = store.open_turn("telegram", "T1", "en", event_id="e1")
    assert (user.is_new, user.locale, state) == (True, "en", {})
    again, _ = store.open_turn("telegram", "T1", "", event_id="e2")
    assert (again.is_new, again.id, again.locale) == (False, user.id, "en")


def test_the_end_of_a_turn_saves_state_seen_time_and_counts(store: Store) -> None:
    """The turn's statements run on the driver's cursor: what they write must read back
    through the models exactly as SQLAlchemy would have written it."""
    user, _ = store.open_turn("line", "U8", "ja", event_id="e8")
    day = date(2026, 12, 5)
    before = datetime.now(UTC)
    for _ in range(3):
        store.close_turn(
            user.id,
            {"step": "名前"},
            pull_notices=False,
            now=before,
            counters=(day, ["messages", "intent:faq", "faq:term-kyodo", "messages"]),
            locale="en",
        )
    store.close_turn(user.id, {"step": 2}, pull_notices=False, now=before, locale=None)
    after = datetime.now(UTC)
    with store.session() as s:
        row = s.get(User, user.id)
        saved = s.get(ConversationState, user.id)
        counts = {
            c.key: c.count
            for c in s.exec(select(DailyCount).where(DailyCount.day == "2026-12-05"))
        }
    assert row is not None
    assert saved is not None
    assert row.locale == "en"
    assert row.active
    assert before <= row.last_seen_at <= after
    assert row.last_seen_at.tzinfo is not None
    assert before <= saved.updated_at <= after
    assert saved.data == '{"step": 2}'
    assert counts == {"messages": 3, "intent:faq": 3, "faq:term-kyodo": 3}
    assert store.dashboard(day).per_day[-1] == ("2026-12-05", 3)


def test_only_the_turn_bookkeeping_skips_the_disk_flush(store: Store) -> None:
    """PostgreSQL: sign-ups and calls commit on the main pool and wait for the WAL flush; a
    turn's own bookkeeping does not (storage.db.create_turn_engine). SQLite: every
    transaction is synchronous=NORMAL in WAL mode (storage.db)."""
    if store.engine.dialect.name == "sqlite":
        with store.connection() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        return
    with store.connection() as c:
        assert c.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    with store._turn_connection() as c:
        assert c.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        assert c.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
        assert c.connection.driver_connection.autocommit is True


def test_a_batch_of_turns_begins_and_ends_together(store: Store) -> None:
    """Group commit: several users' turns in one beginning and one end (one statement each
    on PostgreSQL): each gets its own user, state and claim; counters add up."""
    known, _ = store.open_turn("line", "Uknown", "ja", event_id="seen-before")
    store.close_turn(known.id, {"step": "old"}, pull_notices=False, now=datetime.now(UTC))
    opened = store.open_turns(
        [
            TurnStart("line", "Uknown", "en", "ev-1"),
            TurnStart("line", "Unew", "ja", "ev-2"),
            TurnStart("line", "Uother", "ja", "seen-before"),  # a redelivered event id
            TurnStart("web", "w-no-event", "ja", None),
        ]
    )
    assert isinstance(opened[2], AlreadyHandled)
    begun = [o for o in opened if not isinstance(o, AlreadyHandled)]
    (u1, s1), (u2, s2), (u4, s4) = begun
    assert (u1.id, u1.is_new, u1.locale, s1) == (known.id, False, "en", {"step": "old"})
    assert (u2.is_new, s2) == (True, {})
    assert (u4.is_new, s4) == (True, {})
    assert len({u1.id, u2.id, u4.id}) == 3
    assert store.claim_event("line", "ev-1") is False  # claimed by the batch
    assert store.claim_event("line", "ev-2") is False

    now = datetime.now(UTC)
    day = date(2026, 12, 6)
    store.close_turns(
        [
            TurnEnd(u1.id, {"n": 1}, False, now, (day, ["messages", "intent:faq"]), "en"),
            TurnEnd(u2.id, {"n": 2}, False, now, (day, ["messages", "intent:groups"]), "ja"),
            TurnEnd(u4.id, {"n": 4}, False, now, (day, ["messages", "messages"]), None),
        ]
    )
    assert store.open_turn("line", "Uknown", "")[1] == {"n": 1}
    assert store.open_turn("line", "Unew", "")[1] == {"n": 2}
    assert store.open_turn("web", "w-no-event", "")[1] == {"n": 4}
    with store.session() as s:
        rows = s.exec(select(DailyCount).where(DailyCount.day == "2026-12-06")).all()
        counts = {c.key: c.count for c in rows}
        locales = {u.platform_user_id: u.locale for u in s.exec(select(User)).all()}
    assert counts == {"messages": 3, "intent:faq": 1, "intent:groups": 1}
    assert locales == {"Uknown": "en", "Unew": "ja", "w-no-event": "ja"}


def test_batches_ending_at_once_do_not_deadlock_on_the_counters(store: Store) -> None:
    """Two threads' batches upsert the same counters; in different orders they deadlocked
    on PostgreSQL (found by bench/line_load.py). Counters are written in sorted order."""
    users = [store.touch_user("line", f"Ud{i}", "ja").id for i in range(8)]
    pool = ["messages", *(f"intent:{n}" for n in range(6)), *(f"faq:{n}" for n in range(12))]
    day = date(2026, 12, 7)
    written: list[list[str]] = [[] for _ in range(4)]

    def ends(worker: int) -> int:
        rng = random.Random(worker)
        for _ in range(40):
            batch = []
            for user_id in users[worker * 2 : worker * 2 + 2]:
                keys = rng.sample(pool, rng.randint(3, len(pool)))
                written[worker] += keys
                batch.append(TurnEnd(user_id, {}, False, datetime.now(UTC), (day, keys)))
            store.close_turns(batch)
        return worker

    assert sorted(in_threads(4, ends)) == [0, 1, 2, 3]
    expected = Counter(key for keys in written for key in keys)
    with store.session() as s:
        rows = s.exec(select(DailyCount).where(DailyCount.day == "2026-12-07")).all()
    assert {c.key: c.count for c in rows} == expected


def test_a_batch_of_any_size_is_one_statement_text_on_postgresql(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a batch's rows come as arrays: the statement's text is the same for 1
    row and for 64. A VALUES list per size was parsed anew on every call (psycopg caches only
    texts up to 4 kB with up to 50 parameters) and was never prepared."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the arrays are PostgreSQL's; SQLite runs one statement per row")
    texts: list[tuple[str, int]] = []
    real = TurnSql._execute

    def record(self: TurnSql, c: object, sql: str, params: dict[str, object]) -> object:
        texts.append((sql, len(params)))
        return real(self, c, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(TurnSql, "_execute", record)
    now = datetime.now(UTC)
    for size in (1, 3, 64):
        begun = store.open_turns(
            [TurnStart("line", f"Us{size}-{i}", "ja", f"s{size}-{i}") for i in range(size)]
        )
        refs = [ref for ref, _ in begun if not isinstance(ref, AlreadyHandled)]  # type: ignore[misc]
        keys = [f"intent:{k}" for k in range(size)]
        store.close_turns([TurnEnd(r.id, {"n": size}, False, now, (now.date(), keys), "ja")
                           for r in refs])  # fmt: skip
        stored = store.put_inbox("line", [(f"e{size}-{i}", "{}") for i in range(size)], lease=True)
        store.finish_inbox([e.id for e in stored[:-1]], [stored[-1].id])
    by_text = Counter(sql for sql, _ in texts)
    # begin, a new user, end, inbox in, inbox done: one text each, whatever the sizes
    assert len(by_text) == 5, by_text.keys()
    assert all(len(sql) <= 4096 and n <= 50 for sql, n in texts)
    assert store.open_turn("line", "Us64-63", "")[1] == {"n": 64}
    assert store.inbox_pending("line") == 3  # one given back per size
