"""The posting form's date, time and capacity steps, driven through the conversation core as a
representative types them: what was understood is said back, an open-ended start asks for the
end, a weekday that disagrees with its date is asked about, 十人 is ten. On SQLite and
PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from intents.conversation import Conversation
from intents.types import Inbound, Reply
from knowledge.faq import FaqIndex
from storage import Store
from storage.store import GroupRecord

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # Wednesday 2 December, 12:00 in Kamakura
BEFORE_DATE = ["海岸清掃", "海岸のごみを拾います。", "環境", "由比ヶ浜", "由比ヶ浜駅の改札前"]
Send = Callable[..., Reply]


@pytest.fixture
def bot(store: Store, faq_index: FaqIndex) -> Conversation:
    conversation = Conversation(store, faq_index=faq_index, clock=lambda: NOW)
    store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    return conversation


def representative(bot: Conversation) -> Send:
    def send(text: str | None = None, payload: str | None = None) -> Reply:
        return bot.handle(Inbound("test", "rep", text=text, payload=payload))

    code, _ = bot.store.issue_invite("umi", NOW) or ("", NOW)
    assert send(f"招待コード {code}").intent == "link_group"
    return send


def at_date_step(bot: Conversation) -> Send:
    rep = representative(bot)
    reply = rep(payload="rc:new")
    for answer in BEFORE_DATE:
        reply = rep(answer)
    assert reply.slots == {"step": "date"}, reply.text
    return rep


def test_the_day_and_time_are_said_back(bot: Conversation) -> None:
    rep = at_date_step(bot)
    reply = rep("来週の土曜 10時〜12時")
    assert reply.slots == {"step": "capacity"}
    assert reply.text.startswith("12月12日(土) 10:00〜12:00 ですね。")
    reply = rep("十人")
    assert reply.slots == {"step": "who"}
    rep("高校生OK")
    preview = rep("なし")
    assert preview.slots == {"step": "confirm"}
    assert "12月12日(土) 10:00〜12:00" in preview.text
    assert "定員：10人" in preview.text
    saved = rep(payload="f:v:yes")
    call = bot.store.get_call(int(saved.slots["call_id"]))
    assert call is not None
    assert call.capacity == 10
    assert call.starts_at == datetime(2026, 12, 12, 1, 0, tzinfo=UTC)  # 10:00 in Kamakura
    assert call.ends_at == datetime(2026, 12, 12, 3, 0, tzinfo=UTC)


def test_a_day_alone_is_said_back_in_the_time_question(bot: Conversation) -> None:
    rep = at_date_step(bot)
    reply = rep("1月の第2日曜")
    assert reply.slots == {"step": "time"}
    assert reply.text.startswith("1月10日(日)ですね。")
    reply = rep("午後1時半から3時")
    assert reply.text.startswith("1月10日(日) 13:30〜15:00 ですね。")


def test_a_start_alone_is_kept_and_the_end_asked_for(bot: Conversation) -> None:
    rep = at_date_step(bot)
    reply = rep("来週の土曜 10時から")  # the time is not dropped
    assert reply.slots == {"step": "time"}
    assert "12月12日(土) 10:00からですね。" in reply.text
    assert "終わりは何時ですか" in reply.text
    reply = rep("2時間")
    assert reply.slots == {"step": "capacity"}
    assert reply.text.startswith("12月12日(土) 10:00〜12:00 ですね。")


def test_a_start_alone_at_the_time_question(bot: Conversation) -> None:
    rep = at_date_step(bot)
    assert rep("再来週の日曜").text.startswith("12月20日(日)ですね。")
    reply = rep("13時から")
    assert reply.slots == {"step": "time"}
    assert "12月20日(日) 13:00からですね。" in reply.text
    reply = rep("15時半")
    assert reply.slots == {"step": "capacity"}
    assert reply.text.startswith("12月20日(日) 13:00〜15:30 ですね。")


def test_a_weekday_that_disagrees_is_asked_about(bot: Conversation) -> None:
    rep = at_date_step(bot)
    reply = rep("12/5(日) 10時〜12時")  # 5 December 2026 is a Saturday
    assert reply.slots == {"step": "date"}
    assert "「日曜日」とありましたが、12月5日(土)は土曜日です" in reply.text
    offered = {c.label: c.payload for c in reply.choices}
    assert {"12月5日(土)", "12月6日(日)"} <= set(offered)
    reply = rep(payload=offered["12月6日(日)"])
    assert reply.slots == {"step": "capacity"}
    assert reply.text.startswith("12月6日(日) 10:00〜12:00 ですね。")


def test_the_date_as_written_can_be_chosen_too(bot: Conversation) -> None:
    rep = at_date_step(bot)
    reply = rep("12/5（日）")
    offered = {c.label: c.payload for c in reply.choices}
    reply = rep(payload=offered["12月5日(土)"])
    assert reply.slots == {"step": "time"}
    assert reply.text.startswith("12月5日(土)ですね。")


def test_past_impossible_and_unreadable_dates_get_different_messages(bot: Conversation) -> None:
    rep = at_date_step(bot)
    texts = {}
    for said in ("11/20", "2月30日", "2月の第5日曜", "そのうち"):
        reply = rep(said)
        assert reply.slots == {"step": "date"}, said
        texts[said] = reply.text.splitlines()[0]
    assert texts["11/20"] == "11月20日(金)はもう過ぎています。これからの日付を送ってください。"
    assert texts["2月30日"].startswith("2月30日という日はありません。")
    assert texts["2月の第5日曜"].startswith("2月に第5日曜日はありません。")
    assert texts["そのうち"].startswith("日付が読み取れませんでした。")


def test_a_part_of_the_day_asks_which_time(bot: Conversation) -> None:
    rep = at_date_step(bot)
    rep("12/12")
    reply = rep("午後")
    assert reply.slots == {"step": "time"}
    assert reply.text.startswith("午後の何時からですか？")
    assert rep("12時まで").text.startswith("始まりの時刻も送ってください")
    assert rep("午前10時〜正午").slots == {"step": "capacity"}


@pytest.mark.parametrize(("said", "capacity"), [("十人", 10), ("二十人", 20), ("五名", 5)])
def test_capacity_in_kanji_numerals(bot: Conversation, said: str, capacity: int) -> None:
    rep = at_date_step(bot)
    rep("12/12 10〜12時")
    assert rep(said).slots == {"step": "who"}
    rep("どなたでも")
    assert f"定員：{capacity}人" in rep("なし").text


def test_fixing_the_time_from_the_preview_needs_the_end_at_once(bot: Conversation) -> None:
    rep = at_date_step(bot)
    for answer in ("12/12 10時〜12時", "3人", "どなたでも", "なし"):
        reply = rep(answer)
    assert reply.slots == {"step": "confirm"}
    assert rep(payload="f:goto:date").slots == {"step": "date"}
    reply = rep("12/19 10時から")  # no time question comes before the preview
    assert reply.slots == {"step": "date"}
    assert "10:00から何時までですか" in reply.text
    reply = rep("12/19 10時〜11時")
    assert reply.slots == {"step": "confirm"}
    assert "12月19日(土) 10:00〜11:00" in reply.text


def test_back_and_quit_still_work_at_the_new_questions(bot: Conversation) -> None:
    rep = at_date_step(bot)
    rep("12/12 10時から")
    assert rep("戻る").slots == {"step": "date"}
    assert rep("12/13 9時〜11時").slots == {"step": "capacity"}
    assert "やめました" in rep("やめる").text


def test_english_prompts(bot: Conversation) -> None:
    rep = representative(bot)
    rep(payload="rc:new")
    rep("Beach cleanup day")  # English text: the bot answers in English from here on
    rep("We pick up litter on the beach.")
    rep(payload="f:v:environment")
    rep(payload="f:v:kamakura")
    assert rep("At the station gate").slots == {"step": "date"}
    reply = rep("12/5(日)")
    assert reply.locale == "en"
    assert "You wrote Sunday, but Sat 5 Dec is a Saturday" in reply.text
    assert {"Sat 5 Dec", "Sun 6 Dec"} <= {c.label for c in reply.choices}
    reply = rep("12/12 10:00~")
    assert reply.text.startswith("Sat 12 Dec, from 10:00, then.")


# --- found by a hands-on run: fixing from the preview, stale buttons, capacity ---------------


def _posted_preview(bot: Conversation) -> Send:
    rep = at_date_step(bot)
    rep("12/12 9:30〜11:30")
    rep("5")
    rep("どなたでも")
    assert rep("なし").slots == {"step": "confirm"}
    return rep


def test_fixing_the_date_with_only_a_part_of_the_day_asks_the_time(bot: Conversation) -> None:
    """「再来週の土曜 午後」 from 「日時を直す」 once kept the old morning time in silence."""
    rep = _posted_preview(bot)
    assert rep(payload="f:goto:date").slots == {"step": "date"}
    reply = rep("再来週の土曜 午後")
    assert reply.slots == {"step": "date"}  # not the preview with 09:30 kept
    preview = rep("再来週の土曜 13時〜15時")
    assert preview.slots == {"step": "confirm"}
    assert "12月19日(土) 13:00〜15:00" in preview.text


def test_fixing_the_date_keeps_the_chosen_day_while_the_end_is_asked(bot: Conversation) -> None:
    rep = _posted_preview(bot)
    rep(payload="f:goto:date")
    mismatch = rep("12/5(日) 9:30〜")
    options = [c.payload for c in mismatch.choices if c.payload.startswith("f:v:2026-12-06")]
    assert options
    asked = rep(payload=options[0])
    assert asked.slots == {"step": "date"}
    preview = rep("11時半まで")
    assert preview.slots == {"step": "confirm"}, preview.text
    assert "12月6日(日) 09:30〜11:30" in preview.text


def test_a_button_of_an_earlier_question_is_not_taken_as_an_answer(bot: Conversation) -> None:
    rep = at_date_step(bot)
    rep("12/12 9:30〜11:30")
    rep("5")
    at_bring = rep(payload="f:v:all")
    assert at_bring.slots == {"step": "bring"}
    stale = rep(payload="f:v:all")  # the 対象 button again, at the 持ち物 question
    assert stale.slots == {"step": "bring"}
    assert "前の質問" in stale.text


def test_quitting_in_ones_own_words(bot: Conversation) -> None:
    rep = at_date_step(bot)
    assert "入力をやめました" in rep("やめたい").text
    assert "step" not in rep("来週の土曜").slots  # no form waits for a date any more


def test_an_edit_cannot_lower_the_capacity_below_the_people_confirmed(bot: Conversation) -> None:
    rep = _posted_preview(bot)
    call_id = int(rep(payload="f:v:yes").slots["call_id"])
    for name in ("amy", "bob", "cat"):
        user = bot.store.touch_user("test", name, "ja").id
        bot.store.save_profile(user, name=name, contact="-", age_group="30", consent_at=NOW)
        assert bot.store.sign_up(user, call_id, NOW).outcome == "confirmed"
    rep(payload=f"rc:edit:{call_id}")
    rep(payload="f:goto:capacity")
    refused = rep("2")
    assert refused.slots == {"step": "capacity"}
    assert "3人" in refused.text
    assert rep("4").slots == {"step": "confirm"}


def test_calling_off_twice_says_so(bot: Conversation) -> None:
    rep = _posted_preview(bot)
    call_id = int(rep(payload="f:v:yes").slots["call_id"])
    rep(payload=f"rc:offx:{call_id}")
    again = rep(payload=f"rc:offx:{call_id}")
    assert "すでに中止" in again.text
    assert "すでに中止" in rep(payload=f"rc:off:{call_id}").text


def test_every_answer_can_be_fixed_from_the_preview_and_an_edit_says_so(
    bot: Conversation,
) -> None:
    rep = _posted_preview(bot)
    preview = rep("戻る")
    preview = rep("なし")
    payloads = [c.payload for c in preview.choices]
    for key in ("date", "capacity", "title", "description", "place", "meeting_point", "field",
                "who", "bring"):  # fmt: skip
        assert f"f:goto:{key}" in payloads
    assert len(preview.choices) <= 13  # LINE's quick replies
    assert rep(payload="f:goto:bring").slots == {"step": "bring"}
    fixed = rep("軍手")
    assert fixed.slots == {"step": "confirm"}
    assert "軍手" in fixed.text
    call_id = int(rep(payload="f:v:yes").slots["call_id"])
    edit = rep(payload=f"rc:edit:{call_id}")
    assert edit.text.startswith("この内容に変更します")
    assert edit.choices[0].label == "変更を保存"
