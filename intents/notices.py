"""What people are told when a recruitment call changes: the words for
:mod:`storage.call_changes`' rule "a call changes → everyone on it is told".

:func:`teller` returns the ``tell`` that storage calls inside the change's own transaction, so
the notices and the change are committed together. Each person is told in their own language.

| change | told |
|---|---|
| a sign-up cancelled | the group's representatives; whoever moved up |
| closed | the waiting list (their place stays) |
| re-opened, more places, shown again | who moved up, the group; re-open: the waiting list |
| date, time or place edited | everyone confirmed or waiting |
| hidden by the center | the representatives (with the reason); everyone on it (without) |
| shown again by the center | the representatives; everyone on it |
| called off | everyone confirmed or waiting |
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, time, timedelta

from intents.types import Choice
from knowledge.messages import Messages
from knowledge.when import TOKYO, format_span
from storage.call_changes import CallChange, Notice, Person, Tell
from storage.openings import CallView

MINE = "mine"  # the resident's 「予約確認」
CALLS = "rc:mine"  # the representative's 「自分の募集」


def body(text: str, choices: list[Choice]) -> str:
    """An outbox body: the text and its buttons, as the worker and adapters read it."""
    return json.dumps(
        {"text": text, "choices": [{"label": c.label, "payload": c.payload} for c in choices]},
        ensure_ascii=False,
    )


def teller(messages: Messages, *, reason: str = "") -> Tell:
    """The ``tell`` for one change; ``reason`` is added to a cancellation's notice to the
    group (e.g. 「ご本人のデータ削除による」)."""

    def tell(change: CallChange) -> Iterator[Notice]:
        return _notices(messages, change, reason)

    return tell


def _notices(messages: Messages, change: CallChange, reason: str) -> Iterator[Notice]:
    call = change.call
    promoted = {p.user_id for p in change.promoted}

    def say(key: str, person: Person, **values: object) -> str:
        return messages.get(key, person.locale, **values)

    def to_resident(person: Person, text: str) -> Notice:
        choice = Choice(messages.label("openings_mine", person.locale), MINE)
        return Notice(person.user_id, body(text, [choice]))

    def to_group(person: Person, text: str) -> Notice:
        choice = Choice(messages.label("recruit_mine", person.locale), CALLS)
        return Notice(person.user_id, body(text, [choice]))

    def when(person: Person) -> str:
        return format_span(call.starts_at, call.ends_at, person.locale)

    for person in change.promoted:
        yield to_resident(
            person,
            say(
                "notice_promoted",
                person,
                title=call.title,
                when=when(person),
                meeting_point=call.meeting_point,
            ),
        )
    kind = change.kind
    if promoted and kind != "sign_up_cancelled":  # a re-open, a raised capacity, shown again
        for rep in change.representatives:
            text = say("notice_promoted_group", rep, title=call.title, n=len(promoted),
                       taken=call.taken, capacity=call.capacity)  # fmt: skip
            yield to_group(rep, text)
    if kind == "reopened":
        for position, person in enumerate(change.waiting, 1):
            yield to_resident(
                person, say("notice_reopened_waiting", person, title=call.title, position=position)
            )
    if kind in ("signed_up", "joined_waiting"):
        key = "notice_new_sign_up" if kind == "signed_up" else "notice_new_waiting"
        for rep in change.representatives:
            code = change.actor_age_group
            age = messages.label(f"signup_age_{code}", rep.locale) if code else ""
            text = say(key, rep, title=call.title, name=change.actor_name, age=age,
                       taken=call.taken, capacity=call.capacity)  # fmt: skip
            choice = Choice(messages.label("recruit_volunteers", rep.locale), f"rc:v:{call.id}")
            yield Notice(rep.user_id, body(text, [choice]))
    elif kind == "sign_up_cancelled":
        key = "notice_cancelled_promoted" if promoted else "notice_cancelled"
        for rep in change.representatives:
            text = say(key, rep, title=call.title, taken=call.taken, capacity=call.capacity,
                       reason=reason)  # fmt: skip
            yield to_group(rep, text)
    elif kind == "closed":
        for position, person in enumerate(change.waiting, 1):
            yield to_resident(
                person, say("notice_closed_waiting", person, title=call.title, position=position)
            )
    if kind in ("edited", "in_review"):
        told = [c for c in change.changed if c in ("when", "place", "meeting_point")]
        if told:
            for person in change.everyone:
                if person.user_id in promoted:
                    continue  # their notice above already has the new details
                what = messages.get("changed_joiner", person.locale).join(
                    messages.get(f"changed_{c}", person.locale) for c in told
                )
                text = say("notice_call_changed", person, title=call.title, what=what,
                           when=when(person), place=call.place,
                           meeting_point=call.meeting_point)  # fmt: skip
                yield to_resident(person, text)
    if kind == "hidden":
        for rep in change.representatives:
            text = say("notice_hidden", rep, title=call.title, reason=change.reason)
            yield to_group(rep, text + "\n" + say("notice_hidden_group_review", rep))
        for person in change.everyone:
            yield to_resident(
                person,
                say("notice_hidden_participant", person, title=call.title, when=when(person)),
            )
    elif kind == "unhidden":
        for rep in change.representatives:
            yield to_group(rep, say("notice_unhidden_group", rep, title=call.title))
        places = {p.user_id: n for n, p in enumerate(change.waiting, 1)}
        for person in change.everyone:
            if person.user_id in promoted:
                continue
            status = (
                say("mine_waiting", person, position=places[person.user_id])
                if person.user_id in places
                else say("mine_confirmed", person)
            )
            text = say("notice_unhidden", person, title=call.title, status=status,
                       when=when(person), meeting_point=call.meeting_point)  # fmt: skip
            yield to_resident(person, text)
    elif kind == "called_off":
        for person in change.everyone:
            yield to_resident(
                person, say("notice_called_off", person, title=call.title, when=when(person))
            )
    elif kind == "in_review":
        for rep in change.representatives:
            if rep.user_id != change.actor_user_id:
                yield to_group(rep, say("notice_in_review", rep, title=call.title))


# --- one-off notices and reminders ----------------------------------------------------


def reminder_body(messages: Messages, locale: str, call: CallView) -> str:
    """The day-before reminder (the worker enqueues it)."""
    body = {
        "text": messages.get(
            "notice_reminder",
            locale,
            title=call.title,
            when=format_span(call.starts_at, call.ends_at, locale),
            meeting_point=call.meeting_point,
            bring=call.bring or "—",
        ),
        "choices": [{"label": messages.label("openings_mine", locale), "payload": "mine"}],
    }
    return json.dumps(body, ensure_ascii=False)


def remind_at(starts_at: datetime) -> datetime:
    """When a reminder is due: 18:00 (Kamakura time) on the day before the activity."""
    day_before = starts_at.astimezone(TOKYO).date() - timedelta(days=1)
    return datetime.combine(day_before, time(18, 0), TOKYO)
