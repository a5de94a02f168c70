"""The volunteer sign-up form is correct and fair (issue 14), driven through the real
conversation on SQLite and PostgreSQL: no sign-up without consent, name, contact and an age
group the call admits, whatever payloads arrive; the age asked first when a call has a limit;
「どなたでも」「高校生OK」「18歳以上」 as three rules; 戻る and 「◯◯を直す」 on the preview."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intents.conversation import Conversation
from intents.forms import FORMS
from intents.recruit import WHO_OPTIONS
from intents.signup import AGE_GROUPS
from intents.types import Inbound, Reply
from knowledge.faq import FaqIndex
from storage import Store
from storage.models import User
from storage.openings import CallDraft
from storage.store import GroupRecord

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday, 12:00 in Kamakura
Send = Callable[..., Reply]
CALL = [
    "海岸のごみを拾います。軍手は貸します。",
    "環境",
    "由比ヶ浜",
    "由比ヶ浜駅の改札前",
    "12/5 10時〜12時",
    "5",
]
AGE_GROUP_CODES = tuple(AGE_GROUPS)  # u15 中学生以下, hs 高校生, 18, 30, 65


@pytest.fixture
def bot(store: Store, faq_index: FaqIndex) -> Conversation:
    """The conversation on each database, at NOW, with one group 「海の会」."""
    store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    return Conversation(store, faq_index=faq_index, clock=lambda: NOW)


def talk(bot: Conversation, user: str, locale: str = "ja") -> Send:
    def send(text: str | None = None, payload: str | None = None) -> Reply:
        return bot.handle(Inbound("test", user, text=text, payload=payload, locale=locale))

    return send


def representative(bot: Conversation) -> Send:
    rep = talk(bot, "rep")
    code, _ = bot.store.issue_invite("umi", NOW) or ("", NOW)
    assert rep(f"招待コード {code}").intent == "link_group"
    return rep


def post(rep: Send, title: str, who: str) -> int:
    """Post a call through the form, choosing who may join with the button labelled ``who``."""
    reply = rep(payload="rc:new")
    for answer in [title, *CALL]:
        reply = rep(answer)
    assert reply.slots["step"] == "who", reply.text
    (button,) = [c for c in reply.choices if c.label == who]
    reply = rep(payload=button.payload)
    reply = rep("なし")
    assert reply.slots["step"] == "confirm", reply.text
    return int(rep(payload="f:v:yes").slots["call_id"])


def three_calls(bot: Conversation) -> dict[str, int]:
    rep = representative(bot)
    return {
        who: post(rep, f"浜そうじ（{who}）", who) for who in ("どなたでも", "高校生OK", "18歳以上")
    }


ANSWERS: dict[str, dict[str, str]] = {
    "consented": {"payload": "f:v:yes"},
    "name": {"text": "山田はな"},
    "contact": {"text": "hana@example.jp"},
}


def fill(me: Send, call_id: int, age: str = "18", name: str = "山田はな") -> list[Reply]:
    """Tap 申し込む and answer whatever is asked, up to the preview (or a refusal)."""
    replies = [me(payload=f"os:{call_id}")]
    answers = {**ANSWERS, "name": {"text": name}, "age_group": {"payload": f"f:v:{age}"}}
    for _ in range(6):
        step = replies[-1].slots.get("step")
        if step not in answers:
            break
        replies.append(me(**answers[step]))
        if replies[-1].slots.get("step") == step:  # refused or not understood: asked again
            break
    return replies


def steps(replies: list[Reply]) -> list[str]:
    return [r.slots.get("step", "") for r in replies]


def signed_up(bot: Conversation, user: str) -> list[int]:
    me = bot.store.touch_user("test", user, "ja").id
    return [m.call.id for m in bot.store.my_sign_ups(me, NOW)]


def choice(reply: Reply, label: str) -> str:
    (payload,) = [c.payload for c in reply.choices if c.label == label]
    return payload


# --- nothing gets through without consent, name, contact and an admitted age ------------------


@pytest.mark.parametrize(
    ("who", "payloads"),
    [
        ("どなたでも", ["f:goto:confirm", "f:v:yes"]),
        ("どなたでも", ["f:v:yes", "f:goto:confirm", "f:v:yes", "f:goto:contact", "f:v:yes"]),
        ("高校生OK", ["f:v:yes", "f:v:山田", "f:v:a@example.jp", "f:v:u15", "f:v:yes"]),
        ("18歳以上", ["f:v:yes", "f:v:山田", "f:v:a@example.jp", "f:v:hs", "f:v:yes"]),
        ("高校生OK", ["f:v:u15", "f:goto:confirm", "f:v:yes", "f:v:yes", "f:v:yes"]),
        ("どなたでも", ["f:goto:date", "f:v:all", "f:skip", "f:v:yes", "f:goto:title", "f:v:yes"]),
    ],
)
def test_crafted_payloads_cannot_sign_up(bot: Conversation, who: str, payloads: list[str]) -> None:
    call_id = three_calls(bot)[who]
    me = talk(bot, "crafty")
    me(payload=f"os:{call_id}")
    for payload in payloads:
        reply = me(payload=payload)
        assert reply.slots.get("outcome") is None, reply.text
    assert signed_up(bot, "crafty") == []
    assert bot.store.get_call(call_id).taken == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("who", ["どなたでも", "高校生OK"])
def test_stray_payloads_on_the_preview_change_nothing(bot: Conversation, who: str) -> None:
    call_id = three_calls(bot)[who]
    me = talk(bot, "crafty")
    assert steps(fill(me, call_id))[-1] == "confirm"
    stray = ["f:goto:call_id", "f:goto:wait", "f:goto:audience", "f:goto:nothing",
             "f:goto:confirm", "f:goto:", "f:v:", "f:skip", "f:nonsense", "f:resume"]  # fmt: skip
    for payload in stray:
        assert me(payload=payload).slots.get("step") == "confirm", payload
    assert signed_up(bot, "crafty") == []
    assert me(payload="f:v:yes").slots["outcome"] == "confirmed"


@pytest.mark.parametrize(
    ("key", "value"),
    [("consented", False), ("consented", "no"), ("name", ""), ("contact", "x"), ("age_group", "")],
)
def test_a_crafted_state_is_checked_again_at_the_end(
    bot: Conversation, key: str, value: Any
) -> None:
    call_id = three_calls(bot)["どなたでも"]
    me = talk(bot, "crafty")
    assert steps(fill(me, call_id))[-1] == "confirm"
    user = bot.store.touch_user("test", "crafty", "ja").id
    state = bot.store.saved_state("test", "crafty") or {}
    state["form"]["values"][key] = value
    bot.store.close_turn(user, state, pull_notices=False, now=NOW)
    reply = me(payload="f:v:yes")
    assert reply.slots.get("outcome") in (None, "incomplete"), reply.text
    assert signed_up(bot, "crafty") == []
    if key == "consented":
        assert bot.store.profile(user).consent_at is None  # consent is recorded only if given


def test_the_form_never_reaches_a_step_with_an_earlier_answer_missing(bot: Conversation) -> None:
    calls = three_calls(bot)
    pool = [
        "f:v:yes", "f:v:no", "f:v:u15", "f:v:hs", "f:v:18", "f:v:all", "f:v:", "f:v:\u3000",
        "f:v:a@example.jp", "f:back", "f:skip", "f:resume", "f:goto:confirm", "f:goto:name",
        "f:goto:contact", "f:goto:age_group", "f:goto:consented", "f:goto:call_id",
        "f:goto:wait", "f:goto:audience", "f:goto:date", "f:goto:title", "f:nonsense",
    ]  # fmt: skip
    rng = random.Random(14)
    for n in range(12):
        user = f"fuzz{n}"
        me = talk(bot, user)
        me(payload=f"os:{calls[rng.choice(list(calls))]}")
        for _ in range(40):
            reply = me(payload=rng.choice(pool))
            state = bot.store.saved_state("test", user) or {}
            data = state.get("form")
            if not data:
                break
            form = FORMS[data["name"]]
            step = reply.slots["step"]
            before = form.questions[: form.index(step)]
            missing = [q.key for q in before if not q.optional and not data["values"].get(q.key)]
            assert missing == [], (step, data)
        profile = bot.store.profile(bot.store.touch_user("test", user, "ja").id)
        for call_id in signed_up(bot, user):  # a sign-up the payloads made must be complete
            assert profile.consent_at is not None
            assert profile.name
            assert profile.contact
            refused = {"どなたでも": set(), "高校生OK": {"u15"}, "18歳以上": {"u15", "hs"}}
            who = next(w for w, c in calls.items() if c == call_id)
            assert profile.age_group in set(AGE_GROUP_CODES) - refused[who], (user, who)


def test_storage_refuses_a_sign_up_without_consent_details_or_an_admitted_age(
    store: Store,
) -> None:
    store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    rep = store.touch_user("test", "rep", "ja").id
    code, _ = store.issue_invite("umi", NOW) or ("", NOW)
    assert store.redeem_invite(rep, code, NOW)[0] == "linked"
    group_id = store.represented_groups(rep)[0][0]
    start = NOW + timedelta(days=10)

    def call(who: str) -> int:
        _, high_school_ok, min_age = WHO_OPTIONS[who]  # as the representative's form stores it
        draft = CallDraft("浜そうじ", "ごみ拾い", "environment", "kamakura", "由比ガ浜", "駅前",
                          start, start + timedelta(hours=2), 5, high_school_ok=high_school_ok,
                          min_age=min_age)  # fmt: skip
        return store.create_call(rep, group_id, draft) or 0

    anyone, high_school, adults = call("all"), call("hs"), call("18")

    def person(name: str, *, consent: bool = True, age: str | None = "18") -> int:
        user = store.touch_user("test", name, "ja").id
        with store.session() as s:
            row = s.get(User, user)
            assert row is not None
            row.name, row.contact, row.age_group = name, f"{name}@example.jp", age
            row.consent_at = NOW if consent else None
            s.add(row)
        return user

    bare = store.touch_user("test", "bare", "ja").id
    assert store.sign_up(bare, anyone, NOW).outcome != "confirmed"
    assert store.sign_up(person("noconsent", consent=False), anyone, NOW).outcome != "confirmed"
    assert store.sign_up(person("noage", age=None), high_school, NOW).outcome != "confirmed"
    assert store.sign_up(person("noage2", age=None), anyone, NOW, wait=True).outcome not in (
        "confirmed",
        "waiting",
    )
    assert store.sign_up(person("kid", age="u15"), high_school, NOW).outcome == "refused"
    assert store.sign_up(person("teen", age="hs"), adults, NOW).outcome == "refused"
    for call_id in (anyone, high_school, adults):
        assert store.get_call(call_id).taken == 0  # type: ignore[union-attr]
    assert store.sign_up(person("kid2", age="u15"), anyone, NOW).outcome == "confirmed"
    assert store.sign_up(person("teen2", age="hs"), high_school, NOW).outcome == "confirmed"
    assert store.sign_up(person("adult", age="30"), adults, NOW).outcome == "confirmed"


# --- the age first, when it decides --------------------------------------------------------------


@pytest.mark.parametrize(("who", "refused"), [("高校生OK", "u15"), ("18歳以上", "hs")])
def test_the_age_is_asked_first_when_a_call_has_a_limit(
    bot: Conversation, who: str, refused: str
) -> None:
    call_id = three_calls(bot)[who]
    me = talk(bot, "young")
    first = me(payload=f"os:{call_id}")
    assert first.slots["step"] == "age_group"
    assert ("高校生以上" if who == "高校生OK" else "18歳以上") in first.text  # the rule, up front
    no = me(payload=f"f:v:{refused}")
    assert no.slots["step"] == "age_group"  # refused kindly, and a wrong tap can be fixed
    assert "ごめんなさい" in no.text
    assert {f"f:v:{code}" for code in AGE_GROUP_CODES} <= {c.payload for c in no.choices}
    assert "ol" in {c.payload for c in no.choices}  # a way to other calls, not only the ages
    assert me(payload="f:quit").intent == "sign_up"
    assert signed_up(bot, "young") == []
    assert bot.store.profile(bot.store.touch_user("test", "young", "ja").id).name is None


def test_someone_a_call_is_not_for_goes_on_to_the_other_calls_in_one_tap(
    bot: Conversation,
) -> None:
    call_id = three_calls(bot)["18歳以上"]
    me = talk(bot, "teen")
    me(payload=f"os:{call_id}")
    no = me(payload="f:v:hs")
    (others,) = [c for c in no.choices if c.payload == "ol"]
    found = me(payload=others.payload)
    assert found.intent == "find_openings"
    assert signed_up(bot, "teen") == []


def test_the_age_is_not_asked_twice_of_someone_it_admits(bot: Conversation) -> None:
    calls = three_calls(bot)
    me = talk(bot, "hana")
    replies = fill(me, calls["18歳以上"], age="30")
    assert steps(replies) == ["age_group", "consented", "name", "contact", "confirm"]
    assert me(payload="f:v:yes").slots["outcome"] == "confirmed"
    again = me(payload=f"os:{calls['高校生OK']}")  # known and admitted: straight to the preview
    assert again.slots["step"] == "confirm"


# --- three rules, three badges -------------------------------------------------------------


def test_anyone_high_school_and_adults_are_three_rules(bot: Conversation) -> None:
    calls = three_calls(bot)
    found = talk(bot, "look")("由比ヶ浜のボランティア")
    bodies = {card.title: card.body for card in found.cards}
    assert "【どなたでも】" in bodies["浜そうじ（どなたでも）"]
    assert "【高校生OK】" not in bodies["浜そうじ（どなたでも）"]
    assert "【高校生OK】" in bodies["浜そうじ（高校生OK）"]
    assert "【18歳以上】" in bodies["浜そうじ（18歳以上）"]
    assert len({b.split("【", 1)[1] for b in bodies.values()}) == 3

    kid = talk(bot, "kid")
    assert steps(fill(kid, calls["高校生OK"], age="u15"))[-1] == "age_group"  # refused
    kid(payload="f:quit")
    assert steps(fill(kid, calls["どなたでも"], age="u15"))[-1] == "confirm"
    assert kid(payload="f:v:yes").slots["outcome"] == "confirmed"
    teen = talk(bot, "teen")
    assert steps(fill(teen, calls["18歳以上"], age="hs"))[-1] == "age_group"  # refused
    teen(payload="f:quit")
    assert steps(fill(teen, calls["高校生OK"], age="hs"))[-1] == "confirm"
    assert teen(payload="f:v:yes").slots["outcome"] == "confirmed"
    assert signed_up(bot, "kid") == [calls["どなたでも"]]
    assert signed_up(bot, "teen") == [calls["高校生OK"]]


def test_a_call_keeps_its_rule_when_it_is_edited(bot: Conversation) -> None:
    calls = three_calls(bot)
    rep = talk(bot, "rep")
    for who, call_id in calls.items():
        preview = rep(payload=f"rc:edit:{call_id}")
        assert f"対象：{who}" in preview.text
        assert rep(payload="f:v:yes").intent == "post_call"
    found = talk(bot, "look")("由比ヶ浜のボランティア")
    for card in found.cards:
        who = card.title.removeprefix("浜そうじ（").removesuffix("）")
        assert f"【{who}】" in card.body


# --- 戻る and 直す on the preview ----------------------------------------------------------


def test_back_on_the_preview_goes_back_one_question(bot: Conversation) -> None:
    calls = three_calls(bot)
    me = talk(bot, "hana")
    assert steps(fill(me, calls["どなたでも"], age="18"))[-1] == "confirm"
    back = me("戻る")
    assert back.slots["step"] == "age_group"  # the question before the preview
    assert me(payload="f:back").slots["step"] == "contact"
    preview = me("hana2@example.jp")
    assert preview.slots["step"] == "confirm"  # the rest is known: the preview again
    assert "hana2@example.jp" in preview.text
    assert me("もどる").slots["step"] == "age_group"
    assert me(payload="f:v:30").slots["step"] == "confirm"
    assert me(payload="f:v:yes").slots["outcome"] == "confirmed"

    limited = me(payload=f"os:{calls['18歳以上']}")  # everything known: the preview at once
    assert limited.slots["step"] == "confirm"
    assert "f:back" in [c.payload for c in limited.choices]  # 戻る on every preview
    back = me(payload="f:back")
    assert back.slots["step"] == "contact"  # the last answer, which can be changed there
    again = me("hana3@example.jp")
    assert again.slots["step"] == "confirm"
    assert "hana3@example.jp" in again.text


def test_back_works_on_the_representatives_preview(bot: Conversation) -> None:
    rep = representative(bot)
    reply = rep(payload="rc:new")
    for answer in ["夜の見回り", *CALL, "どなたでも"]:
        reply = rep(answer)
    assert reply.slots["step"] == "bring"
    assert rep("軍手").slots["step"] == "confirm"
    assert rep("戻る").slots["step"] == "bring"
    preview = rep("なし")
    assert preview.slots["step"] == "confirm"
    assert rep(payload=choice(preview, "定員を直す")).slots["step"] == "capacity"
    assert rep("戻る").slots["step"] == "confirm"  # 戻る from a 直す: the preview again
    assert rep(payload=choice(preview, "定員を直す")).slots["step"] == "capacity"
    assert "定員：8人" in rep("8").text
    call_id = int(rep(payload="f:v:yes").slots["call_id"])
    assert rep(payload=f"rc:edit:{call_id}").slots["step"] == "confirm"
    assert rep(payload="f:back").slots["step"] == "bring"


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_each_answer_can_be_fixed_from_the_preview(bot: Conversation, locale: str) -> None:
    calls = three_calls(bot)
    me = talk(bot, "hana", locale)
    first, name = {"ja": ("山田はな", "山田ゆき"), "en": ("Hana Yamada", "Yuki Yamada")}[locale]
    preview = fill(me, calls["高校生OK"], age="hs", name=first)[-1]  # names in their language
    assert preview.locale == locale
    assert preview.slots["step"] == "confirm"
    labels = {
        "ja": ("年代を直す", "名前を直す", "連絡先を直す"),
        "en": ("Fix age group", "Fix name", "Fix contact"),
    }[locale]
    fix_age, fix_name, fix_contact = (choice(preview, label) for label in labels)
    assert me(payload=fix_age).slots["step"] == "age_group"
    assert me(payload="f:v:u15").slots["step"] == "age_group"  # not for this call: refused
    assert me(payload="f:back").slots["step"] == "confirm"  # 戻る: the preview, unchanged
    assert me(payload=fix_age).slots["step"] == "age_group"
    fixed = me(payload="f:v:65")
    assert fixed.slots["step"] == "confirm"
    assert ("65歳以上" if locale == "ja" else "65+") in fixed.text
    assert me(payload=fix_name).slots["step"] == "name"
    assert name in me(name).text
    assert me(payload=fix_contact).slots["step"] == "contact"
    assert "yuki@example.jp" in me("yuki@example.jp").text
    assert me(payload="f:v:yes").slots["outcome"] == "confirmed"
    profile = bot.store.profile(bot.store.touch_user("test", "hana", locale).id)
    assert (profile.name, profile.contact, profile.age_group) == (name, "yuki@example.jp", "65")


@pytest.mark.parametrize(
    ("typed", "group"),
    [("14歳", "u15"), ("15歳", None), ("16歳", "hs"), ("17", "hs"), ("18歳", "18"),
     ("中学3年", "u15"), ("高校1年", "hs"), ("６５歳", "65")],
)  # fmt: skip
def test_an_age_typed_is_read_and_fifteen_is_asked(
    conversation: Conversation, typed: str, group: str | None
) -> None:
    """15 can be 中学3年 or 高校1年: the buttons ask rather than guess (a guess refused
    high-school first-years on 高校生OK calls)."""
    from types import SimpleNamespace

    from intents.signup import _read_age

    turn = SimpleNamespace(messages=conversation.messages)
    assert _read_age(turn, typed) == group  # type: ignore[arg-type]


def test_a_question_while_the_form_waits_is_answered_with_the_way_back(
    bot: Conversation,
) -> None:
    """A resident asks something else mid-form: the answer, and 「入力にもどる」 first, which
    asks the waiting question again (the form is kept, not repeated with the answer)."""
    call_id = three_calls(bot)["どなたでも"]
    me = talk(bot, "q1")
    asked = me(payload=f"os:{call_id}")
    answered = me("協働って何？")
    assert answered.intent == "faq"
    assert answered.choices[0].payload == "f:resume"
    assert "同意" not in answered.text
    back = me(payload="f:resume")
    assert back.slots.get("step") == asked.slots["step"]
