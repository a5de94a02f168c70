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

from intents.calendar_links import calendar_button
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
        {"text": text, "choices": [c.as_dict() for c in choices]}, ensure_ascii=False
    )


def teller(messages: Messages, *, reason: str = "") -> Tell:
    """The ``tell`` for one change; ``reason`` is added to a cancellation's notice to the
    group (e.g. 「ご本人のデータ削除による」)."""

    def tell(change: CallChange) -> Iterator[Notice]:
        return _notices(messages, change, reason)

    return tell


def _notices(messages: Messages, change: CallChange, reason: str) -> Iterator[Notice]:
    words = _Words(messages, change, reason)
    yield from words.promoted()
    yield from getattr(words, change.kind)()


class _Words:
    """The notices of one change: one method per kind (``CallChange.kind``)."""

    def __init__(self, messages: Messages, change: CallChange, reason: str) -> None:
        self.messages, self.change, self.reason = messages, change, reason
        self.call = change.call
        self.moved_up = {p.user_id for p in change.promoted}

    # --- who is told, and how ---------------------------------------------------------------

    def say(self, key: str, person: Person, **values: object) -> str:
        return self.messages.get(key, person.locale, title=self.call.title, **values)

    def when(self, person: Person) -> str:
        return format_span(self.call.starts_at, self.call.ends_at, person.locale)

    def to_resident(self, person: Person, text: str, *first: Choice) -> Notice:
        choice = Choice(self.messages.label("openings_mine", person.locale), MINE)
        return Notice(person.user_id, body(text, [*first, choice]))

    def to_group(self, person: Person, text: str, choice: Choice | None = None) -> Notice:
        choice = choice or Choice(self.messages.label("recruit_mine", person.locale), CALLS)
        return Notice(person.user_id, body(text, [choice]))

    def group(self, key: str, **values: object) -> Iterator[Notice]:
        for rep in self.change.representatives:
            yield self.to_group(rep, self.say(key, rep, **values))

    def waiting_list(self, key: str) -> Iterator[Notice]:
        for position, person in enumerate(self.change.waiting, 1):
            yield self.to_resident(person, self.say(key, person, position=position))

    def everyone_not_moved_up(self) -> Iterator[Person]:
        """Confirmed and waiting; those who moved up have their own notice already."""
        return (p for p in self.change.everyone if p.user_id not in self.moved_up)

    # --- every change -------------------------------------------------------------------------

    def promoted(self) -> Iterator[Notice]:
        for person in self.change.promoted:
            text = self.say("notice_promoted", person, when=self.when(person),
                            meeting_point=self.call.meeting_point)  # fmt: skip
            calendar = (
                [calendar_button(self.messages, person.locale, person.sign_up_id, self.call)]
                if person.sign_up_id
                else []  # (no sign-up found: no calendar entry to point at)
            )
            yield self.to_resident(person, text, *calendar)
        if self.moved_up and self.change.kind != "sign_up_cancelled":  # that one says it
            yield from self.group("notice_promoted_group", n=len(self.moved_up),
                                  taken=self.call.taken, capacity=self.call.capacity)  # fmt: skip

    # --- by kind ------------------------------------------------------------------------------

    def signed_up(self, key: str = "notice_new_sign_up") -> Iterator[Notice]:
        code = self.change.actor_age_group
        for rep in self.change.representatives:
            age = self.messages.label(f"signup_age_{code}", rep.locale) if code else ""
            text = self.say(key, rep, name=self.change.actor_name, age=age,
                            taken=self.call.taken, capacity=self.call.capacity)  # fmt: skip
            label = self.messages.label("recruit_volunteers", rep.locale)
            yield self.to_group(rep, text, Choice(label, f"rc:v:{self.call.id}"))

    def joined_waiting(self) -> Iterator[Notice]:
        return self.signed_up("notice_new_waiting")

    def sign_up_cancelled(self) -> Iterator[Notice]:
        key = "notice_cancelled_promoted" if self.moved_up else "notice_cancelled"
        return self.group(key, taken=self.call.taken, capacity=self.call.capacity,
                          reason=self.reason)  # fmt: skip

    def closed(self) -> Iterator[Notice]:
        return self.waiting_list("notice_closed_waiting")

    def reopened(self) -> Iterator[Notice]:
        return self.waiting_list("notice_reopened_waiting")

    def edited(self) -> Iterator[Notice]:
        told = [c for c in self.change.changed if c in ("when", "place", "meeting_point")]
        if not told:
            return
        for person in self.everyone_not_moved_up():
            what = self.messages.get("changed_joiner", person.locale).join(
                self.messages.get(f"changed_{c}", person.locale) for c in told
            )
            text = self.say("notice_call_changed", person, what=what, when=self.when(person),
                            place=self.call.place,
                            meeting_point=self.call.meeting_point)  # fmt: skip
            yield self.to_resident(person, text)

    def in_review(self) -> Iterator[Notice]:
        yield from self.edited()  # its participants hear what changed, as for any edit
        for rep in self.change.representatives:
            if rep.user_id != self.change.actor_user_id:
                yield self.to_group(rep, self.say("notice_in_review", rep))

    def hidden(self) -> Iterator[Notice]:
        for rep in self.change.representatives:
            text = self.say("notice_hidden", rep, reason=self.change.reason)
            yield self.to_group(rep, text + "\n" + self.say("notice_hidden_group_review", rep))
        for person in self.change.everyone:  # without the reason: that is for the group
            text = self.say("notice_hidden_participant", person, when=self.when(person))
            yield self.to_resident(person, text)

    def unhidden(self) -> Iterator[Notice]:
        yield from self.group("notice_unhidden_group")
        places = {p.user_id: n for n, p in enumerate(self.change.waiting, 1)}
        for person in self.everyone_not_moved_up():
            status = (
                self.say("mine_waiting", person, position=places[person.user_id])
                if person.user_id in places
                else self.say("mine_confirmed", person)
            )
            text = self.say("notice_unhidden", person, status=status, when=self.when(person),
                            meeting_point=self.call.meeting_point)  # fmt: skip
            yield self.to_resident(person, text)

    def called_off(self) -> Iterator[Notice]:
        for person in self.change.everyone:
            text = self.say("notice_called_off", person, when=self.when(person))
            yield self.to_resident(person, text)


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
