"""The analyser, the index terms and our domain's synonyms (knowledge/analyzer.py, terms.py,
synonyms.toml): each synonym shown working, and the paraphrases they exist for."""

from __future__ import annotations

import threading
import tomllib

import pytest

from intents.conversation import Conversation
from intents.types import Inbound
from knowledge.analyzer import tokens
from knowledge.kana_words import kana_words
from knowledge.terms import SYNONYMS_FILE, stem, terms
from knowledge.text import reading


def _concepts() -> dict[str, list[str]]:
    with SYNONYMS_FILE.open("rb") as fh:
        return tomllib.load(fh)["concepts"]


@pytest.mark.parametrize("concept", sorted(_concepts()))
def test_every_word_of_a_concept_gives_its_term(concept: str) -> None:
    for word in _concepts()[concept]:
        got = terms(word)
        assert f"c:{concept}" in got, (word, dict(got))


def test_sudachi_normalises_what_residents_write_differently() -> None:
    norms = {t.surface: t.norm for t in tokens("子どもの寄附とけが", fine=True)}
    assert norms == {"子ども": "子供", "の": "の", "寄附": "寄付", "と": "と", "けが": "怪我"}


def test_readings_come_from_the_analyser() -> None:
    assert reading("協働") == "きょうどう"
    assert reading("大船駅") == "おおふなえき"
    assert reading("abc123") == "abc123"  # Latin letters and digits are not read aloud


def test_english_words_are_stemmed_and_stop_words_dropped() -> None:
    got = terms("What groups are there for volunteers?")
    assert {"e:group", "e:volunteer", "c:団体", "c:ボランティア"} <= got.keys()
    assert "e:what" not in got
    assert stem("activities") == "activity"


def test_the_analyser_is_safe_in_threads() -> None:
    texts = [f"市民活動センターの登録団体は{i}団体" for i in range(200)]
    expected = [tuple(t.norm for t in tokens(x, fine=True)) for x in texts]
    tokens.cache_clear()
    results: list[list[tuple[str, ...]]] = [[] for _ in range(4)]

    def work(n: int) -> None:
        results[n] = [tuple(t.norm for t in tokens.__wrapped__(x, fine=True)) for x in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("お金の支援ってありますか", "6(2)"),
        ("寄附したいんですが", "6(2)"),
        ("けがしたらどうなる？", "6(2)"),
        ("ボランティア中に他人のものを壊したら", "6(2)"),
        ("指定管理者ってなに", "4(4)"),
        ("きょうどうってなに", "2(5)"),
    ],
)
def test_paraphrases_reach_the_right_section(
    conversation: Conversation, text: str, section: str
) -> None:
    reply = conversation.handle(Inbound("test", "p", text=text))
    assert reply.intent == "faq"
    entry = conversation.faq.get(reply.slots["faq_id"])
    assert entry is not None
    assert entry.section.startswith(section), entry.id


def _ask_for(value: str) -> str:
    if value.endswith("%"):
        return "何%"
    if value.endswith("団体"):
        return "何団体"
    if value.endswith("件"):
        return "何件"
    return "いつ"


def test_every_figure_is_reachable_by_a_direct_question(conversation: Conversation) -> None:
    """Each row of each chart (knowledge/facts.toml), asked for directly with its chart's own
    words, gets a reply whose first line states its figure."""
    from knowledge.facts import load_facts

    missed = []
    for i, fact in enumerate(load_facts()):
        question = f"{fact.chart.context[0]}で「{fact.item}」は{_ask_for(fact.value)}？"
        reply = conversation.handle(Inbound("test", f"figure-{i}", text=question))
        if fact.value not in reply.text.split("\n")[0]:
            missed.append((question, reply.text.split("\n")[0][:60]))
    assert missed == []


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("しみんかつどうせんたーはいつできたの", "市民活動センターはいつできたの"),
        ("とうろくだんたいはいくつ", "登録団体はいくつ"),  # never 俳句つ
        ("ぼらんてぃあほけんはありますか", "ボランティア保険はありますか"),
        ("ちゅうかんしえんそしきってなに", "中間支援組織ってなに"),
        ("環境の団体はいくつありますか", "環境の団体はいくつありますか"),  # short runs kept
        ("かまくらのてんきはどう", "鎌倉のてんきはどう"),  # unknown words stay kana
    ],
)
def test_a_message_typed_in_kana_is_read_with_our_words(typed: str, read: str) -> None:
    assert kana_words().convert(typed) == read


def test_a_kana_question_meets_the_words_of_its_kanji_twin() -> None:
    kana = terms("しみんかつどうせんたーはいつできたの")
    kanji = terms("市民活動センターはいつできたの")
    words = {t for t in kanji if t[0] in "wc"}
    assert words <= kana.keys()


def test_the_english_stem_of_a_plural_is_its_singular() -> None:
    from knowledge.terms import stem

    words = "principles principle cases classes activities boxes volunteers"
    assert [stem(w) for w in words.split()] == [
        "principle", "principle", "case", "class", "activity", "box", "volunteer",
    ]  # fmt: skip
