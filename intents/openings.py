"""Residents' side of volunteering: find openings (``find_openings``) and see one in detail.
Signing up is ``intents.signup``; 「予約確認」, cancelling and 「データ削除」 are
``intents.my_sign_ups``; notices and reminders are ``intents.notices``.

Payloads: ``ol`` search · ``om`` more · ``ob`` the same page again · ``od:<call>`` details ·
``os:<call>`` sign up · ``ow:<call>`` join the waiting list · ``mine`` my sign-ups ·
``mc:<sign-up>`` ask to cancel · ``mx:<sign-up>`` cancel · ``del`` ask to delete my data ·
``del:yes`` delete.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from intents import my_sign_ups as mine
from intents import signup
from intents.menu import back_to_menu as _menu
from intents.router import Match
from intents.turn import Turn
from intents.types import Card, Choice, Reply
from knowledge.when import Period, format_span, period_label
from storage.openings import CallView, audience

PAGE = 5
STATE = "openings"
PULL_PLATFORMS = {"cli", "web", "test"}  # no push API: notices wait until the user writes


class OpeningsRule:
    """The openings buttons (free text that looks for openings: intents/search.py)."""

    def match(self, turn: Turn) -> Match | None:
        payload = turn.payload or ""
        if payload in ("ol", "om", "ob", "mine", "del", "del:yes"):
            handler = {
                "ol": start_search,
                "om": more,
                "ob": back_to_list,
                "mine": mine.my_sign_ups,
                "del": mine.ask_delete,
                "del:yes": mine.delete_data,
            }[payload]
            intent = {"mine": "my_sign_ups", "del": "delete_data", "del:yes": "delete_data"}
            return Match(intent.get(payload, "find_openings"), 1.0, handler)
        kind, _, value = payload.partition(":")
        if (
            kind in ("od", "os", "ow", "mc", "mx")
            and value.isascii()
            and value.isdigit()
            and len(value) < 12
        ):
            handler = {
                "od": detail,
                "os": signup.sign_up,
                "ow": signup.wait,
                "mc": mine.ask_cancel,
                "mx": mine.cancel,
            }[kind]
            intent = {"od": "opening_detail", "mc": "my_sign_ups", "mx": "cancel_sign_up"}
            return Match(intent.get(kind, "sign_up"), 1.0, handler, {"id": value})
        return None


# --- finding --------------------------------------------------------------------------------


def start_search(turn: Turn, match: Match) -> Reply:
    """「ボランティアをさがす」: everything upcoming, soonest first."""
    turn.state[STATE] = {"page": 0}
    return _results(turn)


def search(turn: Turn, match: Match) -> Reply:
    """A search said in words: keep its slots, show the first page."""
    turn.state[STATE] = {"page": 0, **match.slots}
    return _results(turn)


def more(turn: Turn, match: Match) -> Reply:
    """「もっと見る」."""
    data = turn.state.setdefault(STATE, {"page": 0})
    data["page"] = int(data.get("page") or 0) + 1
    return _results(turn)


def back_to_list(turn: Turn, match: Match) -> Reply:
    """「一覧にもどる」 from an opening's details: the page it was on."""
    return _results(turn)


def _results(turn: Turn) -> Reply:
    data: dict[str, Any] = turn.state.setdefault(STATE, {"page": 0})
    area = turn.places.get(data.get("area_code") or "")
    start = end = None
    if data.get("from"):
        start, end = Period(
            date.fromisoformat(data["from"]), date.fromisoformat(data["to"]), ""
        ).bounds()
    page = int(data.get("page") or 0)
    calls, total = turn.store.find_openings(
        now=turn.now,
        field=data.get("field_code"),
        area=area.code if area else None,
        neighbours=area.neighbours if area else (),
        start=start,
        end=end,
        limit=PAGE,
        offset=page * PAGE,
        words=tuple(w for w in str(data.get("field_words") or "").split("|") if w),
    )
    slots = _describe(turn, data)
    criteria = _criteria(turn, data) or turn.say("openings_all")
    if total == 0:
        choices = [
            Choice(turn.messages.label("openings_all", turn.locale), "ol"),
            Choice(turn.messages.label("groups_find", turn.locale), "gs"),
            *_menu(turn),
        ]
        return Reply(
            turn.say("openings_none", criteria=criteria),
            "find_openings",
            choices=choices,
            slots=slots,
            locale=turn.locale,
        )
    if not calls:
        data["page"] = 0
        return Reply(
            turn.say("groups_no_more"),
            "find_openings",
            choices=_menu(turn),
            slots=slots,
            locale=turn.locale,
        )
    first = page * PAGE + 1
    last = first + len(calls) - 1
    text = turn.say("openings_results", criteria=criteria, total=total, first=first, last=last)
    choices = (
        [Choice(turn.messages.label("groups_more", turn.locale), "om")] if last < total else []
    )
    choices += [Choice(turn.messages.label("openings_mine", turn.locale), "mine"), *_menu(turn)]
    data["shown"] = [c.id for c in calls]  # 「一覧にもどる」 from these calls' details
    cards = [_card(turn, c) for c in calls]
    return Reply(
        text, "find_openings", choices=choices, cards=cards, slots=slots, locale=turn.locale
    )


def _describe(turn: Turn, data: dict[str, Any]) -> dict[str, str]:
    slots: dict[str, str] = {}
    if (area := turn.places.get(data.get("area_code") or "")) is not None:
        slots["area"] = area.full_name
    if (field := turn.fields.get(data.get("field_code") or "")) is not None:
        slots["field"] = field.name
    if data.get("period"):
        slots["period"] = str(data["period"])
    return slots


def _criteria(turn: Turn, data: dict[str, Any]) -> str:
    """What was searched for, in the turn's language: 「大船地域・子ども・子育て・今週末」."""
    parts = []
    if (area := turn.places.get(data.get("area_code") or "")) is not None:
        parts.append(area.label(turn.locale))
    if (field := turn.fields.get(data.get("field_code") or "")) is not None:
        parts.append(field.label(turn.locale))
    if data.get("from") and data.get("to"):
        first, last = date.fromisoformat(data["from"]), date.fromisoformat(data["to"])
        parts.append(period_label(first, last, str(data.get("period") or ""), turn.locale))
    return "・".join(parts)


def _card(turn: Turn, call: CallView) -> Card:
    label = turn.messages.label
    lines = [
        call.group_name,
        "🗓 " + format_span(call.starts_at, call.ends_at, turn.locale),
        "📍 " + _where(turn, call),
    ]
    lines.append(_places_line(turn, call))
    badges = _badges(turn, call)
    if badges:
        lines.append(badges)
    if call.group_is_sample:
        lines.append(turn.say("groups_sample_note"))
    action = (
        Choice(label("openings_sign_up", turn.locale), f"os:{call.id}")
        if call.places_left
        else Choice(label("openings_wait", turn.locale), f"ow:{call.id}")
    )
    return Card(
        call.title,
        "\n".join(lines),
        (action, Choice(label("groups_detail", turn.locale), f"od:{call.id}")),
    )


def _where(turn: Turn, call: CallView) -> str:
    area = turn.places.get(call.area)
    return (
        f"{call.place}（{area.label(turn.locale)}）"
        if area and area.full_name != call.place
        else call.place
    )


def _places_line(turn: Turn, call: CallView) -> str:
    if call.places_left:
        return turn.say("openings_places_left", left=call.places_left, capacity=call.capacity)
    return turn.say("openings_full", waiting=call.waiting)


def _badges(turn: Turn, call: CallView) -> str:
    """Who may join (one badge per rule: どなたでも, 中学生から, 高校生OK, 18歳以上), and more."""
    badges = [turn.say(f"openings_badge_{audience(call.high_school_ok, call.min_age)}")]
    if call.beginners_welcome:
        badges.append(turn.say("openings_badge_beginners"))
    return " ".join(f"【{b}】" for b in badges)


def detail(turn: Turn, match: Match) -> Reply:
    """One opening in full."""
    call = turn.store.get_call(int(match.slots["id"]))
    if call is None or call.status == "hidden":
        return Reply(
            turn.say("openings_gone"), "opening_detail", choices=_menu(turn), locale=turn.locale
        )
    field = turn.fields.get(call.field)
    body = turn.say(
        "openings_detail",
        group=call.group_name,
        description=call.description,
        when=format_span(call.starts_at, call.ends_at, turn.locale),
        place=_where(turn, call),
        meeting_point=call.meeting_point,
        bring=call.bring or "—",
        field=field.label(turn.locale) if field else call.field,
        places=_places_line(turn, call),
    )
    badges = _badges(turn, call)
    if badges:
        body += "\n" + badges
    if call.group_is_sample:
        body += "\n" + turn.say("groups_sample_note")
    label = turn.messages.label
    buttons: tuple[Choice, ...] = ()
    if call.status == "open" and call.starts_at > turn.now:
        buttons = (
            Choice(label("openings_sign_up", turn.locale), f"os:{call.id}")
            if call.places_left
            else Choice(label("openings_wait", turn.locale), f"ow:{call.id}"),
        )
    # The card's action again below the reply, where a phone shows it without scrolling
    # past a long description; and the way back to the list the details were opened from.
    listed = call.id in (turn.state.get(STATE) or {}).get("shown", [])  # not from 予約確認
    back = [Choice(label("openings_back", turn.locale), "ob")] if listed else []
    return Reply(
        call.title,
        "opening_detail",
        cards=[Card(call.title, body, buttons)],
        choices=[*buttons, *back, *_menu(turn)],
        slots={"call_id": str(call.id)},
        locale=turn.locale,
    )
