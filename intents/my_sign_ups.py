"""「予約確認」: a resident's sign-ups, each with its cancel button (and 「カレンダーに追加」 when
confirmed); cancelling (the first waiting person moves up, everyone concerned is told);
「データ削除」."""

from __future__ import annotations

from intents.calendar_links import calendar_choice
from intents.menu import back_to_menu as _menu
from intents.menu import menu_choices
from intents.notices import teller
from intents.router import Match
from intents.turn import Turn
from intents.types import Card, Choice, Reply
from knowledge.when import format_span
from storage.call_changes import TAKES_PLACE

# --- my sign-ups, cancelling, deleting -----------------------------------------------


def my_sign_ups(turn: Turn, match: Match) -> Reply:
    """「予約確認」: upcoming sign-ups, each with a cancel button."""
    mine = turn.store.my_sign_ups(turn.user.id, turn.now)
    label = turn.messages.label
    if not mine:
        choices = [Choice(label("openings_find", turn.locale), "ol"), *_menu(turn)]
        return Reply(turn.say("mine_none"), "my_sign_ups", choices=choices, locale=turn.locale)
    cards = []
    for item in mine:
        if item.call.status in ("hidden", "review"):
            status = turn.say("mine_call_hidden")
        elif item.call.status == "cancelled":
            status = turn.say("mine_call_cancelled")
        elif item.status == "confirmed":
            status = turn.say("mine_confirmed")
        else:
            status = turn.say("mine_waiting", position=item.position)
        body = "\n".join(
            [
                item.call.group_name,
                "🗓 " + format_span(item.call.starts_at, item.call.ends_at, turn.locale),
                "📍 " + item.call.meeting_point,
                status,
            ]
        )
        # A called-off call has nothing to cancel: no button that would tell the group of a
        # cancellation on an activity that is not happening.
        buttons = (
            []
            if item.call.status == "cancelled"
            else [Choice(label("mine_cancel", turn.locale), f"mc:{item.id}")]
        )
        if item.status == "confirmed" and item.call.status in TAKES_PLACE:
            buttons.append(calendar_choice(turn, item.id, item.call))
        cards.append(Card(item.call.title, body, tuple(buttons)))
    return Reply(
        turn.say("mine_list", count=len(mine)),
        "my_sign_ups",
        cards=cards,
        choices=_menu(turn),
        locale=turn.locale,
    )


def ask_cancel(turn: Turn, match: Match) -> Reply:
    """One confirmation before cancelling."""
    sign_up_id = match.slots["id"]
    mine = {str(m.id): m for m in turn.store.my_sign_ups(turn.user.id, turn.now)}
    item = mine.get(sign_up_id)
    if item is None:
        return Reply(turn.say("mine_gone"), "my_sign_ups", choices=_menu(turn), locale=turn.locale)
    label = turn.messages.label
    choices = [
        Choice(label("mine_cancel_yes", turn.locale), f"mx:{sign_up_id}"),
        Choice(label("mine_keep", turn.locale), "mine"),
    ]
    turn.state["awaiting"] = f"confirm:mx:{sign_up_id}|mine"  # 「はい」 typed is the tap
    return Reply(
        turn.say("mine_cancel_ask", title=item.call.title),
        "my_sign_ups",
        choices=choices,
        locale=turn.locale,
    )


def cancel(turn: Turn, match: Match) -> Reply:
    """Cancel; the first on the waiting list moves up and everyone concerned is told (the
    notices are committed with the cancellation: ``storage.call_changes``)."""
    result = turn.store.cancel_sign_up(
        turn.user.id, int(match.slots["id"]), turn.now, tell=teller(turn.messages)
    )
    if result.outcome != "cancelled" or result.call_id is None:
        return Reply(
            turn.say("mine_gone"), "cancel_sign_up", choices=_menu(turn), locale=turn.locale
        )
    call = turn.store.get_call(result.call_id)
    title = call.title if call else ""
    choices = [Choice(turn.messages.label("openings_mine", turn.locale), "mine"), *_menu(turn)]
    return Reply(
        turn.say("mine_cancelled", title=title),
        "cancel_sign_up",
        choices=choices,
        locale=turn.locale,
    )


def ask_delete(turn: Turn, match: Match) -> Reply:
    """「データ削除」: say what will go, and ask once."""
    label = turn.messages.label
    choices = [Choice(label("delete_yes", turn.locale), "del:yes"), *_menu(turn)]
    turn.state["awaiting"] = "confirm:del:yes|menu"  # 「はい」 typed is the tap
    return Reply(turn.say("delete_ask"), "delete_data", choices=choices, locale=turn.locale)


def delete_data(turn: Turn, match: Match) -> Reply:
    """Cancel every sign-up on a call that still takes place (groups are told, waiters move
    up), then forget the user (``storage.forget``); the count is of those cancellations, not
    of sign-ups on called-off or past calls, which only go."""
    reason = turn.say("notice_reason_deleted")
    tell = teller(turn.messages, reason=reason)
    results = turn.store.forget_user(turn.user.id, turn.now, tell=tell)
    turn.state.clear()
    turn.state["deleted"] = True  # the conversation does not save state for a deleted user
    return Reply(
        turn.say("delete_done", count=len(results)),
        "delete_data",
        choices=menu_choices(turn),
        slots={"forgotten": "1"},  # the web chat forgets the conversation it kept too
        locale=turn.locale,
    )
