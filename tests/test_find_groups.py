"""Finding groups in conversation: free text, taps, paging, details, nothing found."""

from __future__ import annotations

import pytest

from bot.directory_csv import load_samples_if_empty
from intents.conversation import Conversation
from intents.types import Inbound, Reply
from storage.store import GroupRecord


def say(c: Conversation, text: str, user: str = "u1") -> Reply:
    return c.handle(Inbound("test", user, text=text))


def tap(c: Conversation, payload: str, user: str = "u1") -> Reply:
    return c.handle(Inbound("test", user, payload=payload))


@pytest.fixture
def demo(conversation: Conversation) -> Conversation:
    assert load_samples_if_empty(conversation.store, conversation.fields, conversation.places)
    return conversation


@pytest.mark.parametrize(
    ("text", "area", "field"),
    [
        ("大船駅の近くで子ども関係の団体", "大船地域", "子どもの健全育成を図る活動"),
        ("おおふなで こそだての グループ ある？", "大船地域", "子どもの健全育成を図る活動"),
        ("ﾕｲｶﾞﾊﾏでごみ拾いしてる団体を探してます", "鎌倉地域", "環境の保全を図る活動"),
        (
            "北鎌倉でお祭りを手伝える団体",
            "大船地域",
            "学術、文化、芸術又はスポーツの振興を図る活動",
        ),
        ("鎌倉山の近くで見守り活動をしている団体", "深沢地域", None),
        ("台一丁目で防犯パトロールの団体", "玉縄地域", "地域安全活動"),
        ("ｵｵﾌﾅで介護のボランティア団体", "大船地域", "保健、医療又は福祉の増進を図る活動"),
    ],
)
def test_free_text_fills_both_slots(
    demo: Conversation, text: str, area: str, field: str | None
) -> None:
    reply = say(demo, text)
    assert reply.intent == "find_groups"
    assert reply.slots["area"] == area
    if field:
        assert reply.slots["field"] == field
        assert reply.cards, "both slots known: results at once"


def test_missing_slots_are_asked_field_then_area(demo: Conversation) -> None:
    first = say(demo, "参加できる団体を探したい")
    assert first.intent == "find_groups"
    assert "分野" in first.text
    assert any(c.payload.startswith("gf:") for c in first.choices)
    second = say(demo, "子育て")  # typed, not tapped
    assert second.slots["field"] == "子どもの健全育成を図る活動"
    assert "地域" in second.text
    third = say(demo, "湘南深沢駅のあたり")
    assert third.slots["area"] == "深沢地域"
    assert third.cards


def test_tapping_through(demo: Conversation) -> None:
    assert tap(demo, "gs").choices[0].payload.startswith("gf:")
    tap(demo, "gf:environment")
    results = tap(demo, "ga:koshigoe")
    assert results.cards
    assert results.slots == {"field": "環境の保全を図る活動", "area": "腰越地域"}
    assert "腰越" in results.cards[0].body


def test_same_area_first_then_neighbours(demo: Conversation) -> None:
    tap(demo, "gf:*")
    reply = tap(demo, "ga:tamanawa")
    assert "玉縄" in reply.cards[0].body
    assert all("サンプル" in card.title for card in reply.cards)


def test_more_pages_and_details(demo: Conversation) -> None:
    tap(demo, "gf:*")
    page1 = tap(demo, "ga:*")
    assert len(page1.cards) == 5
    assert any(c.payload == "gm" for c in page1.choices)
    page2 = tap(demo, "gm")
    assert {c.title for c in page2.cards}.isdisjoint({c.title for c in page1.cards})
    detail = tap(demo, page2.cards[0].buttons[0].payload)
    assert detail.intent == "group_detail"
    assert detail.cards[0].title == page2.cards[0].title
    assert "サンプル" in detail.cards[0].body
    back = tap(demo, "gp")
    assert [c.title for c in back.cards] == [c.title for c in page2.cards]


def test_paging_past_the_end_says_so(demo: Conversation) -> None:
    tap(demo, "gf:science")
    tap(demo, "ga:*")
    reply = tap(demo, "gm")
    assert reply.intent == "find_groups"
    assert reply.text


def test_nothing_found_offers_other_fields(conversation: Conversation) -> None:
    conversation.store.import_groups(
        [GroupRecord("k1", "環境の会", fields=("environment",), areas=("ofuna",))]
    )
    tap(conversation, "gf:consumer")
    reply = tap(conversation, "ga:ofuna")
    assert reply.cards == []
    assert "まだ登録がありません" in reply.text
    assert "gf:environment" in [c.payload for c in reply.choices]


def test_unverified_and_unknown_groups_are_not_shown(conversation: Conversation) -> None:
    conversation.store.import_groups(
        [GroupRecord("u1", "未確認の会", fields=("children",), areas=("ofuna",), verified=False)]
    )
    (hidden,) = conversation.store.all_groups()
    assert tap(conversation, f"gd:{hidden.id}").text.startswith("その団体の情報は見つかりません")
    assert tap(conversation, "gd:999999").intent == "group_detail"
    assert tap(conversation, "gf:no-such-field").intent == "stale_choice"


def test_figures_questions_still_go_to_the_faq(demo: Conversation) -> None:
    assert say(demo, "子どもの健全育成の団体は何団体？").intent == "faq"
    assert say(demo, "市民活動団体とは").intent == "faq"


def test_area_bits_cover_the_five_areas(conversation: Conversation) -> None:
    from storage.models import AREA_CODES

    assert set(AREA_CODES) == {a.code for a in conversation.places.areas}
