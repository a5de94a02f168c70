"""How residents reach the 市民活動センター: the operator's details (CENTER_FILE, CENTER_CONTACT)
in the contact answer, the help and the FAQ answers that send people to the official
information, and nothing invented when they are not set; and the help's one-tap 「個人情報の
扱い」 and 「データ削除」."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from bot.runtime import open_conversation
from intents.conversation import Conversation
from intents.types import MAX_CHOICES, Inbound, Reply
from knowledge.center import CenterDetails, CenterFileError, CenterSite, load_center
from knowledge.faq import FaqIndex
from storage import Store

ROOT = Path(__file__).resolve().parents[1]
# Made-up values, clearly not the center's: the tests only check they are passed through.
DETAILS = CenterDetails(
    sites=(CenterSite("テスト窓口", "テスト県テスト市1-2-3", "000-0000-0000", "テスト時間"),),
    web="https://center.example.jp/",
    guideline_url="https://city.example.jp/guideline.html",
    ordinance_url="https://city.example.jp/ordinance.html",
)
PHONE = re.compile(r"\d{2,4}-\d{2,4}-\d{3,4}")
URL = re.compile(r"https?://")


def say(c: Conversation, text: str, user: str = "u1", locale: str = "ja") -> Reply:
    return c.handle(Inbound("test", user, text=text, locale=locale))


def tap(c: Conversation, payload: str, user: str = "u1") -> Reply:
    return c.handle(Inbound("test", user, payload=payload))


@pytest.fixture
def told(sqlite_store: Store, faq_index: FaqIndex) -> Conversation:
    """The core with the operator's center details set."""
    return Conversation(sqlite_store, faq_index=faq_index, center=DETAILS)


def test_the_contact_answer_gives_what_is_set_and_nothing_else(
    conversation: Conversation, told: Conversation
) -> None:
    unknown = say(conversation, "担当者と話したい")
    assert unknown.intent == "contact_center"
    assert not PHONE.search(unknown.text)
    assert not URL.search(unknown.text)
    known = say(told, "担当者と話したい")
    assert known.intent == "contact_center"
    for line in ("■ テスト窓口", "住所：テスト県テスト市1-2-3", "電話：000-0000-0000",
                 "受付時間：テスト時間", "ウェブサイト：https://center.example.jp/",
                 "指針の全文：https://city.example.jp/guideline.html",
                 "つながる鎌倉条例の全文：https://city.example.jp/ordinance.html"):  # fmt: skip
        assert line in known.text.splitlines(), line
    english = say(told, "Can I talk to a person?", user="u2", locale="en")
    assert "Phone: 000-0000-0000" in english.text


@pytest.mark.parametrize(
    "question",
    ["市民活動センターって何時から開いてる？", "市民活動センターの電話番号を教えて",
     "センターはどこにありますか", "せんたーのじゅうしょ", "センターって何曜日が休み？",
     "What are the center's opening hours?"],
)  # fmt: skip
def test_the_centers_hours_phone_and_address_are_the_operators_never_an_faq(
    conversation: Conversation, told: Conversation, question: str
) -> None:
    """The guideline says what the center does, not when it opens or where: those come
    from the settings, or the bot says it does not know them."""
    locale = "en" if question.isascii() else "ja"
    unknown = say(conversation, question, locale=locale)
    assert unknown.intent == "contact_center"
    assert not PHONE.search(unknown.text)
    assert "000-0000-0000" in say(told, question, locale=locale).text


@pytest.mark.parametrize(
    ("question", "entry"),
    [("センターで会議室借りられる？", "place-where"), ("市民活動センターって何？", "center-what")],
)
def test_what_the_center_does_is_still_the_guidelines(
    conversation: Conversation, question: str, entry: str
) -> None:
    reply = say(conversation, question)
    assert (reply.intent, reply.slots.get("faq_id")) == ("faq", entry)


def test_only_the_links_set_are_given_with_the_honest_unknown(
    sqlite_store: Store, faq_index: FaqIndex
) -> None:
    links_only = CenterDetails(guideline_url="https://city.example.jp/guideline.html")
    bot = Conversation(sqlite_store, faq_index=faq_index, center=links_only)
    reply = say(bot, "担当者と話したい")
    assert reply.text.startswith(bot.messages.get("contact_unknown", "ja"))
    assert "指針の全文：https://city.example.jp/guideline.html" in reply.text


def test_center_contact_is_kept_as_the_note(sqlite_store: Store, faq_index: FaqIndex) -> None:
    bot = Conversation(
        sqlite_store, faq_index=faq_index, center=DETAILS, center_contact="窓口へはテストで"
    )
    text = say(bot, "担当者と話したい").text
    assert "電話：000-0000-0000" in text
    assert "窓口へはテストで" in text


def test_the_help_gives_the_details_only_when_set(
    conversation: Conversation, told: Conversation
) -> None:
    plain = say(conversation, "ヘルプ").text
    assert plain == conversation.messages.get("help", "ja")
    helped = say(told, "ヘルプ").text
    assert helped.startswith(plain)
    assert "電話：000-0000-0000" in helped
    assert "指針の全文：https://city.example.jp/guideline.html" in helped


def test_faq_answers_that_send_people_to_the_official_information(
    conversation: Conversation, told: Conversation
) -> None:
    entry = conversation.faq.get("center-consult")
    assert entry is not None
    assert "公式情報" in entry.answer
    plain = tap(conversation, "faq:center-consult")
    assert "電話：" not in plain.text
    assert not URL.search(plain.text)
    assert "contact" not in [c.payload for c in plain.choices]  # no button to 「分かりません」

    answered = tap(told, "faq:center-consult")
    assert answered.text.startswith(plain.text.split("\n（")[0])  # the answer as written …
    assert "電話：000-0000-0000" in answered.text  # … then what the operator set
    assert "指針の全文：https://city.example.jp/guideline.html" in answered.text
    assert answered.choices[0].payload == "contact"
    assert answered.choices[0].label == "センターの連絡先"
    assert tap(told, "contact").intent == "contact_center"
    # An answer that does not send anyone anywhere stays as it is.
    assert "電話：" not in tap(told, "faq:term-kyodo").text


def test_center_file_and_contact_from_the_environment(tmp_path: Path) -> None:
    center = tmp_path / "center.toml"
    center.write_text(
        'web = "https://center.example.jp/"\nguideline_url = ""\n'
        '[[site]]\nname = "テスト窓口"\nphone = "000-0000-0000"\n'
        '[[site]]\nname = "名前だけ"\n',
        encoding="utf-8",
    )
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "CENTER_FILE": str(center),
            "CENTER_CONTACT": "テストの案内",
            "SAMPLE_GROUPS": "0",
        }
    )
    details = settings.center()
    assert details.web == "https://center.example.jp/"
    assert details.sites == (CenterSite("テスト窓口", phone="000-0000-0000"),)  # a name alone goes
    assert details.note == "テストの案内"
    conversation = open_conversation(settings)
    try:
        text = say(conversation, "担当者と話したい").text
    finally:
        conversation.store.close()
    assert "電話：000-0000-0000" in text
    assert "テストの案内" in text


def test_the_example_file_says_nothing(tmp_path: Path) -> None:
    example = load_center(ROOT / "center.example.toml")
    assert example == CenterDetails()
    assert not example.reachable
    assert not example.has_texts
    typo = tmp_path / "typo.toml"
    typo.write_text('[[site]]\nphon = "000"\n', encoding="utf-8")
    with pytest.raises(CenterFileError, match="unknown keys"):
        load_center(typo)
    with pytest.raises(CenterFileError, match="CENTER_FILE"):
        Settings(database_url="sqlite://", center_file=str(tmp_path / "missing.toml")).center()


# --- 個人情報の扱い and データ削除, one tap from the help -------------------------------------


def test_the_help_offers_the_privacy_notice_and_deleting(conversation: Conversation) -> None:
    helped = say(conversation, "ヘルプ")
    payloads = [c.payload for c in helped.choices]
    assert payloads[:2] == ["privacy", "del"]
    assert [c.label for c in helped.choices[:2]] == ["個人情報の扱い", "データ削除"]
    assert len(helped.choices) <= MAX_CHOICES
    assert payloads[-1] == "lang:en"  # the language switch stays
    notice = tap(conversation, "privacy")
    assert notice.intent == "privacy"
    assert "30日" in notice.text  # RETENTION_DAYS' default
    assert "「データ削除」" in notice.text
    assert notice.choices[0].payload == "del"
    asked = tap(conversation, "del")
    assert asked.intent == "delete_data"
    assert "del:yes" in [c.payload for c in asked.choices]


def test_the_privacy_notice_says_the_retention_set(
    sqlite_store: Store, faq_index: FaqIndex
) -> None:
    bot = Conversation(sqlite_store, faq_index=faq_index, retention_days=7)
    text = tap(bot, "privacy").text
    assert "7日" in text
    assert "30日" not in text
    english = bot.handle(Inbound("test", "u2", payload="privacy", locale="en"))
    assert "7 days" in english.text


def test_the_privacy_notice_in_the_users_words(conversation: Conversation) -> None:
    for text in ("個人情報の扱いは？", "プライバシーについて知りたい", "How do you use my data?"):
        assert say(conversation, text).intent == "privacy", text
    for text in ("個人情報を削除して", "データ削除"):  # deleting stays deleting
        assert say(conversation, text).intent == "delete_data", text
