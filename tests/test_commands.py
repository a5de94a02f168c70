"""Commands in the user's own words, through the conversation core (SQLite): cancelling,
seeing one's sign-ups, deleting one's data, reaching the center and help, said in Japanese or
English, also while a form waits (``knowledge/commands.toml``, ``intents/commands.py``)."""

from __future__ import annotations

import pytest

from intents.conversation import Conversation
from knowledge.faq import FaqIndex
from storage import Store
from tests.helpers import open_call
from tests.test_understanding import CONTACT_DETAILS, say, tap


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("申し込みをキャンセルしたいです", "cancel_sign_up"),
        ("行けなくなりました", "cancel_sign_up"),
        ("申し込みを取り消したい", "cancel_sign_up"),
        ("I can't make it, please cancel", "cancel_sign_up"),
        ("予約を確認したい", "my_sign_ups"),
        ("私の申し込みはどうなってる？", "my_sign_ups"),
        ("What did I sign up for?", "my_sign_ups"),
        ("個人情報を削除してください", "delete_data"),
        ("私のデータを消してほしい", "delete_data"),
        ("Please erase my data", "delete_data"),
        ("担当者と話したい", "contact_center"),
        ("スタッフと話したい", "contact_center"),
        ("Can I talk to a person?", "contact_center"),
        pytest.param(
            "どう使えばいいの？",
            "help",
        ),
    ],
)
def test_commands_in_the_users_own_words(
    conversation: Conversation, text: str, intent: str
) -> None:
    assert say(conversation, text).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("予約した活動の一覧を見たい", "my_sign_ups"),  # a thing and an action, apart
        ("エントリーしたのってどれだっけ", "my_sign_ups"),
        ("わたしのよやくをみせて", "my_sign_ups"),  # kana, read with our words
        ("アカウントを削除したい", "delete_data"),
        ("わたしのでーたをけして", "delete_data"),
        ("センターの人に電話でつないでほしい", "contact_center"),
        ("このボットではどんなことができますか", "help"),
    ],
)
def test_a_command_said_as_a_thing_and_an_action(
    conversation: Conversation, text: str, intent: str
) -> None:
    assert say(conversation, text).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("申し込みの方法を教えて", "my_sign_ups"),  # how to sign up is not the list
        ("申し込みたい", "my_sign_ups"),  # 申し込(み) + (み)たい share a み: not 「見たい」
        ("もうしこみたいです", "my_sign_ups"),
        ("申込みたい", "my_sign_ups"),
        ("団体の登録を削除したい", "delete_data"),  # a group's entry, not my data
    ],
)
def test_a_thing_and_an_action_that_mean_something_else(
    conversation: Conversation, text: str, intent: str
) -> None:
    assert say(conversation, text).intent != intent


def test_a_question_about_cancelling_is_not_the_command(conversation: Conversation) -> None:
    assert say(conversation, "キャンセル料はかかる？").intent != "cancel_sign_up"


@pytest.mark.parametrize("text", ["人と話したいです", "Can I talk to a person?"])
def test_the_center_is_never_given_invented_contact_details(
    conversation: Conversation, text: str
) -> None:
    reply = say(conversation, text)
    assert reply.intent == "contact_center"
    assert not CONTACT_DETAILS.search(reply.as_plain_text()), reply.text


def test_the_centers_contact_is_given_when_it_is_set(
    sqlite_store: Store, faq_index: FaqIndex
) -> None:
    contact = "鎌倉市市民活動センター 0467-00-0000"
    bot = Conversation(sqlite_store, faq_index=faq_index, center_contact=contact)
    assert contact in say(bot, "担当者と話したい").text
    assert contact in say(bot, "Can I talk to a person?", user="u2").text


def test_deleting_data_while_a_form_waits_can_return_to_the_form(
    conversation: Conversation, sqlite_store: Store
) -> None:
    _, call_id = open_call(sqlite_store)
    asked = tap(conversation, f"os:{call_id}")
    assert asked.intent == "sign_up"
    reply = say(conversation, "データ削除")
    assert reply.intent == "delete_data"
    assert "f:resume" in [b.payload for b in reply.buttons()]
    back = tap(conversation, "f:resume")
    assert (back.intent, back.slots.get("step")) == ("sign_up", asked.slots["step"])
    assert [b.payload for b in back.buttons()] == [b.payload for b in asked.buttons()]


@pytest.mark.parametrize(
    "text", ["申し込みたい", "ボランティアに応募したい", "もうしこみたいです"]
)
def test_wanting_to_sign_up_shows_the_openings(conversation: Conversation, text: str) -> None:
    assert say(conversation, text).intent == "find_openings"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Please delete all my personal data.", "delete_data"),
        ("申し込み状況を教えていただけますか。", "my_sign_ups"),
        ("来週の土曜って何か申し込んでたっけ？", "my_sign_ups"),
        ("ひとと はなしたい", "contact_center"),
        ("機械じゃなくて人に相談したい", "contact_center"),
        ("日曜の浜そうじ、急に行けなくなったのでキャンセルします", "cancel_sign_up"),
        ("来週の子ども食堂の手伝い、申し込んだのを取り消したい", "cancel_sign_up"),
        ("人間のスタッフさんに相談したいです", "contact_center"),
    ],
)
def test_more_ways_of_saying_a_command(conversation: Conversation, text: str, intent: str) -> None:
    assert say(conversation, text).intent == intent


def test_what_is_available_is_a_search_not_a_definition(conversation: Conversation) -> None:
    """「What is …」 asks for a meaning; 「What is available?」 after a wish does not."""
    reply = say(conversation, "I want to help elderly people in Fukasawa. What is available?")
    assert reply.intent in ("find_groups", "find_openings")
    assert reply.slots.get("area") == "深沢地域"
    assert say(conversation, "What is kyodo?", user="u2").intent == "faq"


def test_human_rights_is_no_person_to_talk_to(conversation: Conversation) -> None:
    assert say(conversation, "Any volunteering about human rights?").intent != "contact_center"
