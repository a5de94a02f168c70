"""The conversation core end to end (SQLite): replies, bad input, state and feedback."""

from __future__ import annotations

import pytest

from intents.conversation import MAX_INPUT, Conversation
from intents.types import MAX_CHOICES, Inbound, Reply
from knowledge.faq import FaqIndex, load_entries
from storage import Store

LINE_TEXT_LIMIT = 5000


def say(conversation: Conversation, text: str, user: str = "u1", **kw: str) -> Reply:
    return conversation.handle(Inbound("test", user, text=text, **kw))


def tap(conversation: Conversation, payload: str, user: str = "u1") -> Reply:
    return conversation.handle(Inbound("test", user, payload=payload))


def test_faq_answer_carries_its_source_and_choices(conversation: Conversation) -> None:
    reply = say(conversation, "協働の原則ってなに？")
    assert reply.intent == "faq"
    assert reply.slots["faq_id"] == "kyodo-principles"
    assert reply.source is not None
    assert reply.source.startswith("指針 5(2)")
    assert reply.text.endswith(f"（{reply.source}）")
    labels = [c.label for c in reply.choices]
    assert "役に立った" in labels
    assert "ちがう" in labels
    assert any(c.payload.startswith("faq:") for c in reply.choices)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("😀🎉👍", "unreadable"),
        ("!!!???", "unreadable"),
        ("あ" * 10_000, "too_long"),
        ("\x00\x07\x1b[31m", "not_understood"),
        ("\x00\x07\x1b\x7f", "empty"),
    ],
)
def test_bad_input_gets_a_clear_reply(conversation: Conversation, text: str, reason: str) -> None:
    reply = say(conversation, text)
    assert (reply.intent, reply.slots["reason"]) == ("fallback", reason)
    assert reply.text
    assert len(reply.as_plain_text()) < LINE_TEXT_LIMIT
    assert reply.choices, "offer the menu so the user is never stuck"


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "'; DROP TABLE users; --",
        "協働' OR 1=1 --",
        "<b>補償制度</b>",
        "\u202e逆向き\u200b文字",
        "𠮷野家の𩸽定食",  # characters outside the BMP
    ],
)
def test_hostile_looking_text_is_just_text(
    conversation: Conversation, sqlite_store: Store, text: str
) -> None:
    reply = say(conversation, text)
    assert len(reply.as_plain_text()) < LINE_TEXT_LIMIT
    assert sqlite_store.count_users() == 1  # the users table is still there


def test_html_in_a_question_is_stored_verbatim_not_executed(
    conversation: Conversation, sqlite_store: Store
) -> None:
    say(conversation, "<img src=x onerror=alert(1)>の予約")
    (row,) = sqlite_store.unanswered()
    assert row.text == "<img src=x onerror=alert(1)>の予約"


def test_long_but_allowed_input_is_routed(conversation: Conversation) -> None:
    text = "協働の原則について知りたいです。" + "よろしくお願いします。" * 20
    assert len(text) <= MAX_INPUT
    assert say(conversation, text).slots.get("faq_id") == "kyodo-principles"


def test_off_topic_falls_back_and_is_recorded_without_who_asked(
    conversation: Conversation, sqlite_store: Store
) -> None:
    reply = say(
        conversation, "明日の鎌倉の天気は？ 090-1234-5678 a@example.com", user="secret-user"
    )
    assert reply.intent == "fallback"
    assert 0 < len(reply.choices) <= MAX_CHOICES
    (row,) = sqlite_store.unanswered()
    assert "天気" in row.text
    assert "090-1234-5678" not in row.text
    assert "a@example.com" not in row.text
    assert "secret-user" not in repr(row.model_dump())


def test_facility_details_are_not_invented(
    conversation: Conversation, sqlite_store: Store
) -> None:
    reply = say(conversation, "市民活動センターに駐車場はありますか")
    assert (reply.intent, reply.slots["reason"]) == ("fallback", "facility_details")
    assert "駐車場" in reply.text
    assert reply.source is None
    assert [q.text for q in sqlite_store.unanswered()] == ["市民活動センターに駐車場はありますか"]


def test_greeting_thanks_help(conversation: Conversation) -> None:
    assert say(conversation, "こんにちは").intent == "greeting"
    assert say(conversation, "ありがとうございました！").intent == "thanks"
    assert say(conversation, "ﾍﾙﾌﾟ").intent == "help"
    assert say(conversation, "メニュー").intent == "help"
    assert tap(conversation, "menu").intent == "menu"


def test_a_greeting_with_a_question_answers_the_question(conversation: Conversation) -> None:
    assert say(conversation, "こんにちは、協働って何ですか").slots.get("faq_id") == "term-kyodo"


def test_typing_a_number_taps_that_choice(conversation: Conversation) -> None:
    menu = tap(conversation, "menu")
    n, choice = next((i, c) for i, c in enumerate(menu.choices, 1) if c.payload.startswith("faq:"))
    reply = say(conversation, str(n))
    assert reply.slots.get("faq_id") == choice.payload.removeprefix("faq:")


def test_state_survives_a_new_process(sqlite_store: Store, faq_index: object) -> None:
    first = Conversation(sqlite_store)
    menu = tap(first, "menu")
    n, choice = next((i, c) for i, c in enumerate(menu.choices, 1) if c.payload.startswith("faq:"))
    second = Conversation(sqlite_store)  # another server process on the same database
    assert say(second, str(n)).slots.get("faq_id") == choice.payload.removeprefix("faq:")


def test_feedback_is_counted_once_per_answer(
    conversation: Conversation, sqlite_store: Store
) -> None:
    reply = say(conversation, "補償制度について")
    entry = reply.slots["faq_id"]
    up = next(c for c in reply.choices if c.label == "役に立った")
    assert tap(conversation, up.payload).intent == "faq_feedback"
    tap(conversation, up.payload)  # a double tap
    assert sqlite_store.feedback_counts()[entry] == (1, 0)


def test_not_helpful_passes_the_question_to_the_center(
    conversation: Conversation, sqlite_store: Store
) -> None:
    reply = say(conversation, "基金はいつできるの")
    down = next(c for c in reply.choices if c.label == "ちがう")
    tap(conversation, down.payload)
    assert sqlite_store.feedback_counts()[reply.slots["faq_id"]] == (0, 1)
    assert [q.text for q in sqlite_store.unanswered()] == ["基金はいつできるの"]


def test_stale_or_forged_payloads_are_handled(conversation: Conversation) -> None:
    assert tap(conversation, "faq:no-such-entry").intent == "stale_choice"
    assert tap(conversation, "fb:term-kyodo:7").intent == "stale_choice"
    assert tap(conversation, "x" * 5000).intent == "stale_choice"


def test_english_question_gets_an_english_answer(conversation: Conversation) -> None:
    reply = say(conversation, "What are the principles of collaboration?")
    assert reply.slots.get("faq_id") == "kyodo-principles"
    assert reply.locale == "en"
    assert "Source" in reply.text
    assert reply.text.isascii() is False or "principle" in reply.text.lower()


def test_locale_from_the_platform_picks_the_language(conversation: Conversation) -> None:
    reply = conversation.handle(Inbound("test", "u9", payload="help", locale="en-US"))
    assert reply.text.startswith("What I can do")


def test_a_taught_phrasing_is_not_hidden_by_a_remembered_answer() -> None:
    """Search results are cached; teaching the index a phrasing must drop that cache."""
    entries = load_entries()
    index = FaqIndex([e for e in entries if e.id in ("term-kyodo", "center-what")])
    question = "ゆるキャラの名前を教えて"
    before = index.search(question)
    assert index.search(question) is before  # the second time from the cache
    assert before.best is None or before.best.fuzz < 1.0  # not yet one of its phrasings
    index.add_phrasing("center-what", question)
    after = index.search(question)
    assert after is not before
    assert after.best is not None
    assert after.best.entry.id == "center-what"
    assert after.best.fuzz == 1.0


def test_a_reply_survives_a_database_failure_at_the_end_of_its_turn(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a handler did is committed by then (a sign-up, say): the user must hear of it."""
    calls: list[int] = []

    def broken(ends: list[object]) -> list[list[str]]:
        calls.append(len(ends))
        raise ConnectionError("database went away")

    monkeypatch.setattr("intents.conversation.RETRY_AFTER", 0)
    monkeypatch.setattr(conversation.store, "close_turns", broken)
    reply = conversation.handle(Inbound("web", "w-broken", text="協働ってなに？"))
    assert reply.intent == "faq"
    assert calls == [1, 1]  # tried twice


def test_a_hiccup_at_the_beginning_is_retried_once(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = conversation.store.open_turns
    failures = [ConnectionError("connection reset")]

    def flaky(starts: list[object]) -> object:
        if failures:
            raise failures.pop()
        return real(starts)  # type: ignore[arg-type]

    monkeypatch.setattr("intents.conversation.RETRY_AFTER", 0)
    monkeypatch.setattr(conversation.store, "open_turns", flaky)
    assert conversation.handle(Inbound("web", "w-flaky", text="協働ってなに？")).intent == "faq"


@pytest.mark.parametrize(
    ("typed", "intent"),
    [("ボランティアをさがす", "find_openings"), ("ﾎﾞﾗﾝﾃｨｱをさがす", "find_openings"),
     ("団体をさがす", "find_groups"), ("予約確認", "my_sign_ups"),
     ("Volunteering", "find_openings")],
)  # fmt: skip
def test_a_menu_label_typed_after_an_answer_does_what_the_menu_does(
    conversation: Conversation, typed: str, intent: str
) -> None:
    """The last answer's follow-up context must not turn the rich menu's words into a
    question about them (「ボランティアをさがす」 after 「協働の原則は」 gave an FAQ answer)."""
    assert say(conversation, "協働の原則は").intent == "faq"
    assert say(conversation, typed).intent == intent
