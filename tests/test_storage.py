"""Storage on SQLite and PostgreSQL alike: migrations, users, state, idempotency, counters."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables)
from storage import Store, migrate
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
