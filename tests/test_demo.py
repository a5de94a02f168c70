"""The demo `make run` starts with (issue 16), on SQLite and PostgreSQL: the sample groups come
with sample recruitment calls to try (dated from the app's today on, one full with a waiting
list, one 18歳以上), removing the samples removes them and tells nobody about the sample
people's sign-ups; and the FAQ's "how do I start" answers carry buttons to the finders."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, func, select

import knowledge
from bot.config import Settings
from bot.directory_csv import import_csv, read_sample_calls
from bot.runtime import open_conversation
from bot.worker import Worker
from intents.conversation import Conversation
from intents.types import Card, Inbound, Reply
from knowledge.faq import FaqError, load_entries
from knowledge.fields import FieldIndex
from knowledge.places import PlaceIndex
from knowledge.when import TOKYO
from storage.models import Group, OutboxMessage, RecruitmentCall, SignUp, User
from storage.samples import SAMPLE_PLATFORM
from tests.helpers import throwaway_postgres, told

NOW = datetime.fromisoformat("2026-12-04T19:00+09:00")  # a Friday evening in Kamakura
SAMPLE_CALLS = tomllib.loads(
    Path(knowledge.__file__).with_name("sample_calls.toml").read_text(encoding="utf-8")
)["call"]


@contextmanager
def app(db_url: str, now: datetime = NOW, *, samples: bool = True) -> Iterator[Conversation]:
    """The core as `make run` builds it (bot/runtime.py), with the clock fixed at ``now``."""
    conversation = open_conversation(
        Settings(database_url=db_url, fixed_now=now, sample_groups=samples)
    )
    try:
        yield conversation
    finally:
        conversation.store.close()


@contextmanager
def another_database(db_url: str, tmp_path: Path, postgres_admin_url: str | None) -> Iterator[str]:
    """A second empty database of the same kind as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    assert postgres_admin_url is not None
    with throwaway_postgres(postgres_admin_url) as url:
        yield url


def say(c: Conversation, text: str, user: str = "u1", locale: str = "ja") -> Reply:
    return c.handle(Inbound("test", user, text=text, locale=locale))


def tap(c: Conversation, payload: str, user: str = "u1") -> Reply:
    return c.handle(Inbound("test", user, payload=payload))


def every_opening(c: Conversation, first: Reply, user: str = "u1") -> list[Card]:
    """The cards of a search's every page (「もっと見る」 until there is none)."""
    cards, reply = list(first.cards), first
    while any(choice.payload == "om" for choice in reply.choices):
        reply = tap(c, "om", user)
        cards += reply.cards
    return cards


def count(c: Conversation, model: type, *where: object) -> int:
    with c.store.session() as s:
        stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int(s.exec(stmt).one())


# --- the sample calls ------------------------------------------------------------------------


def test_a_fresh_demo_has_openings_to_try(db_url: str) -> None:
    with app(db_url) as c:
        menu = tap(c, "menu")
        assert "ボランティアをさがす" in [choice.label for choice in menu.choices]
        found = say(c, "ボランティアをさがす")  # the menu's button, typed (or tapped)
        assert found.intent == "find_openings"
        cards = every_opening(c, found)
        assert len(cards) == len(SAMPLE_CALLS)
        assert all(card.title.startswith("【サンプル】") for card in cards)
        assert all("※サンプル" in card.body for card in cards)
        full = [card for card in cards if "満員（キャンセル待ち2人）" in card.body]
        assert len(full) == 1
        assert full[0].buttons[0].label == "キャンセル待ちする"
        assert sum("残り" in card.body for card in cards) == len(SAMPLE_CALLS) - 1
        assert sum("【18歳以上】" in card.body for card in cards) == 1
        areas = {card.body.split("📍 ")[1].split("\n")[0].split("（")[-1] for card in cards}
        assert len(areas) == 5  # every 地域 has one
        # One in detail: where to meet.
        detail_payload = next(b.payload for b in cards[0].buttons if b.payload.startswith("od:"))
        detail = tap(c, detail_payload)
        assert "集合：江ノ電 由比ヶ浜駅の改札前" in detail.cards[0].body


def test_sample_calls_are_dated_from_the_apps_today_on(db_url: str) -> None:
    with app(db_url) as c:
        calls, total = c.store.find_openings(now=NOW, limit=20)
    assert total == len(SAMPLE_CALLS)
    today = NOW.astimezone(TOKYO).date()
    days = sorted((call.starts_at.astimezone(TOKYO).date() - today).days for call in calls)
    assert days == sorted(int(raw["days"]) for raw in SAMPLE_CALLS)
    assert all(call.starts_at > NOW and call.ends_at > call.starts_at for call in calls)
    first = min(calls, key=lambda call: call.starts_at)
    # The beach clean-up is on the coming weekend: Saturday, the day after this Friday.
    assert first.starts_at.astimezone(TOKYO).isoformat() == "2026-12-05T08:00:00+09:00"


@pytest.mark.parametrize("weekday", range(6))  # Monday to Saturday
def test_the_welcomes_own_example_finds_an_opening_whatever_the_day(
    db_url: str, weekday: int
) -> None:
    """「今週末 由比ヶ浜でボランティア」 (the welcome's example) found nothing on a Thursday:
    the beach clean-up is dated on the coming weekend."""
    monday = datetime.fromisoformat("2026-11-30T07:00+09:00")
    now = monday + timedelta(days=weekday)
    with app(db_url, now) as c:
        reply = say(c, "今週末 由比ヶ浜でボランティア")
        assert reply.intent == "find_openings"
        assert any("ビーチクリーン" in card.title for card in reply.cards), reply.text


def test_a_demo_that_runs_for_weeks_still_shows_openings_from_today_on(db_url: str) -> None:
    """The sample calls are dated when the demo is made; a server that runs on (or is
    started again) weeks later moves those that have begun forward by whole weeks."""
    with app(db_url) as c:
        before = {call.id: call for call in c.store.find_openings(now=NOW, limit=20)[0]}
    later = NOW + timedelta(days=40)
    with app(db_url, later) as c:
        calls, total = c.store.find_openings(now=later, limit=20)
        assert total == len(SAMPLE_CALLS)
        for call in calls:
            assert call.starts_at > later
            moved = call.starts_at - before[call.id].starts_at
            assert moved.days % 7 == 0  # the same weekday
            assert moved.seconds == 0  # and time
            assert moved < timedelta(days=47)
        full = [call for call in calls if call.taken >= call.capacity]
        assert len(full) == 1  # their sample sign-ups stayed


def test_a_server_left_running_moves_begun_sample_calls_in_its_hourly_prune(db_url: str) -> None:
    later = NOW + timedelta(days=10)
    with app(db_url) as c:
        assert asyncio.run(Worker(c, clock=lambda: later).prune()) == 0  # moves are not rows gone
        calls, total = c.store.find_openings(now=later, limit=20)
        assert total == len(SAMPLE_CALLS)
        assert all(call.starts_at > later for call in calls)


def test_a_later_clock_moves_the_demo_with_it() -> None:
    fields, places = FieldIndex.load(), PlaceIndex.load()
    later = NOW + timedelta(days=100)
    _, now_calls = read_sample_calls(NOW, fields, places)
    _, later_calls = read_sample_calls(later, fields, places)
    for raw, a, b in zip(SAMPLE_CALLS, now_calls, later_calls, strict=True):
        moved = b.draft.starts_at - a.draft.starts_at
        if "weekdays" in raw:  # the first Saturday or Sunday from then on
            assert b.draft.starts_at.astimezone(TOKYO).weekday() in (5, 6)
            assert abs(moved - timedelta(days=100)) < timedelta(days=7)
        else:
            assert moved == timedelta(days=100)
        assert b.draft.starts_at > later


def test_the_full_sample_call_is_held_by_sample_people_nobody_can_reach(db_url: str) -> None:
    with app(db_url) as c:
        with c.store.session() as s:
            people = s.exec(select(User).where(col(User.platform) == SAMPLE_PLATFORM)).all()
            full = s.exec(
                select(RecruitmentCall).where(
                    col(RecruitmentCall.taken) == col(RecruitmentCall.capacity)
                )
            ).one()
            on_full = s.exec(
                select(SignUp.status, SignUp.user_id)
                .where(col(SignUp.call_id) == full.id)
                .order_by(col(SignUp.id))
            ).all()
        assert len(people) == 5
        assert all((p.name or "").startswith("サンプル 利用者") for p in people)
        assert not any(p.active for p in people)  # the worker never delivers to them
        assert [status for status, _ in on_full] == ["confirmed"] * full.capacity + ["waiting"] * 2
        assert {u for _, u in on_full} <= {p.id for p in people}
        assert c.store.count_users() == 0  # nobody has written yet
        assert count(c, OutboxMessage) == 0
        # Nor are reminders queued for them, however near the call is.
        assert c.store.reminders_due(full.starts_at - timedelta(hours=3), full.starts_at) == []


def test_removing_the_samples_removes_the_demo_and_tells_only_real_people(db_url: str) -> None:
    with app(db_url) as c:
        assert count(c, RecruitmentCall) == len(SAMPLE_CALLS)
        # A real person tries the demo: they sign up for the beach clean-up.
        resident = c.store.touch_user("test", "resident", "ja").id
        c.store.save_profile(
            resident, name="試す人", contact="t@example.jp", age_group="30", consent_at=NOW
        )
        beach = next(call for call in c.store.find_openings(now=NOW, limit=20)[0]
                     if "ビーチクリーン" in call.title)  # fmt: skip
        assert c.store.sign_up(resident, beach.id, NOW).outcome == "confirmed"
        shown = c.store.sample_directory(NOW)
        assert shown.people == 1  # the sample people are nobody
        sign_ups = sum(
            len(r.get("confirmed", [])) + len(r.get("waiting", [])) for r in SAMPLE_CALLS
        )
        assert shown.sign_ups == sign_ups + 1

        result = c.store.remove_samples(lambda a: '{"text": "サンプル削除"}', now=NOW)

        assert result.removed
        assert count(c, Group) == 0
        assert count(c, RecruitmentCall) == 0
        assert count(c, SignUp) == 0
        assert count(c, User, col(User.platform) == SAMPLE_PLATFORM) == 0
        assert count(c, OutboxMessage) == 1  # the real person's notice, no other
        assert told(c.store, resident) == ["サンプル削除"]


def test_the_demo_calls_come_only_into_an_empty_directory_with_samples_on(
    db_url: str, tmp_path: Path, postgres_admin_url: str | None
) -> None:
    with app(db_url, samples=False) as c:  # SAMPLE_GROUPS=0
        assert (count(c, Group), count(c, RecruitmentCall), count(c, User)) == (0, 0, 0)
        csv = "key,name,fields,areas\nreal-1,本物の会,環境,腰越\n"
        _, summary = import_csv(c.store, csv.encode(), c.fields, c.places)
        assert summary is not None
    with app(db_url) as c:  # samples on, but the directory has a group
        assert (count(c, Group), count(c, RecruitmentCall), count(c, User)) == (1, 0, 0)
    with another_database(db_url, tmp_path, postgres_admin_url) as empty:
        with app(empty) as c:  # an empty directory: the demo, calls and all
            assert count(c, RecruitmentCall) == len(SAMPLE_CALLS)
        with app(empty) as c:  # started again: not made twice
            assert count(c, RecruitmentCall) == len(SAMPLE_CALLS)


def test_a_sample_call_must_say_it_is_one(tmp_path: Path) -> None:
    shipped = Path(knowledge.__file__).with_name("sample_calls.toml").read_text(encoding="utf-8")
    unmarked = tmp_path / "calls.toml"
    unmarked.write_text(shipped.replace("【サンプル】朝の", "朝の", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="not marked"):
        read_sample_calls(NOW, FieldIndex.load(), PlaceIndex.load(), unmarked)


# --- finder buttons on the "how do I start" answers -------------------------------------------


@pytest.mark.parametrize(
    ("question", "entry"),
    [("ボランティアを始めたい", "start-volunteer"), ("若い人でも参加できる？", "young-people")],
)
def test_starting_answers_carry_the_finders(
    conversation: Conversation, question: str, entry: str
) -> None:
    reply = say(conversation, question)
    assert reply.slots["faq_id"] == entry
    labels = [(choice.label, choice.payload) for choice in reply.choices]
    assert labels[:2] == [("ボランティアをさがす", "ol"), ("団体をさがす", "gs")]
    assert labels[2][1].startswith("faq:")  # then the related questions
    assert tap(conversation, "gs").intent == "find_groups"
    say(conversation, question)
    assert tap(conversation, "ol").intent == "find_openings"


def test_the_finders_are_labelled_in_english_too(conversation: Conversation) -> None:
    reply = say(conversation, "How can I start volunteering?", locale="en")
    assert [c.label for c in reply.choices[:2]] == ["Find volunteering", "Find groups"]


def test_tapping_a_finder_starts_it(conversation: Conversation) -> None:
    say(conversation, "若い人でも参加できる？")
    asked = say(conversation, "団体をさがす")  # the button's label, typed: the same as a tap
    assert asked.intent == "find_groups"
    assert asked.text == conversation.messages.get("groups_ask_field", "ja")


def test_an_unknown_action_is_refused(tmp_path: Path) -> None:
    entry = """[[entry]]
id = "x"
section = "1"
source = "指針 1"
label = "x"
questions = ["x"]
answer = "x"
actions = ["find_everything"]
"""
    (tmp_path / "s1.toml").write_text(entry, encoding="utf-8")
    with pytest.raises(FaqError, match="unknown actions"):
        load_entries(tmp_path)
