"""Volunteering end to end through the conversation core: a representative posts a call, a
resident finds it and signs up, the call fills, the waiting list moves, reminders go out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.worker import DeliveryError, Worker
from intents.conversation import Conversation
from intents.types import Inbound, Reply
from storage import Store
from storage.store import GroupRecord

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday, 12:00 in Kamakura


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(conversation: Conversation, clock: Clock) -> Conversation:
    conversation.clock = clock
    conversation.store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    return conversation


def talk(bot: Conversation, user: str) -> Callable[..., Reply]:
    def send(text: str | None = None, payload: str | None = None) -> Reply:
        return bot.handle(Inbound("test", user, text=text, payload=payload))

    return send


def link_rep(bot: Conversation, user: str = "rep") -> Callable[..., Reply]:
    rep = talk(bot, user)
    code, _ = bot.store.issue_invite("umi", NOW) or ("", NOW)
    assert rep(f"招待コード {code}").intent == "link_group"
    return rep


POST = [
    "由比ヶ浜ビーチクリーン",
    "海岸のごみを拾います。軍手は貸します。",
    "環境",
    "由比ヶ浜",
    "由比ヶ浜駅の改札前",
    "12/5 10時〜12時",
    "2",
    "高校生OK",
    "軍手があれば",
]


def post_call(rep: Callable[..., Reply], answers: list[str] = POST) -> Reply:
    reply = rep(payload="rc:new")
    for answer in answers:
        reply = rep(answer)
    assert reply.slots == {"step": "confirm"}, reply.text
    return rep(payload="f:v:yes")


def sign_up(bot: Conversation, user: str, name: str, *, age: str = "18") -> Reply:
    """Find the call and answer what the form asks (a call with an age limit asks the age
    group first), up to the preview, then 申し込む."""
    me = talk(bot, user)
    found = me("由比ヶ浜のボランティア")
    reply = me(payload=found.cards[0].buttons[0].payload)
    answers = {
        "age_group": {"payload": f"f:v:{age}"},
        "consented": {"payload": "f:v:yes"},
        "name": {"text": name},
        "contact": {"text": f"{user}@example.jp"},
    }
    for _ in range(len(answers)):
        if reply.slots.get("step") not in answers:
            break
        reply = me(**answers[reply.slots["step"]])
    assert reply.slots == {"step": "confirm"}
    return me(payload="f:v:yes")


def test_full_volunteering_story(bot: Conversation, clock: Clock) -> None:
    rep = link_rep(bot)
    posted = post_call(rep)
    assert posted.intent == "post_call"
    call_id = int(posted.slots["call_id"])

    found = talk(bot, "amy")("今週末か来週末に由比ヶ浜でボランティアしたい")
    assert found.intent == "find_openings"
    assert found.slots["area"] == "鎌倉地域"
    assert "高校生OK" in found.cards[0].body
    assert "残り2人" in found.cards[0].body

    assert sign_up(bot, "amy", "山田あみ", age="hs").slots["outcome"] == "confirmed"
    assert sign_up(bot, "bob", "鈴木ぼぶ").slots["outcome"] == "confirmed"
    cat = talk(bot, "cat")
    full = cat("由比ヶ浜のボランティア")
    assert "満員" in full.cards[0].body
    assert full.cards[0].buttons[0].payload == f"ow:{call_id}"
    assert cat(payload=f"ow:{call_id}").slots["step"] == "age_group"  # 高校生OK: age first
    cat(payload="f:v:30")
    cat(payload="f:v:yes")
    cat("佐藤キャット")
    cat("cat@example.jp")
    assert cat(payload="f:v:yes").slots["outcome"] == "waiting"

    listing = rep(payload=f"rc:v:{call_id}")
    assert "山田あみ（高校生）amy@example.jp" in listing.text
    assert "佐藤キャット（30〜64歳）cat@example.jp［キャンセル待ち］" in listing.text
    assert any("新しい申し込み" in n for n in listing.notices)

    amy = talk(bot, "amy")
    mine = amy("予約確認")
    cancel = mine.cards[0].buttons[0].payload
    assert amy(payload=cancel).intent == "my_sign_ups"  # asks once
    assert amy(payload=cancel.replace("mc:", "mx:")).intent == "cancel_sign_up"
    moved = cat("ありがとう")
    assert any("参加できることになりました" in n for n in moved.notices)
    assert "✅" in cat("予約確認").cards[0].body

    clock.now = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)  # 18:30 in Kamakura, the day before
    counts = asyncio.run(Worker(bot, clock=clock).run_once())
    assert counts["reminders_queued"] == 2
    assert asyncio.run(Worker(bot, clock=clock).run_once())["reminders_queued"] == 0
    reminded = talk(bot, "bob")("こんにちは")
    assert any("明日は「由比ヶ浜ビーチクリーン」" in n for n in reminded.notices)


def test_no_reminder_before_the_evening_before(bot: Conversation, clock: Clock) -> None:
    post_call(link_rep(bot))
    sign_up(bot, "amy", "山田")
    clock.now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # 17:00 in Kamakura
    assert asyncio.run(Worker(bot, clock=clock).run_once())["reminders_queued"] == 0
    clock.now = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)  # 09:30 on the day: catch up
    assert asyncio.run(Worker(bot, clock=clock).run_once())["reminders_queued"] == 1


@pytest.mark.parametrize(
    ("step_answers", "bad", "expected"),
    [
        (POST[:5], "11/20", "もう過ぎています"),
        (POST[:5], "来年のどこか", "日付が読み取れません"),
        (POST[:5], "12/5 12時〜10時", "終わりの時刻が始まりより前"),
        (POST[:6], "0", "1〜500"),
        (POST[:6], "10000", "1〜500"),
        (POST[:6], "たくさん", "1〜500"),
        (POST[:1], "あ" * 1500, "1000文字以内"),
        (POST[:1], "あ" * 5000, "長すぎて"),
        ([], "x" * 41, "40文字以内"),
        (POST[:3], "横浜駅", "鎌倉市内の場所が分かりません"),
    ],
)
def test_bad_answers_are_explained_and_nothing_is_written(
    bot: Conversation, step_answers: list[str], bad: str, expected: str
) -> None:
    rep = link_rep(bot)
    reply = rep(payload="rc:new")
    for answer in step_answers:
        reply = rep(answer)
    step = reply.slots["step"]
    reply = rep(bad)
    assert expected in reply.text
    assert reply.slots.get("step", step) == step  # still the same question
    assert rep(payload="rc:new").slots["step"] == step  # and the form is still there
    assert bot.store.calls_of(bot.store.touch_user("test", "rep", "ja").id) == []


def test_back_and_quit(bot: Conversation) -> None:
    rep = link_rep(bot)
    rep(payload="rc:new")
    rep("タイトル")
    assert rep("戻る").slots["step"] == "title"
    assert rep(payload="f:back").slots["step"] == "title"  # nothing before the title
    rep("タイトル2")
    quit_reply = rep("やめる")
    assert "やめました" in quit_reply.text
    assert rep("説明のつもり").intent != "post_call"


def test_a_half_written_call_survives_a_restart(bot: Conversation, sqlite_store: Store) -> None:
    rep = link_rep(bot)
    rep(payload="rc:new")
    rep("夜の見回り")
    restarted = Conversation(sqlite_store, clock=bot.clock)  # a new process
    reply = restarted.handle(Inbound("test", "rep", text="通学路を一緒に歩きます"))
    assert reply.slots["step"] == "field"
    resumed = restarted.handle(Inbound("test", "rep", payload="rc:new"))
    assert resumed.slots["step"] == "field"


def test_edit_close_reopen(bot: Conversation) -> None:
    rep = link_rep(bot)
    call_id = int(post_call(rep).slots["call_id"])
    edit = rep(payload=f"rc:edit:{call_id}")
    assert edit.slots["step"] == "confirm"
    rep(payload="f:goto:capacity")
    assert rep("5").slots["step"] == "confirm"
    assert "更新しました" in rep(payload="f:v:yes").text
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.capacity == 5
    rep(payload=f"rc:close:{call_id}")
    assert talk(bot, "amy")("由比ヶ浜のボランティア").cards == []
    rep(payload=f"rc:open:{call_id}")
    assert talk(bot, "amy")("由比ヶ浜のボランティア").cards


def test_non_representatives_cannot_manage(bot: Conversation) -> None:
    rep = link_rep(bot)
    call_id = int(post_call(rep).slots["call_id"])
    stranger = talk(bot, "stranger")
    assert "代表者だけ" in stranger(payload="rc:new").text
    for action in ("v", "close", "open", "edit"):
        assert "代表者だけ" in stranger(payload=f"rc:{action}:{call_id}").text
    assert "代表者だけ" in stranger("募集する").text


def test_invite_codes_bad_expired_reused(bot: Conversation, clock: Clock) -> None:
    code, _ = bot.store.issue_invite("umi", NOW) or ("", NOW)
    assert "見つかりません" in talk(bot, "a")("招待コード ABCD-EFGH").text
    assert talk(bot, "a")(f"招待コード {code}").intent == "link_group"
    assert "すでに使われて" in talk(bot, "b")(f"招待コード {code}").text
    old, _ = bot.store.issue_invite("umi", NOW) or ("", NOW)
    clock.now = NOW + timedelta(days=8)
    assert "有効期限" in talk(bot, "c")(f"招待コード {old}").text


def test_age_rules_and_guardian_note(bot: Conversation) -> None:
    rep = link_rep(bot)
    answers = [*POST[:7], "18歳以上", "なし"]
    post_call(rep, answers)
    me = talk(bot, "teen")
    found = me("由比ヶ浜のボランティア")
    assert "18歳以上" in found.cards[0].body
    asked = me(payload=found.cards[0].buttons[0].payload)
    assert asked.slots["step"] == "age_group"  # before any detail is typed
    refused = me(payload="f:v:hs")
    assert "18歳以上の方が対象" in refused.text
    assert refused.slots["step"] == "age_group"  # a wrong tap can be tapped again
    me(payload="f:quit")
    post_call(rep)  # 高校生OK: a high-school student may join, with a guardian's OK
    found = me("由比ヶ浜のボランティア")
    me(payload=found.cards[1].buttons[0].payload)
    me(payload="f:v:hs")
    me(payload="f:v:yes")
    me("高校生のたろう")
    confirm = me("090-1111-2222")
    assert "保護者" in confirm.text
    assert me(payload="f:v:yes").slots["outcome"] == "confirmed"


def test_delete_my_data(bot: Conversation) -> None:
    rep = link_rep(bot)
    post_call(rep)
    sign_up(bot, "amy", "山田あみ")
    amy = talk(bot, "amy")
    ask = amy("データ削除")
    assert ask.intent == "delete_data"
    done = amy(payload="del:yes")
    assert "削除しました" in done.text
    assert bot.store.profile(bot.store.touch_user("test", "amy", "ja").id).name is None
    notices = rep("こんにちは").notices
    assert any("データ削除" in n for n in notices)
    assert not any("山田" in n for n in notices if "キャンセル" in n)


class FakeSender:
    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail_first = fail_first

    async def push(self, platform_user_id: str, body: dict[str, Any], retry_key: str) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise DeliveryError("503", retry=True)
        self.sent.append((platform_user_id, body["text"]))


def test_two_workers_deliver_each_message_once(bot: Conversation, clock: Clock) -> None:
    users = [bot.store.touch_user("line", f"U{i}", "ja").id for i in range(30)]
    for u in users:
        bot.store.enqueue(u, '{"text": "お知らせ", "choices": []}', deliver_after=NOW)
    sender = FakeSender()

    async def both() -> None:
        w1 = Worker(bot, {"line": sender}, clock)
        w2 = Worker(bot, {"line": sender}, clock)
        await asyncio.gather(w1.run_once(), w2.run_once())

    asyncio.run(both())
    assert sorted(u for u, _ in sender.sent) == sorted(f"U{i}" for i in range(30))
    assert bot.store.outbox_pending() == 0


def test_failed_push_is_retried_later_not_lost(bot: Conversation, clock: Clock) -> None:
    u = bot.store.touch_user("line", "U1", "ja").id
    bot.store.enqueue(u, '{"text": "確定しました", "choices": []}', deliver_after=NOW)
    sender = FakeSender(fail_first=1)
    worker = Worker(bot, {"line": sender}, clock)
    assert asyncio.run(worker.run_once())["failed"] == 1
    assert asyncio.run(worker.run_once())["sent"] == 0  # backing off
    clock.now = NOW + timedelta(minutes=2)
    assert asyncio.run(worker.run_once())["sent"] == 1
    assert sender.sent == [("U1", "確定しました")]


def test_the_sign_up_form_cannot_be_skipped_by_jumping_to_the_end(bot: Conversation) -> None:
    """f:goto:<key> is the preview's 「直す」 button: it jumps to a question already answered.
    Crafted, it must not carry anyone past consent, name, contact and age to a sign-up."""
    rep = link_rep(bot)
    call_id = int(post_call(rep).slots["call_id"])
    me = talk(bot, "skipper")
    me(payload=f"os:{call_id}")  # the form opens at its first question (consent)
    jumped = me(payload="f:goto:confirm")
    assert jumped.slots.get("step") != "confirm"
    me(payload="f:v:yes")  # … whatever question that was, this is no confirmation
    assert bot.store.all_volunteers(call_id) == []
    profile = bot.store.profile(bot.store.touch_user("test", "skipper", "ja").id)
    assert profile.consent_at is None


def test_an_openings_details_offer_its_action_and_the_way_back(bot: Conversation) -> None:
    """Below the details (a phone shows the choices without scrolling past a long card): the
    card's 申し込む again, and 「一覧にもどる」 to the page the details were opened from."""
    post_call(link_rep(bot))
    me = talk(bot, "amy")
    found = me("由比ヶ浜のボランティア")
    details = me(payload=found.cards[0].buttons[1].payload)
    assert details.intent == "opening_detail"
    labels = [c.label for c in details.choices]
    assert labels[:2] == ["申し込む", "一覧にもどる"]
    assert details.choices[0].payload == details.cards[0].buttons[0].payload
    back = me(payload=details.choices[1].payload)
    assert back.intent == "find_openings"
    assert [c.title for c in back.cards] == [c.title for c in found.cards]


def test_an_opening_is_found_by_the_word_its_title_says(bot: Conversation) -> None:
    """「えいごのボランティア」: 英語 is an international word; a call of another field whose
    title says 英語 is found too, however the word was written."""
    rep = link_rep(bot)
    answers = ["英語で観光ガイド", "駅で観光客を英語で案内します。", "観光", *POST[3:]]
    post_call(rep, answers)
    for text in ("英語のボランティア", "えいごのボランティア"):
        found = talk(bot, "eve")(text)
        assert found.intent == "find_openings"
        assert [c.title for c in found.cards] == ["英語で観光ガイド"], text


def test_details_opened_from_elsewhere_offer_no_way_back_to_a_list(bot: Conversation) -> None:
    """「一覧にもどる」 only under details opened from the list just shown; from a notice or
    予約確認 (a list searched long ago in the state, or none) there is no list to go back to."""
    post_call(link_rep(bot))
    amy = talk(bot, "amy")
    found = amy("由比ヶ浜のボランティア")
    call_id = found.cards[0].buttons[0].payload.split(":")[1]
    assert "ob" in [c.payload for c in amy(payload=f"od:{call_id}").choices]
    amy("大船で子育ての団体")  # another search since; then the call from elsewhere
    other = talk(bot, "bob")
    assert other("大船で国際交流のボランティア").cards == []  # a list without this call
    assert "ob" not in [c.payload for c in other(payload=f"od:{call_id}").choices]
