"""Groups' side of volunteering: link a representative with an invite code, and post or edit a
recruitment call in a guided form. Managing one's calls is ``intents.manage_calls``.

Only linked representatives of a group can do any of this, and only for that group's calls;
storage checks it again on every write.

Payloads: ``rc:new`` post · ``rc:mine`` my calls · ``rc:v:<id>`` volunteers ·
``rc:close:<id>`` / ``rc:open:<id>`` · ``rc:off:<id>`` / ``rc:offx:<id>`` call off ·
``rc:edit:<id>`` · ``rc:link`` enter a code · ``rc:unlink`` / ``rc:unlinkx:<group>`` unlink.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from intents import forms
from intents import manage_calls as manage
from intents.forms import Form, Parsed, Question, value_choice
from intents.menu import back_to_menu
from intents.notices import teller
from intents.recruit_when import (
    ask_capacity,
    ask_time,
    date_choices,
    parse_capacity,
    parse_date,
    parse_time,
)
from intents.router import Match
from intents.turn import Turn
from intents.types import Choice, Reply
from knowledge.text import fold
from knowledge.when import TOKYO, format_span
from storage.openings import HIGH_SCHOOL_AGE, CallDraft, CallView

MAX_TITLE = 40
MAX_DESCRIPTION = 1000
MAX_MEETING_POINT = 100
MAX_BRING = 200
_INVITE = re.compile(r"\b([A-HJ-NP-Za-hj-np-z2-9]{4})[-‐ー−\s]?([A-HJ-NP-Za-hj-np-z2-9]{4})\b")
_LINK_WORDS = re.compile(r"招待コード|しょうたいこーど|invite|代表者登録|団体と連携|リンク")
_POST_WORDS = re.compile(
    r"募集する|募集したい|募集を出|募集を作|ぼしゅうする|募集の投稿|募集を投稿|post"
)
_MINE_WORDS = re.compile(
    r"自分の募集|うちの募集|募集一覧|募集の管理|募集管理|応募者|参加者一覧|申込者|(?i:my\s*calls?)\b"
)
# Who may join: (label, high_school_ok, min_age) as the call stores it; one stored pair per rule
# (storage.openings.audience reads them back).
WHO_OPTIONS = {
    "hs": ("recruit_who_high_school", True, HIGH_SCHOOL_AGE),
    "18": ("recruit_who_adults", False, 18),
    "jhs": ("recruit_who_junior_high", True, 12),
    "all": ("recruit_who_anyone", True, None),
}
# Typed answers, the strictest rule first: 「高校生以上（中学生は不可）」 is 高校生OK.
_WHO_WORDS = {
    "18": ("18", "大人", "おとな"),
    "hs": ("高校", "こうこう"),
    "jhs": ("中学",),
    "all": ("誰でも", "だれでも", "どなたでも"),
}


# --- rules ----------------------------------------------------------------------------------


class RecruitRule:
    """「募集する」「自分の募集」「招待コード ABCD-EFGH」 and the representatives' buttons."""

    def match(self, turn: Turn) -> Match | None:
        payload = turn.payload or ""
        if payload == "rc:new":
            return Match("post_call", 1.0, post)
        if payload == "rc:mine":
            return Match("my_calls", 1.0, manage.my_calls)
        if payload == "rc:link":
            return Match("link_group", 1.0, ask_code)
        kind, _, value = payload.partition(":")
        if kind == "rc":
            action, _, number = value.partition(":")
            if action == "unlink" and not number:
                return Match("unlink_group", 1.0, manage.ask_unlink)
            if not (number.isascii() and number.isdigit() and len(number) < 12):
                return None
            if action == "unlinkx":
                return Match("unlink_group", 1.0, manage.unlink, {"group_id": number})
            handler = {
                "v": manage.volunteers,
                "close": manage.close,
                "open": manage.reopen,
                "off": manage.ask_call_off,
                "offx": manage.call_off,
                "edit": edit,
            }.get(action)
            return Match("manage_call", 1.0, handler, {"call_id": number}) if handler else None
        if payload or not turn.text:
            return None
        words = turn.text + " " + turn.folded  # katakana as typed, and folded forms
        code = _INVITE.search(turn.text)
        if code and (_LINK_WORDS.search(words) or turn.awaiting == "invite"):
            return Match("link_group", 0.95, link, {"code": code.group(0)})
        if turn.awaiting == "invite":
            return Match("link_group", 0.9, link, {"code": turn.text.strip()})
        if _LINK_WORDS.search(words):
            return Match("link_group", 0.8, ask_code)
        if _MINE_WORDS.search(words):
            return Match("my_calls", 0.8, manage.my_calls)
        if _POST_WORDS.search(words):
            return Match("post_call", 0.8, post)
        return None


# --- linking ------------------------------------------------------------------------------


def ask_code(turn: Turn, match: Match) -> Reply:
    """Ask for the invite code the center issued."""
    turn.state["awaiting"] = "invite"
    return Reply(
        turn.say("recruit_ask_code"), "link_group", choices=back_to_menu(turn), locale=turn.locale
    )


def link(turn: Turn, match: Match) -> Reply:
    """Redeem an invite code: the user becomes a representative of its group."""
    outcome, group = turn.store.redeem_invite(turn.user.id, match.slots["code"], turn.now)
    if outcome == "limited":  # too many wrong codes: not asked for another one now
        return Reply(
            turn.say("recruit_code_limited"),
            "link_group",
            choices=back_to_menu(turn),
            slots={"outcome": outcome},
            locale=turn.locale,
        )
    if outcome != "linked":
        turn.state["awaiting"] = "invite"
        return Reply(turn.say(f"recruit_code_{outcome}"), "link_group", choices=back_to_menu(turn))
    choices = [
        Choice(turn.messages.label("recruit_post", turn.locale), "rc:new"),
        *back_to_menu(turn),
    ]
    return Reply(
        turn.say("recruit_linked", group=group or ""),
        "link_group",
        choices=choices,
        slots={"group": group or ""},
        locale=turn.locale,
        rich_menu="representative",
    )


# --- posting --------------------------------------------------------------------------------


def post(turn: Turn, match: Match) -> Reply:
    """Start (or resume) the posting form."""
    groups = turn.store.represented_groups(turn.user.id)
    if not groups:
        return manage.not_representative(turn)
    current = forms.active(turn)
    if current and current[0].name == "post":  # resume where it was left
        step = POST_FORM.questions[int(current[1].get("step", 0))].key
        return forms.start(turn, POST_FORM, current[1].get("values"), at=step)
    values: dict[str, Any] = {}
    if len(groups) == 1:
        values["group_id"], values["group_name"], values["field"] = groups[0]
    return forms.start(turn, POST_FORM, values)


def edit(turn: Turn, match: Match) -> Reply:
    """Edit one of one's calls: the form, prefilled, at its preview."""
    call = turn.store.own_call(turn.user.id, int(match.slots["call_id"]))
    if call is None or call.status == "cancelled":
        return manage.forbidden(turn)
    start = call.starts_at.astimezone(TOKYO)
    end = call.ends_at.astimezone(TOKYO)
    values = {
        "edit_call_id": call.id,
        "group_id": call.group_id,
        "group_name": call.group_name,
        "title": call.title,
        "description": call.description,
        "field": call.field,
        "place": call.place,
        "area": call.area,
        "meeting_point": call.meeting_point,
        "date": start.date().isoformat(),
        "time": [start.strftime("%H:%M"), end.strftime("%H:%M")],
        "capacity": call.capacity,
        "who": _who_key(call),
        "bring": call.bring or None,
    }
    reply = forms.start(turn, POST_FORM, values, at="confirm")
    if call.taken + call.waiting:  # warn before anything changes: they will all be told
        warning = turn.say("recruit_edit_warning", count=call.taken + call.waiting)
        reply.text = warning + "\n\n" + reply.text
    return reply


def _who_key(call: CallView) -> str:
    for key, (_, high_school_ok, min_age) in WHO_OPTIONS.items():
        if (call.high_school_ok, call.min_age) == (high_school_ok, min_age):
            return key
    return "all"


def _save(turn: Turn, values: dict[str, Any]) -> Reply:
    draft = _draft(values)
    forms.clear(turn)
    if values.get("edit_call_id"):
        outcome = turn.store.update_call(
            turn.user.id, int(values["edit_call_id"]), draft, turn.now, tell=teller(turn.messages)
        )
        if outcome == "forbidden":
            return manage.forbidden(turn)
        if outcome == "below_taken":
            return Reply(turn.say("recruit_below_taken"), "post_call", choices=manage.mine(turn))
        call_id = int(values["edit_call_id"])
        key = "recruit_in_review" if outcome == "in_review" else "recruit_updated"
        text = turn.say(key, title=draft.title)
    else:
        created = turn.store.create_call(turn.user.id, int(values["group_id"]), draft)
        if created is None:
            return manage.forbidden(turn)
        call_id = created
        text = turn.say("recruit_posted", title=draft.title)
    return Reply(text, "post_call", choices=manage.mine(turn), slots={"call_id": str(call_id)})


def _draft(values: dict[str, Any]) -> CallDraft:
    day = date.fromisoformat(values["date"])
    start_text, end_text = values["time"]
    start = datetime.combine(day, datetime.strptime(start_text, "%H:%M").time(), TOKYO)
    end = datetime.combine(day, datetime.strptime(end_text, "%H:%M").time(), TOKYO)
    _, high_school_ok, min_age = WHO_OPTIONS[values.get("who") or "all"]
    return CallDraft(
        title=values["title"],
        description=values["description"],
        field=values["field"],
        area=values["area"],
        place=values["place"],
        meeting_point=values["meeting_point"],
        starts_at=start,
        ends_at=end,
        capacity=int(values["capacity"]),
        high_school_ok=high_school_ok,
        min_age=min_age,
        beginners_welcome=True,
        bring=values.get("bring") or "",
    )


# --- the form's questions ---------------------------------------------------------------------


def _text(limit: int) -> Any:
    def parse(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
        text = raw.strip()
        if len(text) > limit:
            return Parsed(
                error="form_too_long", error_values={"limit": limit, "length": len(text)}
            )
        return Parsed(text)

    return parse


def _say(key: str) -> Any:
    return lambda turn, values: turn.say(key)


def _parse_group(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    for gid, name, field in turn.store.represented_groups(turn.user.id):
        if raw in (str(gid), name):
            return Parsed(gid, extra={"group_name": name, "field": values.get("field") or field})
    return Parsed(error="recruit_pick_group")


def _group_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    return [
        value_choice(name[:20], str(gid))
        for gid, name, _ in turn.store.represented_groups(turn.user.id)
    ]


def _parse_field(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    field = turn.fields.get(raw) or turn.fields.lookup(raw)
    if field is None:
        found = turn.fields.find(raw)
        field = found.field if found else None
    return Parsed(field.code) if field else Parsed(error="recruit_bad_field")


def _field_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    codes = [values.get("field"), "children", "environment", "culture_sports", "welfare",
             "community", "safety", "disaster", "international", "social_education"]  # fmt: skip
    seen: list[str] = []
    for code in codes:
        if code and code not in seen and turn.fields.get(code):
            seen.append(code)
    return [value_choice(f.short, f.code) for c in seen if (f := turn.fields.get(c))]


def _field_prompt(turn: Turn, values: dict[str, Any]) -> str:
    field = turn.fields.get(values.get("field") or "")
    return turn.say("recruit_ask_field", current=field.short if field else "—")


def _parse_place(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    area = turn.places.get(raw)
    if area is not None:
        return Parsed(area.full_name, extra={"area": area.code})
    found = turn.places.find(raw)
    if found is None:
        return Parsed(error="recruit_bad_place")
    return Parsed(raw.strip()[:60], extra={"area": found.area.code})


def _place_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    return [value_choice(a.full_name, a.code) for a in turn.places.areas]


def _parse_who(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    if raw in WHO_OPTIONS:
        return Parsed(raw)
    text = fold(raw)
    for key, words in _WHO_WORDS.items():
        labels = (turn.messages.label(WHO_OPTIONS[key][0], lang) for lang in ("ja", "en"))
        if any(fold(word) in text for word in (*words, *labels)):
            return Parsed(key)
    return Parsed(error="recruit_bad_who")


def _who_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    label = turn.messages.label
    return [value_choice(label(key, turn.locale), who) for who, (key, _, _) in WHO_OPTIONS.items()]


def _parse_confirm(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    return (
        Parsed("yes")
        if raw in ("yes", "保存", "投稿", "はい", "ok", "OK")
        else Parsed(error="form_use_buttons")
    )


def _preview(turn: Turn, values: dict[str, Any]) -> str:
    draft = _draft(values)
    field = turn.fields.get(draft.field)
    area = turn.places.get(draft.area)
    head = "recruit_preview_edit_head" if values.get("edit_call_id") else "recruit_preview_head"
    return (
        turn.say(head)
        + "\n"
        + turn.say(
            "recruit_preview",
            group=values.get("group_name", ""),
            title=draft.title,
            description=draft.description,
            field=field.short if field else draft.field,
            place=draft.place,
            area=area.full_name if area else draft.area,
            meeting_point=draft.meeting_point,
            when=format_span(draft.starts_at, draft.ends_at),
            capacity=draft.capacity,
            who=turn.messages.label(WHO_OPTIONS[values.get("who") or "all"][0], turn.locale),
            bring=draft.bring or "—",
        )
    )


def _confirm_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    label = turn.messages.label
    save = "recruit_save_edit" if values.get("edit_call_id") else "recruit_save"
    fixes = ("when", "capacity", "title", "description", "place", "meeting_point", "field",
             "who", "bring")  # fmt: skip
    return [
        value_choice(label(save, turn.locale), "yes"),
        *(
            Choice(label(f"recruit_fix_{key}", turn.locale),
                   f"f:goto:{'date' if key == 'when' else key}")
            for key in fixes
        ),
    ]  # fmt: skip


def _has(key: str) -> Any:
    return lambda turn, values: key in values and values[key] is not None


_q = Question
POST_FORM = forms.register(
    Form(
        name="post",
        intent="post_call",
        questions=(
            _q(
                "group_id",
                _say("recruit_ask_group"),
                _parse_group,
                _group_choices,
                _has("group_id"),
            ),
            _q("title", _say("recruit_ask_title"), _text(MAX_TITLE)),
            _q("description", _say("recruit_ask_description"), _text(MAX_DESCRIPTION)),
            _q("field", _field_prompt, _parse_field, _field_choices),
            _q("place", _say("recruit_ask_place"), _parse_place, _place_choices),
            _q("meeting_point", _say("recruit_ask_meeting_point"), _text(MAX_MEETING_POINT)),
            _q("date", _say("recruit_ask_date"), parse_date, date_choices),
            _q("time", ask_time, parse_time, skip=_has("time")),
            _q("capacity", ask_capacity, parse_capacity),
            _q("who", _say("recruit_ask_who"), _parse_who, _who_choices),
            _q("bring", _say("recruit_ask_bring"), _text(MAX_BRING), optional=True),
            _q("confirm", _preview, _parse_confirm, _confirm_choices),
        ),
        finish=_save,
    )
)
