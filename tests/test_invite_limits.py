"""Invite codes cannot be guessed: a few wrong codes an hour per user, then none is looked up,
a right one neither, until the hour has passed; held in the database, so a second process
sees it too. On SQLite and PostgreSQL, through the store and through the conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intents.conversation import Conversation
from intents.types import Inbound
from knowledge.messages import Messages
from storage import Store, create_db_engine
from storage.representatives import INVITE_TRIES, INVITE_WINDOW
from storage.store import GroupRecord
from tests.helpers import in_threads

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WRONG = ["ABCD-EFGH", "WXYZ-2345", "HJKL-MNPQ", "RSTU-VW67", "QQQQ-QQQQ", "ZZZZ-2222"]


def _group(store: Store) -> str:
    store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    code, _ = store.issue_invite("umi", NOW) or ("", NOW)
    return code


def test_after_five_wrong_codes_even_the_right_one_waits_an_hour(store: Store) -> None:
    code = _group(store)
    user = store.touch_user("line", "Uguesser", "ja").id
    outcomes = [store.redeem_invite(user, wrong, NOW)[0] for wrong in WRONG[:INVITE_TRIES]]
    assert outcomes == ["invalid"] * INVITE_TRIES
    assert store.redeem_invite(user, code, NOW + timedelta(minutes=59)) == ("limited", None)
    assert store.represented_groups(user) == []
    someone_else = store.touch_user("line", "Urep", "ja").id  # the limit is per user
    assert store.redeem_invite(someone_else, WRONG[0], NOW)[0] == "invalid"
    assert store.redeem_invite(user, code, NOW + INVITE_WINDOW + timedelta(seconds=1)) == (
        "linked",
        "海の会",
    )


def test_the_limit_holds_in_another_process(store: Store, db_url: str) -> None:
    code = _group(store)
    user = store.touch_user("line", "Uguesser", "ja").id
    for wrong in WRONG[:INVITE_TRIES]:
        store.redeem_invite(user, wrong, NOW)
    other = Store(create_db_engine(db_url))  # a second server process, same database
    try:
        assert other.redeem_invite(user, code, NOW + timedelta(minutes=1))[0] == "limited"
    finally:
        other.close()


def test_wrong_codes_at_once_cannot_slip_past_the_limit(store: Store) -> None:
    _group(store)
    user = store.touch_user("line", "Uguesser", "ja").id
    outcomes = in_threads(12, lambda i: store.redeem_invite(user, WRONG[i % 6], NOW)[0])
    assert sorted(map(str, outcomes)) == ["invalid"] * INVITE_TRIES + ["limited"] * 7


def test_the_conversation_says_to_wait_or_ask_the_center(store: Store) -> None:
    code = _group(store)
    bot = Conversation(store, clock=lambda: NOW)
    messages = Messages.load()

    def say(text: str, locale: str = "ja") -> str:
        return bot.handle(Inbound("test", "guesser", text=text, locale=locale)).text

    for wrong in WRONG[:INVITE_TRIES]:
        assert say(f"招待コード {wrong}") == messages.get("recruit_code_invalid", "ja")
    limited = say(f"招待コード {code}")
    assert limited == messages.get("recruit_code_limited", "ja")
    assert "1時間" in limited
    assert "市民活動センター" in limited
    english = say(f"My invite code is {code}", "en")
    assert english == messages.get("recruit_code_limited", "en")
    assert "hour" in english
    bot.clock = lambda: NOW + INVITE_WINDOW + timedelta(minutes=1)
    assert "代表者として登録しました" in say(f"招待コード {code}")
