"""Understanding what residents type, through the conversation core (SQLite): searches without
the word 団体, places outside the city, a language that stays put, English, the guideline's
figures, follow-ups, messages of several sentences, procedures the guideline does not explain,
and the example questions the bot itself suggests (commands: ``tests/test_commands.py``;
figures, follow-ups, definitions: ``tests/test_understanding_faq.py``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import knowledge
from intents.conversation import Conversation
from intents.types import Inbound, Reply

SEARCHES = {"find_groups", "find_openings"}
AREAS = {"鎌倉地域", "腰越地域", "深沢地域", "大船地域", "玉縄地域"}
# The fields' official names (knowledge/fields.toml `name`, the NPO law's wording).
CHILDREN = "子どもの健全育成を図る活動"
ENVIRONMENT = "環境の保全を図る活動"
WELFARE = "保健、医療又は福祉の増進を図る活動"
SAFETY = "地域安全活動"
DISASTER = "災害救援活動"
LEARNING = "社会教育の推進を図る活動"
# Anything that looks like a phone number, a postal code or a street address.
CONTACT_DETAILS = re.compile(r"\d{2,5}-\d{1,4}-\d{3,4}|〒|\d+丁目|\d+番地")


def say(conversation: Conversation, text: str, user: str = "u1") -> Reply:
    return conversation.handle(Inbound("test", user, text=text))


def tap(conversation: Conversation, payload: str, user: str = "u1") -> Reply:
    return conversation.handle(Inbound("test", user, payload=payload))


def first_line(reply: Reply) -> str:
    return reply.text.strip().splitlines()[0]


def entry_section(conversation: Conversation, faq_id: str) -> str:
    entry = conversation.faq.get(faq_id)
    assert entry is not None, faq_id
    return entry.section


def section(conversation: Conversation, reply: Reply) -> str:
    """The guideline section of the FAQ entry a reply answers with."""
    assert reply.intent == "faq", (reply.intent, reply.slots, reply.text[:80])
    return entry_section(conversation, reply.slots["faq_id"])


def xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(reason=reason, strict=True)


# --- 1. searches without the word 団体 ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "area", "field"),
    [
        ("七里ガ浜でごみ拾い", "腰越地域", ENVIRONMENT),
        ("大船駅の近くで子育て支援", "大船地域", CHILDREN),
        ("北鎌倉で環境保全", "大船地域", ENVIRONMENT),
        ("西鎌倉 子育て", "腰越地域", CHILDREN),
        ("こしごえで こどもしょくどう", "腰越地域", CHILDREN),
        ("たまなわで ぼうはん", "玉縄地域", SAFETY),
        ("ｺｼｺﾞｴ ｺﾞﾐﾋﾛｲ", "腰越地域", ENVIRONMENT),
        ("ｵｵﾌﾅ ｺｿﾀﾞﾃ", "大船地域", CHILDREN),
    ],
)
def test_a_field_word_with_a_place_is_a_search(
    conversation: Conversation, text: str, area: str, field: str
) -> None:
    reply = say(conversation, text)
    assert reply.intent in SEARCHES, (reply.intent, reply.text[:80])
    assert (reply.slots.get("area"), reply.slots.get("field")) == (area, field)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("ごみ拾いに参加したい", ENVIRONMENT),
        ("防災の活動に参加したい", DISASTER),
        ("読書会に参加したい", LEARNING),
        ("手話を学べるところに参加したい", WELFARE),
    ],
)
def test_a_field_word_with_a_wish_is_a_search(
    conversation: Conversation, text: str, field: str
) -> None:
    reply = say(conversation, text)
    assert reply.intent in SEARCHES, (reply.intent, reply.text[:80])
    assert reply.slots.get("field") == field


@pytest.mark.parametrize(
    "text",
    [
        "市民活動センターに登録してる団体って全部でいくつあるの？",
        "今登録してる団体は全部で何団体？",
    ],
)
def test_the_count_now_comes_from_its_own_entry(conversation: Conversation, text: str) -> None:
    """390 is also the last row of the chart of the years (3(1)ア); asked for the total now,
    the entry that leads with it answers (3(1)イ)."""
    reply = say(conversation, text)
    assert reply.slots["faq_id"] == "center-registered-count"
    assert "390" in first_line(reply)


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("子育ての団体は何団体？", "134団体"),
        ("環境の団体はいくつありますか？", "98団体"),
        ("しょうひしゃのだんたいってなんこ？", "団体"),
    ],
)
def test_a_question_about_a_fields_figure_stays_an_answer(
    conversation: Conversation, text: str, figure: str
) -> None:
    reply = say(conversation, text)
    assert section(conversation, reply) == "3(1)イ"
    assert figure in first_line(reply)


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("市民活動センターはいつできたの？", "平成10年度"),  # a date, never a count of fields
        ("しみんかつどうせんたーはいつできたの？", "平成10年度"),
        ("協働にふさわしい事業が少ないって答えたのは何パーセント？", "1.9%"),
    ],
)
def test_the_asked_figure_leads_the_reply(
    conversation: Conversation, text: str, figure: str
) -> None:
    assert figure in first_line(say(conversation, text))


@pytest.mark.parametrize(
    "text",
    [
        "玉縄で退職後に友人たちと高齢者の買い物の付き添いを始めました。ガソリン代やチラシの"
        "印刷代がかさみ、会費だけでは続けられそうにありません。市から資金面で何か支援はありますか？",
        "娘が通う小学校の近くで、放課後に宿題を見る教室を開いています。教材やおやつ代が毎月"
        "赤字です。市から資金面の支援はありますか？",
    ],
)
def test_a_long_story_does_not_drown_its_question(conversation: Conversation, text: str) -> None:
    assert section(conversation, say(conversation, text)) == "6(2)ア"


@pytest.mark.parametrize(
    ("turns", "figure"),
    [
        (["組織形態で2番目に多いのは？"], "58団体"),
        (["登録団体の活動分野で一番多いのは？", "3番目は？"], "124団体"),
        (["登録団体の活動分野で一番多いのは？", "二番目は？"], "134団体"),
    ],
)
def test_a_place_in_a_ranking_is_answered(
    conversation: Conversation, turns: list[str], figure: str
) -> None:
    for text in turns:
        reply = say(conversation, text)
    assert figure in first_line(reply)


def test_a_new_search_while_the_area_is_asked_uses_its_own_field(
    conversation: Conversation,
) -> None:
    asked = say(conversation, "ごみ拾いに参加したい")
    assert asked.intent == "find_groups"
    assert "area" not in asked.slots
    reply = say(conversation, "大船で高齢者の見守りを手伝いたい")
    assert reply.intent in SEARCHES
    assert (reply.slots.get("area"), reply.slots.get("field")) == ("大船地域", WELFARE)


# --- 2. places outside the city ---------------------------------------------------------------

FUJISAWA_AS_FUKASAWA = (
    "藤沢 is found as outside the city but the reply names 深沢 (an area of the city): the "
    "loose in-city match's 'place' slot overrides the outside place's name"
)


@pytest.mark.parametrize(
    ("text", "named", "outside"),
    [
        ("江の島でごみ拾いしたい", "「江の島」", "鎌倉市の外"),
        ("江ノ島 ごみ拾い", "「江の島」", "鎌倉市の外"),
        ("逗子の福祉の団体", "「逗子」", "鎌倉市の外"),
        ("横浜で環境ボランティアに参加したい", "「横浜」", "鎌倉市の外"),
        ("volunteering in Zushi", "Zushi", "outside Kamakura City"),
        ("kids groups in Zushi", "Zushi", "outside Kamakura City"),
        pytest.param(
            "藤沢で子育てのボランティアしたい",
            "「藤沢」",
            "鎌倉市の外",
        ),
        pytest.param("藤沢の子育て団体", "「藤沢」", "鎌倉市の外"),
    ],
)
def test_a_place_outside_the_city_is_named_and_the_five_areas_offered(
    conversation: Conversation, text: str, named: str, outside: str
) -> None:
    reply = say(conversation, text)
    assert reply.intent == "outside_city", (reply.intent, reply.slots)
    assert named in reply.text
    assert outside in reply.text
    searched = [tap(conversation, c.payload) for c in reply.choices if c.payload != "menu"]
    assert {r.intent for r in searched} <= SEARCHES
    assert sorted(r.slots["area"] for r in searched) == sorted(AREAS)


@pytest.mark.parametrize(
    "text", ["片瀬山でごみ拾いしたい", "片瀬山 子育て", "片瀬山駅の近くで子育てを手伝いたい"]
)
def test_katase_yama_is_a_station_in_the_city(conversation: Conversation, text: str) -> None:
    reply = say(conversation, text)
    assert reply.intent in SEARCHES
    assert reply.slots.get("area") == "腰越地域"


# --- 4. a language that stays put ------------------------------------------------------------


@pytest.mark.parametrize("token", ["ABCD-EFGH", "https://example.com/event", "<script>"])
def test_an_ascii_token_keeps_japanese(conversation: Conversation, token: str) -> None:
    assert say(conversation, "こんにちは").locale == "ja"
    assert say(conversation, token).locale == "ja"


def test_a_clear_english_sentence_switches_and_short_tokens_stay(
    conversation: Conversation,
) -> None:
    assert say(conversation, "協働ってなに？").locale == "ja"
    assert say(conversation, "Could you tell me what collaboration means?").locale == "en"
    assert say(conversation, "ABCD-EFGH").locale == "en"
    assert say(conversation, "ok").locale == "en"
    assert say(conversation, "補償制度について教えて").locale == "ja"
    assert say(conversation, "ok").locale == "ja"


def test_the_language_buttons_switch(conversation: Conversation) -> None:
    assert tap(conversation, "lang:en").locale == "en"
    assert say(conversation, "ABCD-EFGH").locale == "en"
    assert tap(conversation, "lang:ja").locale == "ja"
    assert say(conversation, "ABCD-EFGH").locale == "ja"


# --- 5. English searches and questions ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intents", "area", "field"),
    [
        ("kids groups in Ofuna", {"find_groups"}, "大船地域", CHILDREN),
        ("environment groups in Koshigoe", {"find_groups"}, "腰越地域", ENVIRONMENT),
        (
            "Are there elderly care groups near Ofuna station?",
            {"find_groups"},
            "大船地域",
            WELFARE,
        ),
        ("volunteering this weekend", {"find_openings"}, None, None),
        ("I want to help with children in Fukasawa", SEARCHES, "深沢地域", CHILDREN),
    ],
)
def test_english_searches(
    conversation: Conversation,
    text: str,
    intents: set[str],
    area: str | None,
    field: str | None,
) -> None:
    reply = say(conversation, text)
    assert reply.intent in intents
    assert reply.locale == "en"
    assert (reply.slots.get("area"), reply.slots.get("field")) == (area, field)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is kyodo?", "2(5)"),
        ("Is there insurance for volunteers?", "6(2)イ"),
        ("What does collaboration mean?", "2(5)"),
        pytest.param(
            "Could you tell me what collaboration means?",
            "2(5)",
        ),
        pytest.param(
            "Am I covered if I get hurt while volunteering?",
            "6(2)イ",
        ),
        ("Which principles apply when the city and groups work together?", "5(2)"),
        ("Who decides which groups are supported, and by what criteria?", "5(1)ウ"),
    ],
)
def test_english_questions_are_answered_from_the_right_section(
    conversation: Conversation, text: str, expected: str
) -> None:
    reply = say(conversation, text)
    assert reply.locale == "en"
    assert section(conversation, reply) == expected


# --- 8. messages of several sentences --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "自治会の役員をしています。最近、市民活動という言葉をよく聞くようになりました。"
            "そもそもなぜこの条例が作られたのですか？",
            "1",
        ),
        (
            "子ども会の世話役をしています。来年から役員が減ってしまいそうで困っています。"
            "協働ってどういう意味ですか？",
            "2(5)",
        ),
    ],
)
def test_several_sentences_are_answered_by_their_question(
    conversation: Conversation, text: str, expected: str
) -> None:
    assert section(conversation, say(conversation, text)) == expected


@pytest.mark.parametrize(
    ("text", "sections"),
    [
        (
            "はじめまして。鎌倉に引っ越してきたばかりです。条例の目的は何ですか？"
            "また、協働の原則も教えてください。",
            {"1", "5(2)"},
        ),
        pytest.param(
            "自治会の役員をしています。そもそもなぜこの条例が作られたのですか？"
            "それと、活動中のけがの補償はありますか？",
            {"1", "6(2)イ"},
        ),
    ],
)
def test_a_second_question_is_offered_as_a_button(
    conversation: Conversation, text: str, sections: set[str]
) -> None:
    reply = say(conversation, text)
    answered = section(conversation, reply)
    assert answered in sections
    (other,) = sections - {answered}
    offered = {
        entry_section(conversation, c.payload.removeprefix("faq:"))
        for c in reply.choices
        if c.payload.startswith("faq:")
    }
    assert other in offered


# --- 9. procedures the guideline does not explain -------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "NPO法人の設立の書類の書き方を教えて",
        "NPO法人を作りたいのですが、定款はどう書けばいいですか？",
        "法人登記の手続きを教えてください",
        pytest.param(
            "NPO法人の設立の申請書はどこに出せばいい？",
        ),
    ],
)
def test_procedures_the_guideline_does_not_explain_are_not_answered(
    conversation: Conversation, text: str
) -> None:
    reply = say(conversation, text)
    assert (reply.intent, reply.slots.get("reason")) == ("fallback", "procedure_details")


# --- 10. the bot's own example questions ----------------------------------------------------


def suggested_examples() -> list[str]:
    """The examples quoted in the welcome and help texts: runs of two or more 「…」 (a single
    「…」 is a name, like 「つながる鎌倉」) and every "…" of the English texts."""
    path = Path(knowledge.__file__).with_name("messages.toml")
    messages = tomllib.loads(path.read_text(encoding="utf-8"))
    examples: list[str] = []
    for key in ("welcome", "help"):
        for run in re.findall(r"(?:「[^」]+」){2,}", messages["ja"][key]):
            examples += re.findall(r"「([^」]+)」", run)
        examples += re.findall(r'"([^"]+)"', messages["en"][key])
    return examples


def test_the_suggested_examples_are_found() -> None:
    examples = suggested_examples()
    assert "つながる鎌倉" not in examples  # the bot's name, not an example
    assert any(re.search(r"[ぁ-んァ-ン一-龥]", e) for e in examples)
    assert any(e.isascii() for e in examples)


@pytest.mark.parametrize("text", suggested_examples())
def test_every_example_the_bot_suggests_is_understood(
    conversation: Conversation, text: str
) -> None:
    reply = say(conversation, text)
    assert reply.intent != "fallback", reply.text[:80]
