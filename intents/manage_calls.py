"""A representative's own calls: list them, see who signed up, close, re-open, call off, and
stop being a representative. Posting and editing a call is ``intents.recruit``.

Every change goes through storage's two rules (``storage.call_changes``): a freed place goes to
the waiting list first, and everyone on a call is told of a change, in the same transaction.

Payloads: ``rc:mine`` · ``rc:v:<id>`` volunteers · ``rc:close:<id>`` · ``rc:open:<id>`` ·
``rc:off:<id>`` ask to call off · ``rc:offx:<id>`` call off · ``rc:unlink`` ask ·
``rc:unlinkx:<group>`` stop representing.
"""

from __future__ import annotations

from intents.menu import back_to_menu
from intents.notices import teller
from intents.router import Match
from intents.signup import AGE_GROUPS
from intents.turn import Turn
from intents.types import Card, Choice, Reply
from knowledge.when import format_span


def my_calls(turn: Turn, match: Match) -> Reply:
    """A representative's calls, each with the buttons its state allows."""
    if not turn.store.represented_groups(turn.user.id):
        return not_representative(turn)
    calls = turn.store.calls_of(turn.user.id)
    label = turn.messages.label
    cards = []
    for call in calls[:10]:
        buttons = [Choice(label("recruit_volunteers", turn.locale), f"rc:v:{call.id}")]
        if call.status == "open":
            buttons.append(Choice(label("recruit_close", turn.locale), f"rc:close:{call.id}"))
        elif call.status == "closed":
            buttons.append(Choice(label("recruit_reopen", turn.locale), f"rc:open:{call.id}"))
        if call.status != "cancelled":
            buttons.append(Choice(label("recruit_edit", turn.locale), f"rc:edit:{call.id}"))
        if call.status in ("open", "closed"):
            buttons.append(Choice(label("recruit_call_off", turn.locale), f"rc:off:{call.id}"))
        status = turn.say(f"recruit_status_{call.status}")
        body = turn.say(
            "recruit_card",
            group=call.group_name,
            when=format_span(call.starts_at, call.ends_at, turn.locale),
            taken=call.taken,
            capacity=call.capacity,
            waiting=call.waiting,
            status=status,
        )
        if call.hidden_reason:
            body += "\n" + turn.say("recruit_hidden_reason", reason=call.hidden_reason)
        cards.append(Card(call.title, body, tuple(buttons)))
    text = turn.say("recruit_mine" if cards else "recruit_mine_none")
    choices = [
        Choice(label("recruit_post", turn.locale), "rc:new"),
        Choice(label("recruit_unlink", turn.locale), "rc:unlink"),
        *back_to_menu(turn),
    ]
    return Reply(text, "my_calls", choices=choices, cards=cards, locale=turn.locale)


def volunteers(turn: Turn, match: Match) -> Reply:
    """Who signed up for one of one's own calls (name, contact, age group)."""
    call_id = int(match.slots["call_id"])
    people = turn.store.volunteers(turn.user.id, call_id)
    call = turn.store.own_call(turn.user.id, call_id)
    if people is None or call is None:
        return forbidden(turn)
    if not people:
        return Reply(
            turn.say("recruit_no_volunteers", title=call.title), "manage_call", choices=mine(turn)
        )
    lines = [
        turn.say(
            "recruit_volunteers_head", title=call.title, taken=call.taken, capacity=call.capacity
        )
    ]
    for n, v in enumerate(people, 1):
        mark = turn.say("recruit_waiting_mark") if v.status == "waiting" else ""
        age = (
            turn.messages.label(f"signup_age_{v.age_group}", turn.locale)
            if v.age_group in AGE_GROUPS
            else v.age_group
        )
        lines.append(f"{n}. {v.name}（{age}）{v.contact}{mark}")
    return Reply(
        "\n".join(lines), "manage_call", choices=mine(turn), slots={"call_id": str(call_id)}
    )


def close(turn: Turn, match: Match) -> Reply:
    """Close one's call to newcomers: it leaves the searches; sign-ups and the waiting list
    stay, and the waiting list is told so."""
    return _set_status(turn, int(match.slots["call_id"]), "closed")


def reopen(turn: Turn, match: Match) -> Reply:
    """Re-open one's closed call; its free places go to the waiting list first."""
    return _set_status(turn, int(match.slots["call_id"]), "open")


def ask_call_off(turn: Turn, match: Match) -> Reply:
    """「中止にする」: say who will be told, and ask once (it cannot be undone)."""
    call = turn.store.own_call(turn.user.id, int(match.slots["call_id"]))
    if call is not None and call.status == "cancelled":
        return _already_called_off(turn, call.title)
    if call is None or call.status not in ("open", "closed"):
        return forbidden(turn)
    label = turn.messages.label
    choices = [
        Choice(label("recruit_call_off_yes", turn.locale), f"rc:offx:{call.id}"),
        Choice(label("keep", turn.locale), "rc:mine"),
    ]
    text = turn.say("recruit_cancel_ask", title=call.title, count=call.taken + call.waiting)
    turn.state["awaiting"] = f"confirm:rc:offx:{call.id}|rc:mine"  # 「はい」 typed is the tap
    return Reply(text, "manage_call", choices=choices, locale=turn.locale)


def call_off(turn: Turn, match: Match) -> Reply:
    """Call the activity off: everyone confirmed or waiting is told; no reminder goes out."""
    return _set_status(turn, int(match.slots["call_id"]), "cancelled")


def _set_status(turn: Turn, call_id: int, status: str) -> Reply:
    before = turn.store.own_call(turn.user.id, call_id)
    changed = turn.store.set_call_status(
        turn.user.id, call_id, status, turn.now, tell=teller(turn.messages)
    )
    if before is not None and before.status == "cancelled":  # a second tap, a stale button
        return _already_called_off(turn, before.title)
    if before is None or not changed:
        return forbidden(turn)
    key = {"open": "recruit_open", "closed": "recruit_closed", "cancelled": "recruit_cancelled"}
    text = turn.say(key[status], title=before.title, count=before.taken + before.waiting)
    return Reply(text, "manage_call", choices=mine(turn), locale=turn.locale)


def _already_called_off(turn: Turn, title: str) -> Reply:
    return Reply(
        turn.say("recruit_already_cancelled", title=title),
        "manage_call",
        choices=mine(turn),
        locale=turn.locale,
    )


def ask_unlink(turn: Turn, match: Match) -> Reply:
    """「代表者をやめる」: one button per group the user represents, and a way back."""
    groups = turn.store.represented_groups(turn.user.id)
    if not groups:
        return Reply(turn.say("recruit_unlink_none"), "unlink_group", choices=back_to_menu(turn))
    label = turn.messages.label
    lines, choices = [], []
    for group_id, name, _ in groups:
        lines.append(turn.say("recruit_unlink_ask", group=name))
        text = label("recruit_unlink_yes", turn.locale)
        if len(groups) > 1:
            text = f"{text}（{name}）"[:20]
        choices.append(Choice(text, f"rc:unlinkx:{group_id}"))
    choices.append(Choice(label("keep", turn.locale), "rc:mine"))
    if len(groups) == 1:  # 「はい」 typed is the tap (with several, the button says which)
        turn.state["awaiting"] = f"confirm:rc:unlinkx:{groups[0][0]}|rc:mine"
    return Reply("\n".join(lines), "unlink_group", choices=choices, locale=turn.locale)


def unlink(turn: Turn, match: Match) -> Reply:
    """Stop representing one group; its calls and sign-ups stay as they are."""
    name = turn.store.unlink_representative(turn.user.id, int(match.slots["group_id"]))
    if name is None:
        return forbidden(turn)
    still = turn.store.is_representative(turn.user.id)
    return Reply(
        turn.say("recruit_unlinked", group=name),
        "unlink_group",
        choices=back_to_menu(turn),
        locale=turn.locale,
        slots={"group": name},
        rich_menu=None if still else "resident",
    )


# --- shared with intents.recruit -------------------------------------------------------------


def not_representative(turn: Turn) -> Reply:
    """The answer to someone who is not (or no longer) a representative."""
    choices = [
        Choice(turn.messages.label("recruit_enter_code", turn.locale), "rc:link"),
        *back_to_menu(turn),
    ]
    return Reply(
        turn.say("recruit_not_representative"), "post_call", choices=choices, locale=turn.locale
    )


def forbidden(turn: Turn) -> Reply:
    """The answer when the call or group is not the user's."""
    return Reply(
        turn.say("recruit_forbidden"),
        "manage_call",
        choices=back_to_menu(turn),
        locale=turn.locale,
    )


def mine(turn: Turn) -> list[Choice]:
    """「自分の募集」 and the menu."""
    return [
        Choice(turn.messages.label("recruit_mine", turn.locale), "rc:mine"),
        *back_to_menu(turn),
    ]
