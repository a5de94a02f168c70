"""Sign-ups, waiting lists, invites and the outbox on SQLite and PostgreSQL, with real
concurrency where users have it: two taps on the last place, two workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import Store
from storage.openings import CallDraft
from storage.store import GroupRecord
from tests.helpers import in_threads

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _setup(store: Store, capacity: int = 1) -> tuple[int, int]:
    """A group, a linked representative and one call; returns (rep user id, call id)."""
    store.import_groups(
        [GroupRecord("grp", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    rep = store.touch_user("test", "rep", "ja").id
    code, _ = store.issue_invite("grp", NOW) or ("", NOW)
    assert store.redeem_invite(rep, code, NOW)[0] == "linked"
    (group_id, _, _) = store.represented_groups(rep)[0]
    draft = CallDraft(
        title="浜そうじ",
        description="海岸のごみ拾い",
        field="environment",
        area="kamakura",
        place="由比ガ浜",
        meeting_point="駅前",
        starts_at=NOW + timedelta(days=10),
        ends_at=NOW + timedelta(days=10, hours=2),
        capacity=capacity,
    )
    call_id = store.create_call(rep, group_id, draft)
    assert call_id is not None
    return rep, call_id


def _users(store: Store, n: int) -> list[int]:
    """Volunteers who agreed and gave their details (sign_up checks them again)."""
    users = [store.touch_user("test", f"v{i}", "ja").id for i in range(n)]
    for i, user in enumerate(users):
        store.save_profile(user, name=f"v{i}", contact=f"v{i}@example.jp", age_group="30",
                           consent_at=NOW)  # fmt: skip
    return users


def test_two_taps_on_the_last_place_one_wins(store: Store) -> None:
    _, call_id = _setup(store, capacity=1)
    users = _users(store, 8)
    results = in_threads(8, lambda i: store.sign_up(users[i], call_id, NOW).outcome)
    assert sorted(results) == ["confirmed"] + ["full"] * 7  # type: ignore[type-var]
    call = store.get_call(call_id)
    assert call is not None
    assert (call.taken, call.capacity) == (1, 1)


def test_many_taps_never_overbook(store: Store) -> None:
    _, call_id = _setup(store, capacity=3)
    users = _users(store, 10)
    results = in_threads(10, lambda i: store.sign_up(users[i], call_id, NOW, wait=True).outcome)
    assert results.count("confirmed") == 3
    assert results.count("waiting") == 7
    volunteers = store.all_volunteers(call_id)
    assert sum(v.status == "confirmed" for v in volunteers) == 3


def test_same_user_twice_at_once_gets_one_place(store: Store) -> None:
    _, call_id = _setup(store, capacity=5)
    (user,) = _users(store, 1)
    results = in_threads(4, lambda _: store.sign_up(user, call_id, NOW).outcome)
    assert results.count("confirmed") == 1
    assert set(results) <= {"confirmed", "already"}
    call = store.get_call(call_id)
    assert call is not None
    assert call.taken == 1


def test_cancel_promotes_the_first_waiting(store: Store) -> None:
    _, call_id = _setup(store, capacity=1)
    a, b, c = _users(store, 3)
    first = store.sign_up(a, call_id, NOW)
    assert store.sign_up(b, call_id, NOW, wait=True).outcome == "waiting"
    assert store.sign_up(c, call_id, NOW, wait=True).outcome == "waiting"
    assert [m.position for m in store.my_sign_ups(c, NOW)] == [2]
    result = store.cancel_sign_up(a, first.sign_up_id or 0, NOW)
    assert (result.outcome, result.promoted_user_id) == ("cancelled", b)
    assert [m.status for m in store.my_sign_ups(b, NOW)] == ["confirmed"]
    assert [m.position for m in store.my_sign_ups(c, NOW)] == [1]
    call = store.get_call(call_id)
    assert call is not None
    assert (call.taken, call.waiting) == (1, 1)
    again = store.cancel_sign_up(a, first.sign_up_id or 0, NOW)
    assert again.outcome == "gone"


def test_only_own_sign_ups_can_be_cancelled(store: Store) -> None:
    _, call_id = _setup(store, capacity=2)
    a, b = _users(store, 2)
    signed = store.sign_up(a, call_id, NOW)
    assert store.cancel_sign_up(b, signed.sign_up_id or 0, NOW).outcome == "gone"


def test_closed_and_started_calls_take_nobody(store: Store) -> None:
    rep, call_id = _setup(store, capacity=2)
    (a,) = _users(store, 1)
    assert store.set_call_status(rep, call_id, "closed")
    assert store.sign_up(a, call_id, NOW).outcome == "closed"
    assert store.set_call_status(rep, call_id, "open")
    later = NOW + timedelta(days=11)
    assert store.sign_up(a, call_id, later).outcome == "started"


def test_invite_codes_work_once_and_expire(store: Store) -> None:
    store.import_groups([GroupRecord("g1", "会", fields=("children",), areas=("ofuna",))])
    users = _users(store, 4)
    code, expires = store.issue_invite("g1", NOW) or ("", NOW)
    assert expires == NOW + timedelta(days=7)
    outcomes = in_threads(4, lambda i: store.redeem_invite(users[i], code.lower(), NOW)[0])
    assert sorted(outcomes) == ["linked", "used", "used", "used"]  # type: ignore[type-var]
    old, _ = store.issue_invite("g1", NOW) or ("", NOW)
    assert store.redeem_invite(users[1], old, NOW + timedelta(days=8))[0] == "expired"
    assert store.redeem_invite(users[1], "ZZZZ-ZZZZ", NOW)[0] == "invalid"
    assert store.issue_invite("no-such-group", NOW) is None


def test_representatives_only_see_their_own_calls(store: Store) -> None:
    rep, call_id = _setup(store, capacity=2)
    (stranger,) = _users(store, 1)
    assert store.volunteers(stranger, call_id) is None
    assert store.own_call(stranger, call_id) is None
    assert store.set_call_status(stranger, call_id, "closed") is False
    assert store.calls_of(stranger) == []
    assert store.volunteers(rep, call_id) == []


def test_reminders_are_enqueued_once_by_two_workers(store: Store) -> None:
    _, call_id = _setup(store, capacity=3)
    users = _users(store, 2)
    for u in users:
        store.sign_up(u, call_id, NOW)
    day_before = NOW + timedelta(days=9, hours=12)
    due = store.reminders_due(day_before, day_before + timedelta(hours=36))
    assert len(due) == 2

    def enqueue_all(_: int) -> int:
        return sum(store.enqueue(u, "{}", dedupe_key=f"remind:{s}") for s, u, _c, _l in due)

    assert sum(in_threads(2, enqueue_all)) == 2  # type: ignore[arg-type]
    assert store.outbox_pending() == 2


def test_outbox_claims_are_exclusive(store: Store) -> None:
    users = [store.touch_user("line", f"U{i}", "ja").id for i in range(20)]
    for u in users:
        store.enqueue(u, '{"text": "x"}', deliver_after=NOW)
    claims = in_threads(3, lambda _: [d.id for d in store.claim_due(("line",), NOW)])
    claimed = [i for batch in claims for i in batch]  # type: ignore[attr-defined]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 20
    # A lease that ran out (the worker died) lets another worker take the message again.
    later = NOW + timedelta(minutes=5)
    assert len(store.claim_due(("line",), later)) == 20


def test_pull_delivery_for_chat_users(store: Store) -> None:
    (u,) = _users(store, 1)
    store.enqueue(u, "a", deliver_after=NOW)
    store.enqueue(u, "later", deliver_after=NOW + timedelta(hours=1))

    def pull(now: datetime) -> list[str]:
        return store.close_turn(u, {}, pull_notices=True, now=now)

    assert pull(NOW) == ["a"]
    assert pull(NOW) == []
    assert pull(NOW + timedelta(hours=2)) == ["later"]


def test_forget_user_cancels_and_deletes(store: Store) -> None:
    rep, call_id = _setup(store, capacity=1)
    a, b = _users(store, 2)
    store.save_profile(a, name="山田", contact="a@example.jp", age_group="18", consent_at=NOW)
    store.sign_up(a, call_id, NOW)
    store.sign_up(b, call_id, NOW, wait=True)
    results = store.forget_user(a, NOW)
    assert [(r.outcome, r.promoted_user_id) for r in results] == [("cancelled", b)]
    assert store.profile(a).name is None
    assert [v.name for v in store.volunteers(rep, call_id) or []] == ["v1"]  # b, moved up


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_below_taken_is_refused(store: Store, capacity: int) -> None:
    rep, call_id = _setup(store, capacity=2)
    (a,) = _users(store, 1)
    store.sign_up(a, call_id, NOW)
    call = store.own_call(rep, call_id)
    assert call is not None
    draft = CallDraft(
        title=call.title, description=call.description, field=call.field, area=call.area,
        place=call.place, meeting_point=call.meeting_point, starts_at=call.starts_at,
        ends_at=call.ends_at, capacity=capacity,
    )  # fmt: skip
    assert store.update_call(rep, call_id, draft) == "below_taken"


def test_timestamps_round_trip_in_utc(store: Store) -> None:
    from knowledge.when import TOKYO

    _, call_id = _setup(store)
    call = store.get_call(call_id)
    assert call is not None
    assert call.starts_at == NOW + timedelta(days=10)
    assert call.starts_at.astimezone(TOKYO).hour == 12  # 03:00 UTC is 12:00 in Kamakura


def test_openings_of_a_field_include_those_that_say_the_residents_word(store: Store) -> None:
    """「英語のボランティア」: the international calls, and any call whose title or
    description says 英語 (a guided tour in English is a tourism call). A word's % or _ is
    taken literally."""
    _setup(store)  # 浜そうじ, environment: 「海岸のごみ拾い」
    find = store.find_openings
    assert find(now=NOW, field="international")[1] == 0
    (found,), total = find(now=NOW, field="international", words=("ごみ拾い",))
    assert (found.title, total) == ("浜そうじ", 1)
    assert find(now=NOW, field="international", words=("100%",))[1] == 0
    assert find(now=NOW, field="international", words=("_",))[1] == 0
