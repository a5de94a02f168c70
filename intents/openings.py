"""Residents' side of volunteering: find openings (``find_openings``), sign up in a few taps
(consent once, name, contact, age group; the age group first when the call has an age limit,
so nobody types their details for nothing), the waiting list, 「予約確認」 with cancellation,
and 「データ削除」.

Payloads: ``ol`` search · ``om`` more · ``od:<call>`` details · ``os:<call>`` sign up ·
``ow:<call>`` join the waiting list · ``mine`` my sign-ups · ``mc:<sign-up>`` ask to cancel ·
``mx:<sign-up>`` cancel · ``del`` ask to delete my data · ``del:yes`` delete.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from intents import forms
from intents.forms import Form, Parsed, Question, value_choice
from intents.menu import MENU_PAYLOAD, menu_choices
from intents.notices import teller
from intents.router import Match
from intents.turn import Turn
from intents.types import Card, Choice, Reply
from knowledge.messages import Messages
from knowledge.text import fold
from knowledge.when import TOKYO, Period, format_span, period_label
from storage.openings import ADMITTED, AGE_GROUP_CODES, CallView, SignUpResult, audience

PAGE = 5
STATE = "openings"
AGE_GROUPS = {
    "u15": "中学生以下",
    "hs": "高校生",
    "18": "18〜29歳",
    "30": "30〜64歳",
    "65": "65歳以上",
}
MINORS = {"u15", "hs"}
MAX_NAME = 50
MAX_CONTACT = 100
PULL_PLATFORMS = {"cli", "web", "test"}  # no push API: notices wait until the user writes


class OpeningsRule:
    """The openings buttons (free text that looks for openings: intents/search.py)."""

    def match(self, turn: Turn) -> Match | None:
        payload = turn.payload or ""
        if payload in ("ol", "om", "mine", "del", "del:yes"):
            handler = {
                "ol": start_search,
                "om": more,
                "mine": my_sign_ups,
                "del": ask_delete,
                "del:yes": delete_data,
            }[payload]
            intent = {"mine": "my_sign_ups", "del": "delete_data", "del:yes": "delete_data"}
            return Match(intent.get(payload, "find_openings"), 1.0, handler)
        kind, _, value = payload.partition(":")
        if kind in ("od", "os", "ow", "mc", "mx") and value.isdigit() and len(value) < 12:
            handler = {"od": detail, "os": sign_up, "ow": wait, "mc": ask_cancel, "mx": cancel}[
                kind
            ]
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
    return Reply(
        call.title,
        "opening_detail",
        cards=[Card(call.title, body, buttons)],
        choices=_menu(turn),
        slots={"call_id": str(call.id)},
        locale=turn.locale,
    )


# --- signing up ---------------------------------------------------------------------------------


def sign_up(turn: Turn, match: Match) -> Reply:
    """申し込む: the short form (the age group first if the call has an age limit, consent once,
    then what the group needs), then confirm."""
    return _begin(turn, int(match.slots["id"]), wait=False)


def wait(turn: Turn, match: Match) -> Reply:
    """キャンセル待ち: the same form, for the waiting list."""
    return _begin(turn, int(match.slots["id"]), wait=True)


def _begin(turn: Turn, call_id: int, *, wait: bool) -> Reply:
    call = turn.store.get_call(call_id)
    if call is None or call.status != "open" or call.starts_at <= turn.now:
        return Reply(
            turn.say("openings_closed"), "sign_up", choices=_menu(turn), locale=turn.locale
        )
    if any(m.call.id == call_id for m in turn.store.my_sign_ups(turn.user.id, turn.now)):
        choices = [Choice(turn.messages.label("openings_mine", turn.locale), "mine"), *_menu(turn)]
        return Reply(turn.say("signup_already", title=call.title), "sign_up", choices=choices)
    profile = turn.store.profile(turn.user.id)
    rule = audience(call.high_school_ok, call.min_age)
    values = {
        "call_id": call_id,
        "wait": wait,
        "audience": rule,
        "consented": True if profile.consent_at is not None else None,
        "name": profile.name,
        "contact": profile.contact,
        "age_group": profile.age_group,
    }
    form = SIGN_UP_AGE_FIRST_FORM if _limited(rule) else SIGN_UP_FORM
    return forms.start(turn, form, {k: v for k, v in values.items() if v is not None})


def _limited(rule: str) -> bool:
    """Whether a call's rule turns some age group away."""
    return ADMITTED[rule] != frozenset(AGE_GROUP_CODES)


def _audience(turn: Turn, values: dict[str, Any]) -> str:
    """The call's rule as the form began with it (looked up when a saved form lacks it)."""
    rule = values.get("audience")
    if rule in ADMITTED:
        return str(rule)
    call = turn.store.get_call(_call_id(values))
    return audience(call.high_school_ok, call.min_age) if call else "anyone"


def _call_id(values: dict[str, Any]) -> int:
    try:
        return int(values.get("call_id") or 0)
    except (TypeError, ValueError):
        return 0


def _consent_prompt(turn: Turn, values: dict[str, Any]) -> str:
    return turn.say("signup_consent")


def _parse_consent(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    return (
        Parsed(True)
        if raw in ("yes", "同意する", "同意します", "はい")
        else Parsed(error="form_use_buttons")
    )


def _consent_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    return [value_choice(turn.messages.label("signup_agree", turn.locale), "yes")]


def _consented(turn: Turn, values: dict[str, Any]) -> bool:
    return values.get("consented") is True


def _parse_name(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    name = re.sub(r"\s+", " ", raw).strip()
    if not name:
        return Parsed(error="form_empty")
    if len(name) > MAX_NAME:
        return Parsed(error="form_too_long", error_values={"limit": MAX_NAME, "length": len(name)})
    return Parsed(name)


def _parse_contact(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    contact = raw.strip()
    if len(contact) > MAX_CONTACT:
        return Parsed(
            error="form_too_long", error_values={"limit": MAX_CONTACT, "length": len(contact)}
        )
    digits = re.sub(r"\D", "", fold(contact))
    if "@" not in contact and len(digits) < 10:
        return Parsed(error="signup_bad_contact")
    return Parsed(contact)


def _age_prompt(turn: Turn, values: dict[str, Any]) -> str:
    rule = _audience(turn, values)
    if _limited(rule):  # the rule up front: a wrong age group is told before anything else
        return turn.say(f"signup_age_rule_{rule}") + "\n" + turn.say("signup_ask_age")
    return turn.say("signup_ask_age")


def _parse_age(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    code = _read_age(turn, raw)
    if code is None:
        return Parsed(error="signup_bad_age")
    rule = _audience(turn, values)
    if code not in ADMITTED[rule]:  # kindly, and a wrong tap can be tapped again
        return Parsed(error=f"signup_refused_{rule}")
    return Parsed(code)


def _read_age(turn: Turn, raw: str) -> str | None:
    """The age group in a button's value, a label in either language, a school or an age."""
    if raw in AGE_GROUPS:
        return raw
    text = fold(raw)
    for code in AGE_GROUPS:
        for lang in ("ja", "en"):
            if fold(turn.messages.label(f"signup_age_{code}", lang)) in text:
                return code
    if "中学" in text or "小学" in text:
        return "u15"
    if "高校" in text or "こうこう" in text:
        return "hs"
    digits = re.findall(r"\d+", text)
    if not digits:
        return None
    age = int(digits[0])
    return (
        "u15"
        if age < 16
        else "hs"
        if age < 18
        else "18"
        if age < 30
        else "30"
        if age < 65
        else "65"
    )


def _age_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    return [value_choice(_age_label(turn, code), code) for code in AGE_GROUPS]


def _age_known(turn: Turn, values: dict[str, Any]) -> bool:
    """Known and admitted by this call (a known age the call turns away is asked again)."""
    return values.get("age_group") in ADMITTED[_audience(turn, values)]


def _age_label(turn: Turn, code: str | None) -> str:
    return turn.messages.label(f"signup_age_{code}", turn.locale) if code in AGE_GROUPS else ""


def _summary(turn: Turn, values: dict[str, Any]) -> str:
    call = turn.store.get_call(_call_id(values))
    title = call.title if call else ""
    when = format_span(call.starts_at, call.ends_at, turn.locale) if call else ""
    text = turn.say(
        "signup_confirm_wait" if values.get("wait") else "signup_confirm",
        title=title,
        when=when,
        name=values.get("name", ""),
        contact=values.get("contact", ""),
        age=_age_label(turn, values.get("age_group")),
    )
    if values.get("age_group") in MINORS:
        text += "\n" + turn.say("signup_guardian")
    return text


def _parse_yes(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    return (
        Parsed("yes") if raw in ("yes", "申し込む", "はい") else Parsed(error="form_use_buttons")
    )


def _confirm_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    label = turn.messages.label
    return [
        value_choice(label("signup_submit", turn.locale), "yes"),
        Choice(label("signup_fix_contact", turn.locale), "f:goto:contact"),
        Choice(label("signup_fix_name", turn.locale), "f:goto:name"),
        Choice(label("signup_fix_age", turn.locale), "f:goto:age_group"),
    ]


def _known(key: str) -> Any:
    return lambda turn, values: bool(values.get(key))


def _checked(turn: Turn, values: dict[str, Any]) -> tuple[str, str, str] | None:
    """Name, contact and age group, read again from the form's values (a saved state is not
    trusted); None when consent was not given or one of them is missing or wrong."""
    if values.get("consented") is not True:
        return None
    name = _parse_name(turn, str(values.get("name") or ""), values)
    contact = _parse_contact(turn, str(values.get("contact") or ""), values)
    age = values.get("age_group")
    if name.error or contact.error or age not in AGE_GROUPS:
        return None
    return str(name.value), str(contact.value), str(age)


def _finish(turn: Turn, values: dict[str, Any]) -> Reply:
    forms.clear(turn)
    call = turn.store.get_call(_call_id(values))
    if call is None:
        return Reply(turn.say("openings_closed"), "sign_up", choices=_menu(turn))
    details = _checked(turn, values)
    if details is None:
        return _after_sign_up(turn, call, SignUpResult("incomplete", call_id=call.id))
    name, contact, age = details
    if age not in ADMITTED[audience(call.high_school_ok, call.min_age)]:  # the call as it is now
        return _after_sign_up(turn, call, SignUpResult("refused", call_id=call.id))
    turn.store.save_profile(
        turn.user.id, name=name, contact=contact, age_group=age, consent_at=turn.now
    )
    result = turn.store.sign_up(turn.user.id, call.id, turn.now, wait=bool(values.get("wait")))
    return _after_sign_up(turn, call, result)


def _after_sign_up(turn: Turn, call: CallView, result: SignUpResult) -> Reply:
    label = turn.messages.label
    mine = Choice(label("openings_mine", turn.locale), "mine")
    when = format_span(call.starts_at, call.ends_at, turn.locale)
    slots = {"call_id": str(call.id), "outcome": result.outcome}
    if result.outcome == "full":
        choices = [Choice(label("openings_wait", turn.locale), f"ow:{call.id}"), *_menu(turn)]
        return Reply(
            turn.say("signup_full", title=call.title), "sign_up", choices=choices, slots=slots
        )
    if result.outcome in ("closed", "started"):
        return Reply(turn.say("openings_closed"), "sign_up", choices=_menu(turn), slots=slots)
    if result.outcome == "already":
        return Reply(
            turn.say("signup_already", title=call.title),
            "sign_up",
            choices=[mine, *_menu(turn)],
            slots=slots,
        )
    if result.outcome == "refused":
        rule = audience(call.high_school_ok, call.min_age)
        find = Choice(label("openings_find", turn.locale), "ol")
        return Reply(
            turn.say(f"signup_too_young_{rule if _limited(rule) else 'adults'}"),
            "sign_up",
            choices=[find, *_menu(turn)],
            slots=slots,
            locale=turn.locale,
        )
    if result.outcome == "incomplete":
        again = Choice(label("openings_sign_up", turn.locale), f"os:{call.id}")
        return Reply(
            turn.say("signup_incomplete"),
            "sign_up",
            choices=[again, *_menu(turn)],
            slots=slots,
            locale=turn.locale,
        )
    profile = turn.store.profile(turn.user.id)
    notice_key = "notice_new_sign_up" if result.outcome == "confirmed" else "notice_new_waiting"
    fresh = turn.store.get_call(call.id) or call
    notify_group(
        turn,
        call.group_id,
        turn.say(
            notice_key,
            title=call.title,
            name=profile.name or "",
            age=_age_label(turn, profile.age_group),
            taken=fresh.taken,
            capacity=fresh.capacity,
        ),
        [Choice(label("recruit_volunteers", turn.locale), f"rc:v:{call.id}")],
    )
    key = "signup_done" if result.outcome == "confirmed" else "signup_waiting"
    text = turn.say(
        key, title=call.title, when=when, meeting_point=call.meeting_point, bring=call.bring or "—"
    )
    return Reply(text, "sign_up", choices=[mine, *_menu(turn)], slots=slots, locale=turn.locale)


_q = Question
_AGE = _q("age_group", _age_prompt, _parse_age, _age_choices, _age_known)
_CONSENT = _q("consented", _consent_prompt, _parse_consent, _consent_choices, _consented)
_NAME = _q("name", lambda t, v: t.say("signup_ask_name"), _parse_name, skip=_known("name"))
_CONTACT = _q(
    "contact", lambda t, v: t.say("signup_ask_contact"), _parse_contact, skip=_known("contact")
)
_CONFIRM = _q("confirm", _summary, _parse_yes, _confirm_choices)
SIGN_UP_FORM = forms.register(
    Form("signup", "sign_up", (_CONSENT, _NAME, _CONTACT, _AGE, _CONFIRM), _finish)
)
# A call with an age limit asks the age group before anything else, so that nobody agrees and
# types a name and a contact only to be turned away.
SIGN_UP_AGE_FIRST_FORM = forms.register(
    Form("signup_age_first", "sign_up", (_AGE, _CONSENT, _NAME, _CONTACT, _CONFIRM), _finish)
)


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
        cards.append(
            Card(
                item.call.title,
                body,
                (Choice(label("mine_cancel", turn.locale), f"mc:{item.id}"),),
            )
        )
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
    return Reply(turn.say("delete_ask"), "delete_data", choices=choices, locale=turn.locale)


def delete_data(turn: Turn, match: Match) -> Reply:
    """Cancel every sign-up (groups are told, waiters move up), then forget the user."""
    reason = turn.say("notice_reason_deleted")
    tell = teller(turn.messages, reason=reason)
    results = turn.store.forget_user(turn.user.id, turn.now, tell=tell)
    turn.state.clear()
    turn.state["deleted"] = True  # the conversation does not save state for a deleted user
    return Reply(
        turn.say("delete_done", count=len(results)),
        "delete_data",
        choices=menu_choices(turn),
        locale=turn.locale,
    )


# --- notices ---------------------------------------------------------------------------


def enqueue(
    turn: Turn, user_id: int, text: str, choices: list[Choice], dedupe_key: str | None = None
) -> None:
    """Queue a notice for a user (delivered by the worker, or when they next write)."""
    body = {"text": text, "choices": [{"label": c.label, "payload": c.payload} for c in choices]}
    data = json.dumps(body, ensure_ascii=False)
    turn.store.enqueue(user_id, data, dedupe_key=dedupe_key, deliver_after=turn.now)


def notify_group(turn: Turn, group_id: int, text: str, choices: list[Choice]) -> None:
    """Tell every representative of a group."""
    for user_id in turn.store.representatives(group_id):
        enqueue(turn, user_id, text, choices)


def _menu(turn: Turn) -> list[Choice]:
    return [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]


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
