"""The two rules of ``storage.call_changes``, on SQLite and PostgreSQL, through the
representative's and the console's front doors: a freed place goes to the first waiting person
(cancel, re-open, raised capacity, shown again), and a change tells everyone on the call, in
the change's own transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.worker import Worker
from intents.conversation import Conversation
from intents.notices import teller
from intents.types import Inbound, Reply
from knowledge.faq import FaqIndex
from storage import Store
from storage.call_changes import CallChange
from storage.openings import CallDraft
from storage.store import GroupRecord
from tests.helpers import in_threads, told

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday, 12:00 in Kamakura
START = NOW + timedelta(days=10)


@pytest.fixture
def bot(store: Store, faq_index: FaqIndex) -> Conversation:
    conversation = Conversation(store, faq_index=faq_index)
    conversation.clock = lambda: NOW
    store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    return conversation


def talk(bot: Conversation, user: str) -> Callable[..., Reply]:
    def send(text: str | None = None, payload: str | None = None) -> Reply:
        return bot.handle(Inbound("test", user, text=text, payload=payload))

    return send


def _draft(capacity: int, starts_at: datetime = START, place: str = "由比ガ浜") -> CallDraft:
    return CallDraft(
        title="浜そうじ",
        description="海岸のごみ拾い",
        field="environment",
        area="kamakura",
        place=place,
        meeting_point="駅前",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        capacity=capacity,
    )


def _call(bot: Conversation, capacity: int) -> tuple[Callable[..., Reply], int, int]:
    """A linked representative (talking through the bot) and one call of theirs."""
    store = bot.store
    rep = talk(bot, "rep")
    rep("こんにちは")
    rep_id = store.touch_user("test", "rep", "ja").id
    code, _ = store.issue_invite("umi", NOW) or ("", NOW)
    assert rep(f"招待コード {code}").intent == "link_group"
    (group_id, _, _) = store.represented_groups(rep_id)[0]
    call_id = store.create_call(rep_id, group_id, _draft(capacity))
    assert call_id is not None
    return rep, rep_id, call_id


def _people(bot: Conversation, call_id: int, names: list[str]) -> dict[str, int]:
    """Sign each name up in order (confirmed while places last, then waiting)."""
    ids = {}
    for name in names:
        user = _volunteer(bot.store, name)
        assert bot.store.sign_up(user, call_id, NOW, wait=True).outcome in ("confirmed", "waiting")
        ids[name] = user
    return ids


def _volunteer(store: Store, name: str) -> int:
    """A resident who has consented and given their details (sign-ups check them)."""
    user = store.touch_user("test", name, "ja").id
    store.save_profile(user, name=name, contact=f"{name}@example.jp", age_group="30",
                       consent_at=NOW)  # fmt: skip
    return user


def _statuses_by_user(store: Store, call_id: int, people: dict[str, int]) -> dict[str, str]:
    out = {}
    for name, user in people.items():
        mine = [m for m in store.my_sign_ups(user, NOW) if m.call.id == call_id]
        out[name] = mine[0].status if mine else "none"
    return out


# --- a place becomes free: the first waiting person gets it, and is told ----------------------


def test_a_cancellation_on_a_closed_call_goes_to_the_waiting_list_not_a_newcomer(
    bot: Conversation,
) -> None:
    rep, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob"])
    assert rep(payload=f"rc:close:{call_id}").intent == "manage_call"
    mine = bot.store.my_sign_ups(people["amy"], NOW)[0]
    bot.store.cancel_sign_up(people["amy"], mine.id, NOW, tell=teller(bot.messages))
    assert rep(payload=f"rc:open:{call_id}").intent == "manage_call"
    newcomer = _volunteer(bot.store, "cat")
    assert bot.store.sign_up(newcomer, call_id, NOW, wait=True).outcome == "waiting"
    assert _statuses_by_user(bot.store, call_id, people)["bob"] == "confirmed"
    assert any("参加できることになりました" in t for t in told(bot.store, people["bob"]))


def test_re_opening_gives_free_places_to_the_waiting_list(bot: Conversation) -> None:
    """A place freed while the call was hidden (no place is given then) goes, when the center
    shows it again, to the first waiting person."""
    _, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob", "cat"])
    tell = teller(bot.messages)
    assert bot.store.hide_call(call_id, "確認のため", NOW, tell)
    mine = bot.store.my_sign_ups(people["amy"], NOW)[0]
    bot.store.cancel_sign_up(people["amy"], mine.id, NOW, tell=tell)
    assert _statuses_by_user(bot.store, call_id, people)["bob"] == "waiting"  # not while hidden
    assert bot.store.unhide_call(call_id, NOW, tell)
    assert _statuses_by_user(bot.store, call_id, people) == {
        "amy": "none",
        "bob": "confirmed",
        "cat": "waiting",
    }
    assert any("参加できることになりました" in t for t in told(bot.store, people["bob"]))
    assert any("公開が再開" in t and "1番目" in t for t in told(bot.store, people["cat"]))


def test_a_raised_capacity_goes_to_the_waiting_list_in_order(bot: Conversation) -> None:
    _, rep_id, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob", "cat", "dan"])
    outcome = bot.store.update_call(rep_id, call_id, _draft(3), NOW, tell=teller(bot.messages))
    assert outcome == "updated"
    assert _statuses_by_user(bot.store, call_id, people) == {
        "amy": "confirmed",
        "bob": "confirmed",
        "cat": "confirmed",
        "dan": "waiting",
    }
    call = bot.store.get_call(call_id)
    assert call is not None
    assert (call.taken, call.waiting) == (3, 1)
    for name in ("bob", "cat"):
        assert any("参加できることになりました" in t for t in told(bot.store, people[name]))
    assert told(bot.store, people["dan"]) == []  # a capacity change alone is news to nobody else
    assert any("2人が繰り上がって" in t for t in told(bot.store, rep_id))


def test_moved_up_from_the_waiting_list_the_notice_offers_the_calendar(bot: Conversation) -> None:
    """The same 「カレンダーに追加」 a sign-up's confirmation has (its own sign-up, a link)."""
    import json

    from sqlmodel import col, select

    from storage.models import OutboxMessage

    _, rep_id, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob"])
    assert bot.store.update_call(rep_id, call_id, _draft(2), NOW, tell=teller(bot.messages))
    (mine,) = [m for m in bot.store.my_sign_ups(people["bob"], NOW) if m.call.id == call_id]
    with bot.store.session() as s:
        (notice,) = s.exec(
            select(OutboxMessage.body).where(col(OutboxMessage.user_id) == people["bob"])
        ).all()
    choices = json.loads(notice)["choices"]
    assert [c["payload"] for c in choices] == [f"cal:{mine.id}", "mine"]
    assert choices[0]["label"] == "カレンダーに追加"
    assert choices[0]["url"].startswith("https://calendar.google.com/calendar/render?")
    assert "%E6%B5%9C%E3%81%9D%E3%81%86%E3%81%98" in choices[0]["url"]  # 浜そうじ


def test_a_newcomer_never_goes_ahead_of_the_waiting_list(bot: Conversation) -> None:
    """Even with a place free outside the rules (an older version, a hand edit), a newcomer
    joins the queue behind the person waiting."""
    from sqlalchemy import update

    from storage.models import RecruitmentCall

    _, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob"])
    with bot.store.session() as s:
        s.execute(update(RecruitmentCall).values(capacity=2))
    newcomer = _volunteer(bot.store, "cat")
    assert bot.store.sign_up(newcomer, call_id, NOW, wait=True).outcome == "waiting"
    assert bot.store.sign_up(_volunteer(bot.store, "dan"), call_id, NOW).outcome == "full"
    assert _statuses_by_user(bot.store, call_id, people)["bob"] == "waiting"


# --- a call changes: everyone on it is told ---------------------------------------------------


def test_closing_tells_the_waiting_list_their_place_stays(bot: Conversation) -> None:
    rep, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob", "cat"])
    rep(payload=f"rc:close:{call_id}")
    assert told(bot.store, people["amy"]) == []  # a confirmed place is not affected
    assert "2番目" in told(bot.store, people["cat"])[0]
    assert "締め切られました" in told(bot.store, people["bob"])[0]
    rep(payload=f"rc:open:{call_id}")  # and open again: the waiting list hears that too
    assert "受付が再開されました" in told(bot.store, people["bob"])[-1]
    assert "2番目" in told(bot.store, people["cat"])[-1]


def test_editing_the_date_warns_the_representative_and_tells_everyone(bot: Conversation) -> None:
    rep, rep_id, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob"])
    preview = rep(payload=f"rc:edit:{call_id}")
    assert "2人が申し込んでいます" in preview.text
    moved = _draft(1, starts_at=START + timedelta(days=1), place="材木座")
    assert bot.store.update_call(rep_id, call_id, moved, NOW, tell=teller(bot.messages))
    for name in ("amy", "bob"):
        (text,) = told(bot.store, people[name])
        assert "日時・場所" in text
        assert "材木座" in text
    assert told(bot.store, rep_id) == []


def test_hiding_tells_the_group_and_everyone_and_stops_reminders(bot: Conversation) -> None:
    _rep, rep_id, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob"])
    assert bot.store.hide_call(call_id, "連絡先が不明", NOW, teller(bot.messages))
    assert "連絡先が不明" in told(bot.store, rep_id)[0]
    for name in ("amy", "bob"):
        (text,) = told(bot.store, people[name])
        assert "公開を止めています" in text
        assert "連絡先が不明" not in text  # the reason is for the group
    mine = talk(bot, "amy")(payload="mine")
    assert "公開停止中" in mine.cards[0].body
    assert bot.store.reminders_due(NOW, START + timedelta(days=1)) == []


def test_a_fixed_hidden_call_goes_back_for_review_and_staff_can_show_it(
    bot: Conversation,
) -> None:
    _rep, rep_id, call_id = _call(bot, capacity=2)
    people = _people(bot, call_id, ["amy"])
    tell = teller(bot.messages)
    bot.store.hide_call(call_id, "説明が足りません", NOW, tell)
    assert bot.store.update_call(rep_id, call_id, _draft(2), NOW, tell) == "in_review"
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.status == "review"
    assert bot.store.set_call_status(rep_id, call_id, "open", NOW, tell) is False  # staff decide
    assert bot.store.unhide_call(call_id, NOW, tell)
    call = bot.store.get_call(call_id)
    assert call is not None
    assert (call.status, call.hidden_reason) == ("open", None)
    assert any("公開が再開" in t for t in told(bot.store, people["amy"]))


def test_calling_off_tells_everyone_and_no_reminder_goes_out(bot: Conversation) -> None:
    rep, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob"])
    ask = rep(payload=f"rc:off:{call_id}")
    assert "2人" in ask.text
    assert [c.payload for c in ask.choices] == [f"rc:offx:{call_id}", "rc:mine"]
    assert rep(payload=f"rc:offx:{call_id}").intent == "manage_call"
    for name in ("amy", "bob"):
        assert "中止になりました" in told(bot.store, people[name])[0]
    card = talk(bot, "amy")(payload="mine").cards[0]
    assert "中止になりました" in card.body
    assert card.buttons == ()  # nothing to cancel on an activity that is not happening
    assert bot.store.reminders_due(NOW, START + timedelta(days=1)) == []
    assert rep(payload=f"rc:open:{call_id}").intent == "manage_call"  # refused: it is final
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.status == "cancelled"


def test_a_change_and_its_notices_are_one_transaction(bot: Conversation) -> None:
    """If the notices cannot be written, the change does not happen either."""
    _rep, rep_id, call_id = _call(bot, capacity=1)
    _people(bot, call_id, ["amy", "bob"])

    def broken(change: CallChange) -> list[object]:
        raise RuntimeError("notices failed")

    with pytest.raises(RuntimeError):
        bot.store.set_call_status(rep_id, call_id, "cancelled", NOW, tell=broken)  # type: ignore[arg-type]
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.status == "open"


def test_a_reminder_follows_a_moved_date(bot: Conversation) -> None:
    """The reminder is keyed by the call's start: moved after one went out, it comes again."""
    _, rep_id, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy"])
    worker = Worker(bot, {})
    evening_before = START - timedelta(hours=13)  # 18:00 Tokyo the day before, and after
    assert worker._enqueue_reminders(evening_before + timedelta(minutes=1)) == 1
    later = START + timedelta(days=7)
    bot.store.update_call(rep_id, call_id, _draft(1, starts_at=later), NOW, teller(bot.messages))
    assert worker._enqueue_reminders(later - timedelta(hours=12, minutes=59)) == 1
    reminders = [t for t in told(bot.store, people["amy"]) if "明日は" in t]
    assert len(reminders) == 2


# --- representatives: their menu, and unlinking ----------------------------------------------


def test_representatives_see_their_entries_in_the_menu_and_can_unlink(bot: Conversation) -> None:
    rep, rep_id, _ = _call(bot, capacity=1)
    payloads = [c.payload for c in rep("メニュー").choices]
    assert payloads[:2] == ["rc:new", "rc:mine"]
    assert len(payloads) <= 13
    resident = [c.payload for c in talk(bot, "amy")("メニュー").choices]
    assert "rc:new" not in resident
    assert "rc:mine" not in resident
    ask = rep(payload="rc:unlink")
    (group_id, _, _) = bot.store.represented_groups(rep_id)[0]
    assert ask.choices[0].payload == f"rc:unlinkx:{group_id}"
    assert rep(payload=ask.choices[0].payload).intent == "unlink_group"
    assert bot.store.represented_groups(rep_id) == []
    assert "rc:new" not in [c.payload for c in rep("メニュー").choices]
    assert rep(payload=f"rc:unlinkx:{group_id}").intent == "manage_call"  # not theirs now


# --- found in review: order, double submits, language, reminders, races ----------------------


def test_rejoining_the_waiting_list_goes_to_its_end(bot: Conversation) -> None:
    _, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy", "bob", "cat"])
    bob = next(m for m in bot.store.my_sign_ups(people["bob"], NOW) if m.call.id == call_id)
    bot.store.cancel_sign_up(people["bob"], bob.id, NOW)
    assert bot.store.sign_up(people["bob"], call_id, NOW, wait=True).outcome == "waiting"
    positions = {
        name: bot.store.my_sign_ups(user, NOW)[0].position
        for name, user in people.items()
        if name != "amy"
    }
    assert positions == {"bob": 2, "cat": 1}
    amy = bot.store.my_sign_ups(people["amy"], NOW)[0]
    bot.store.cancel_sign_up(people["amy"], amy.id, NOW)
    assert _statuses_by_user(bot.store, call_id, people)["cat"] == "confirmed"


def test_hiding_twice_tells_once_and_showing_again_keeps_a_closed_call_closed(
    bot: Conversation,
) -> None:
    rep, _, call_id = _call(bot, capacity=1)
    people = _people(bot, call_id, ["amy"])
    rep(payload=f"rc:close:{call_id}")
    tell = teller(bot.messages)
    assert bot.store.hide_call(call_id, "確認のため", NOW, tell)
    assert bot.store.hide_call(call_id, "確認のため", NOW, tell)  # the form sent twice
    assert len([t for t in told(bot.store, people["amy"]) if "公開を止めて" in t]) == 1
    assert bot.store.unhide_call(call_id, NOW, tell)
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.status == "closed"


def test_calling_off_and_cancelling_withdraw_queued_reminders(bot: Conversation) -> None:
    _, rep_id, call_id = _call(bot, capacity=3)
    people = _people(bot, call_id, ["amy", "bob"])
    worker = Worker(bot, {})
    assert worker._enqueue_reminders(START - timedelta(hours=12)) == 2
    amy = bot.store.my_sign_ups(people["amy"], NOW)[0]
    bot.store.cancel_sign_up(people["amy"], amy.id, NOW)
    assert not [t for t in told(bot.store, people["amy"]) if "明日は" in t]
    bot.store.set_call_status(rep_id, call_id, "cancelled", NOW, teller(bot.messages))
    assert not [t for t in told(bot.store, people["bob"]) if "明日は" in t]
    assert any("中止" in t for t in told(bot.store, people["bob"]))
    assert told(bot.store, rep_id) == []  # who called it off is not told of it


def test_reminders_and_group_notices_are_in_each_readers_language(bot: Conversation) -> None:
    _, rep_id, call_id = _call(bot, capacity=3)
    eve = bot.store.touch_user("test", "eve", "en").id
    bot.store.save_profile(eve, name="Eve", contact="eve@example.jp", age_group="30",
                           consent_at=NOW)  # fmt: skip
    assert bot.store.sign_up(eve, call_id, NOW, tell=teller(bot.messages)).outcome == "confirmed"
    (to_rep,) = told(bot.store, rep_id)
    assert "新しい申し込み" in to_rep
    assert "30〜64歳" in to_rep  # the group reads Japanese, whatever the volunteer writes in
    Worker(bot, {})._enqueue_reminders(START - timedelta(hours=12))
    (reminder,) = told(bot.store, eve)
    assert "明日" not in reminder
    assert "浜そうじ" in reminder


def test_a_sign_up_and_its_notice_are_one_transaction(bot: Conversation) -> None:
    _, _, call_id = _call(bot, capacity=3)
    amy = _volunteer(bot.store, "amy")

    def broken(change: CallChange) -> list[object]:
        raise RuntimeError("notices failed")

    with pytest.raises(RuntimeError):
        bot.store.sign_up(amy, call_id, NOW, tell=broken)  # type: ignore[arg-type]
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.taken == 0


def test_fixing_a_hidden_call_tells_its_participants_what_changed(bot: Conversation) -> None:
    _, rep_id, call_id = _call(bot, capacity=2)
    people = _people(bot, call_id, ["amy"])
    tell = teller(bot.messages)
    bot.store.hide_call(call_id, "日時の誤り", NOW, tell)
    moved = _draft(2, starts_at=START + timedelta(days=1))
    assert bot.store.update_call(rep_id, call_id, moved, NOW, tell) == "in_review"
    assert any("内容が変わりました" in t for t in told(bot.store, people["amy"]))


def test_taps_and_cancels_at_once_never_leave_a_place_free_behind_a_queue(
    bot: Conversation,
) -> None:
    """Cancels and sign-ups racing on one call (real threads; on PostgreSQL the call's row
    lock orders them): whatever the order, no free place sits in front of a waiting person
    and nobody is booked twice over the capacity."""
    _, _, call_id = _call(bot, capacity=2)
    people = _people(bot, call_id, ["amy", "bob"])
    newcomers = [_volunteer(bot.store, f"n{i}") for i in range(6)]
    mine = {u: bot.store.my_sign_ups(u, NOW)[0].id for u in people.values()}
    jobs: list[Callable[[], object]] = [
        *(lambda u=u: bot.store.cancel_sign_up(u, mine[u], NOW) for u in people.values()),
        *(lambda u=u: bot.store.sign_up(u, call_id, NOW, wait=True) for u in newcomers),
    ]
    in_threads(len(jobs), lambda i: jobs[i]())
    call = bot.store.get_call(call_id)
    assert call is not None
    confirmed = [v for v in bot.store.all_volunteers(call_id) if v.status == "confirmed"]
    assert call.taken == len(confirmed) <= call.capacity
    if call.waiting:
        assert call.taken == call.capacity


def test_a_yes_or_a_no_typed_answers_a_two_button_question(bot: Conversation) -> None:
    """Found by hand: 「はい」 to 「キャンセルしますか？」 and 「やめておく」 to
    「中止にしますか？」 fell to the fallback."""
    rep, _, call_id = _call(bot, capacity=2)
    people = _people(bot, call_id, ["amy"])
    amy = talk(bot, "amy")
    card = amy("予約確認").cards[0]
    asked = amy(payload=card.buttons[0].payload)
    assert amy("はい").intent == "cancel_sign_up"
    assert bot.store.my_sign_ups(people["amy"], NOW) == []
    assert asked.intent == "my_sign_ups"

    off = rep(payload=f"rc:off:{call_id}")
    assert off.intent == "manage_call"
    assert rep("やめておく").intent == "my_calls"  # the button's own label, typed
    call = bot.store.get_call(call_id)
    assert call is not None
    assert call.status == "open"
    rep(payload=f"rc:off:{call_id}")
    assert rep("いいえ").intent == "my_calls"
    assert rep("はい").intent != "manage_call"  # asked no longer: a yes means nothing here

    menu = talk(bot, "bob")("メニュー")
    label = next(c.label for c in menu.choices if c.payload == "ol")
    assert talk(bot, "bob")(label).intent == "find_openings"  # a menu label typed is the tap
