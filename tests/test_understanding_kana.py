"""Kana, slips and plurals: what a message typed without kanji, with an input method's slip or
in English plurals means (through the conversation core, SQLite). Each case failed once."""

from __future__ import annotations

import pytest

from intents.conversation import Conversation
from knowledge.fields import FieldIndex
from knowledge.terms import terms
from tests.test_understanding import WELFARE, say

ENVIRONMENT = "環境の保全を図る活動"
SCIENCE = "科学技術の振興を図る活動"
ECONOMY = "経済活動の活性化を図る活動"
CULTURE = "学術、文化、芸術又はスポーツの振興を図る活動"


def test_a_negation_in_kana_is_grammar_not_a_word() -> None:
    """「じゃない」's ない was read as 内 (市内), and 「ことになってる」's になっ as 担っ: the
    FAQ then ranked the entry on what is not a citizen activity first."""
    for text in ("市民活動って強制されるもんじゃないよね？", "何しなきゃいけないことになってるの"):
        said = terms(text)
        assert "w:内" not in said, said
        assert "w:担う" not in said, said


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [
        ("市民活動って強制されるもんじゃないよね？", "role-citizens-forced"),
        ("しみんかつどうにはさんかしなきゃいけないの？", "role-citizens-forced"),
        ("市って市民活動のために何しなきゃいけないことになってるの", "role-city"),
    ],
)
def test_questions_with_negations_find_their_entry(
    conversation: Conversation, text: str, faq_id: str
) -> None:
    reply = say(conversation, text)
    assert (reply.intent, reply.slots.get("faq_id")) == ("faq", faq_id), reply.slots


def test_a_short_word_in_kana_is_not_read_across_other_words() -> None:
    """ダンス in 「そうだんすれば」 and 絵画 in 「かいがんの」 are pieces of two other words."""
    fields = FieldIndex.load()
    assert fields.find("ぼらんてぃあをはじめたいけどどこにそうだんすればいい？") is None
    seaside = fields.find("かいがんの そうじ したい")
    assert seaside is not None
    assert seaside.field.code == "environment"
    for text, code in [
        ("かじわらで かいごの ぼらんてぃあだんたい", "welfare"),
        ("おおふなでこそだてのだんたい", "children"),
        ("材木座でアートイベントのスタッフ募集", "culture_sports"),
    ]:
        found = fields.find(text)
        assert found is not None, text
        assert found.field.code == code, text


@pytest.mark.parametrize(
    ("text", "intent", "field"),
    [
        ("ｽﾏﾎの使い方を高齢者に教えるｻｰｸﾙありますか", "find_groups", WELFARE),
        ("岡本で草刈りとか手伝えるの今度ある？", "find_openings", ENVIRONMENT),
        ("いわせで こんどの どようび そうじの おてつだい ある", "find_openings", ENVIRONMENT),
        ("今泉台で科学実験教室みたいな活動をしている団体", "find_groups", SCIENCE),
        ("Any groups supporting local startups or small businesses in Ofuna?", "find_groups",
         ECONOMY),
    ],
)  # fmt: skip
def test_searches_in_everyday_words(
    conversation: Conversation, text: str, intent: str, field: str
) -> None:
    reply = say(conversation, text)
    assert (reply.intent, reply.slots.get("field")) == (intent, field), reply.slots


def test_an_english_plural_of_a_short_word_is_not_that_word() -> None:
    """Plurals name a field (startups), but "its" is not IT."""
    fields = FieldIndex.load()
    assert fields.find("its groups") is None
    it = fields.find("IT groups")
    assert it is not None
    assert it.field.code == "it"


def test_kugenuma_is_outside_the_city(conversation: Conversation) -> None:
    reply = say(conversation, "くげぬまで かいがんの そうじ したい")
    assert reply.intent == "outside_city"
    assert reply.slots["place"] == "鵠沼"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("来週の申し込み 鳥消ししたい", "cancel_sign_up"),  # 鳥消し sounds like とりけし
        ("これ どうやって つかうの", "help"),
        ("このボットの使い方を教えて", "help"),
        ("退会したい", "delete_data"),
    ],
)
def test_commands_heard_through_slips(conversation: Conversation, text: str, intent: str) -> None:
    assert say(conversation, text).intent == intent


def test_a_word_that_sounds_like_a_command_is_not_one(conversation: Conversation) -> None:
    """大会 reads たいかい like 退会 (leave): one word, so no slip."""
    assert say(conversation, "明日の花火大会って開催される？").intent == "fallback"


def test_not_being_understood_names_the_survey_row(conversation: Conversation) -> None:
    """「わかってもらえない」 is the row 市民から活動に対する理解が得られない (3.9%)."""
    reply = say(conversation, "市民に活動をわかってもらえないって悩んでる団体、どのくらいいる？")
    assert "3.9%" in reply.text


def test_a_word_of_how_yields_to_a_word_of_what() -> None:
    """教室 and 勉強会 say how something is learnt: the field is what is learnt."""
    fields = FieldIndex.load()
    for text, code in [
        ("上町屋の近くで防災の勉強会やってる団体", "disaster"),
        ("岡本で子ども向けの工作教室を手伝える日", "science"),
        ("大船でパソコン教室", "it"),
        ("市民講座に出てみたい", "social_education"),  # nothing else named: learning it is
    ]:
        found = fields.find(text)
        assert found is not None, text
        assert found.field.code == code, text


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("予約してたビーチクリーンっていつだったっけ？", "my_sign_ups"),
        ("うっかり電話番号を登録しちゃったんだけど、消せる？", "delete_data"),
        ("電話で相談したいんだけど、だれかにつないでもらえる？", "contact_center"),
        ("ほかの地域の団体ともつないでもらえる？", "faq"),  # networking (4(4)), not a person
    ],
)
def test_commands_in_residents_words(conversation: Conversation, text: str, intent: str) -> None:
    assert say(conversation, text).intent == intent


@pytest.mark.parametrize("text", ["戸塚駅周辺で子ども食堂の手伝いしたい", "小坪でボランティア"])
def test_more_places_outside_the_city(conversation: Conversation, text: str) -> None:
    assert say(conversation, text).intent == "outside_city"
