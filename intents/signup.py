"""Signing up for a call in a few taps: consent once, then name, contact and age group (the age
first when the call has an age rule), a preview where each answer can be fixed, and the
server's own check at the end. The waiting list when the call is full."""

from __future__ import annotations

import re
from typing import Any

from intents import forms
from intents.calendar_links import calendar_choice
from intents.forms import Form, Parsed, Question, value_choice
from intents.menu import back_to_menu as _menu
from intents.notices import teller
from intents.router import Match
from intents.turn import Turn
from intents.types import Choice, Reply
from knowledge.text import fold
from knowledge.when import format_span
from storage.openings import ADMITTED, AGE_GROUP_CODES, CallView, SignUpResult, audience

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
        others = Choice(turn.messages.label("openings_find", turn.locale), "ol")
        return Parsed(error=f"signup_refused_{rule}", offer=(others,))
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
    if age == 15:  # 中学3年 or 高校1年: only they know; the buttons ask
        return None
    return (
        "u15"
        if age < 15
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
    call = turn.store.get_call(_call_id(values))
    if call is None:
        forms.clear(turn)
        return Reply(turn.say("openings_closed"), "sign_up", choices=_menu(turn))
    details = _checked(turn, values)
    if details is None:
        forms.clear(turn)
        return _after_sign_up(turn, call, SignUpResult("incomplete", call_id=call.id))
    name, contact, age = details
    if age not in ADMITTED[audience(call.high_school_ok, call.min_age)]:  # the call as it is now
        forms.clear(turn)
        return _after_sign_up(turn, call, SignUpResult("refused", call_id=call.id))
    allow = turn.inbound.allow_sign_up
    if allow is not None and not allow():
        return _not_yet(turn, call, values)  # nothing stored; the form stays at its preview
    forms.clear(turn)
    turn.store.save_profile(
        turn.user.id, name=name, contact=contact, age_group=age, consent_at=turn.now
    )
    result = turn.store.sign_up(
        turn.user.id, call.id, turn.now, wait=bool(values.get("wait")), tell=teller(turn.messages)
    )
    return _after_sign_up(turn, call, result)


def _not_yet(turn: Turn, call: CallView, values: dict[str, Any]) -> Reply:
    """Too many sign-ups from here just now: the preview's buttons stay, to confirm later."""
    quit_form = Choice(turn.messages.label("form_quit", turn.locale), "f:quit")
    return Reply(
        turn.say("signup_too_fast", title=call.title),
        "sign_up",
        choices=[*_confirm_choices(turn, values), quit_form],
        slots={"call_id": str(call.id), "outcome": "too_fast", "step": "confirm"},
        locale=turn.locale,
    )


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
    key = "signup_done" if result.outcome == "confirmed" else "signup_waiting"
    text = turn.say(
        key, title=call.title, when=when, meeting_point=call.meeting_point, bring=call.bring or "—"
    )
    choices = [mine, *_menu(turn)]
    if result.outcome == "confirmed" and result.sign_up_id:
        choices.insert(0, calendar_choice(turn, result.sign_up_id, call))
    return Reply(text, "sign_up", choices=choices, slots=slots, locale=turn.locale)


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
