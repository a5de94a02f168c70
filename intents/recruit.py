"""Groups' side of volunteering: link a representative with an invite code, post a recruitment
call in a guided form, list, edit, close and re-open calls, and see who signed up.

Only linked representatives of a group can do any of this, and only for that group's calls;
storage checks it again on every write.

Payloads: ``rc:new`` post · ``rc:mine`` my calls · ``rc:v:<id>`` volunteers ·
``rc:close:<id>`` / ``rc:open:<id>`` · ``rc:edit:<id>`` · ``rc:link`` enter a code.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from intents import forms
from intents.forms import Form, Parsed, Question, value_choice
from intents.menu import MENU_PAYLOAD
from intents.openings import AGE_GROUPS
from intents.router import Match
from intents.turn import Turn
from intents.types import Card, Choice, Reply
from knowledge.text import fold
from knowledge.when import TOKYO, format_span, parse_day, parse_time_range, today_in_tokyo
from storage.openings import CallDraft, CallView

MAX_TITLE = 40
MAX_DESCRIPTION = 1000
MAX_MEETING_POINT = 100
MAX_BRING = 200
MAX_CAPACITY = 500
MAX_DAYS_AHEAD = 366
_INVITE = re.compile(r"\b([A-HJ-NP-Za-hj-np-z2-9]{4})[-‐ー−\s]?([A-HJ-NP-Za-hj-np-z2-9]{4})\b")
_LINK_WORDS = re.compile(r"招待コード|しょうたいこーど|invite|代表者登録|団体と連携|リンク")
_POST_WORDS = re.compile(
    r"募集する|募集したい|募集を出|募集を作|ぼしゅうする|募集の投稿|募集を投稿|post"
)
_MINE_WORDS = re.compile(
    r"自分の募集|うちの募集|募集一覧|募集の管理|募集管理|応募者|参加者一覧|申込者"
)
WHO_OPTIONS = {
    "hs": ("高校生OK", True, None),
    "18": ("18歳以上", False, 18),
    "jhs": ("中学生から", True, 12),
    "all": ("どなたでも", True, None),
}


# --- rules ----------------------------------------------------------------------------------


class RecruitRule:
    """「募集する」「自分の募集」「招待コード ABCD-EFGH」 and the representatives' buttons."""

    def match(self, turn: Turn) -> Match | None:
        payload = turn.payload or ""
        if payload == "rc:new":
            return Match("post_call", 1.0, post)
        if payload == "rc:mine":
            return Match("my_calls", 1.0, my_calls)
        if payload == "rc:link":
            return Match("link_group", 1.0, ask_code)
        kind, _, value = payload.partition(":")
        if kind == "rc":
            action, _, number = value.partition(":")
            if action in ("v", "close", "open", "edit") and number.isdigit() and len(number) < 12:
                handler = {"v": volunteers, "close": close, "open": reopen, "edit": edit}[action]
                return Match("manage_call", 1.0, handler, {"call_id": number})
            return None
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
            return Match("my_calls", 0.8, my_calls)
        if _POST_WORDS.search(words):
            return Match("post_call", 0.8, post)
        return None


# --- linking ------------------------------------------------------------------------------


def ask_code(turn: Turn, match: Match) -> Reply:
    """Ask for the invite code the center issued."""
    turn.state["awaiting"] = "invite"
    return Reply(
        turn.say("recruit_ask_code"), "link_group", choices=_menu(turn), locale=turn.locale
    )


def link(turn: Turn, match: Match) -> Reply:
    """Redeem an invite code: the user becomes a representative of its group."""
    outcome, group = turn.store.redeem_invite(turn.user.id, match.slots["code"], turn.now)
    if outcome != "linked":
        turn.state["awaiting"] = "invite"
        return Reply(turn.say(f"recruit_code_{outcome}"), "link_group", choices=_menu(turn))
    choices = [
        Choice(turn.messages.label("recruit_post", turn.locale), "rc:new"),
        *_menu(turn),
    ]
    return Reply(
        turn.say("recruit_linked", group=group or ""),
        "link_group",
        choices=choices,
        slots={"group": group or ""},
        locale=turn.locale,
    )


# --- posting --------------------------------------------------------------------------------


def post(turn: Turn, match: Match) -> Reply:
    """Start (or resume) the posting form."""
    groups = turn.store.represented_groups(turn.user.id)
    if not groups:
        return _not_representative(turn)
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
    if call is None:
        return _forbidden(turn)
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
    return forms.start(turn, POST_FORM, values, at="confirm")


def _who_key(call: CallView) -> str:
    for key, (_, high_school_ok, min_age) in WHO_OPTIONS.items():
        if (call.high_school_ok, call.min_age) == (high_school_ok, min_age):
            return key
    return "all"


def _save(turn: Turn, values: dict[str, Any]) -> Reply:
    draft = _draft(values)
    forms.clear(turn)
    if values.get("edit_call_id"):
        outcome = turn.store.update_call(turn.user.id, int(values["edit_call_id"]), draft)
        if outcome == "forbidden":
            return _forbidden(turn)
        if outcome == "below_taken":
            return Reply(turn.say("recruit_below_taken"), "post_call", choices=_mine(turn))
        call_id = int(values["edit_call_id"])
        text = turn.say("recruit_updated", title=draft.title)
    else:
        created = turn.store.create_call(turn.user.id, int(values["group_id"]), draft)
        if created is None:
            return _forbidden(turn)
        call_id = created
        text = turn.say("recruit_posted", title=draft.title)
    return Reply(text, "post_call", choices=_mine(turn), slots={"call_id": str(call_id)})


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


def _parse_date(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    today = today_in_tokyo(turn.now)
    day = parse_day(raw, today)
    if day is None:
        return Parsed(error="recruit_bad_date")
    if day < today:
        return Parsed(error="recruit_past_date", error_values={"day": f"{day.month}月{day.day}日"})
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        return Parsed(error="recruit_far_date")
    extra: dict[str, Any] = {}
    times = parse_time_range(raw)  # 「明日 10時〜12時」 answers two questions at once
    if times:
        if times[1] <= times[0]:
            return Parsed(error="recruit_end_before_start")
        if datetime.combine(day, times[0], TOKYO) <= turn.now:
            return Parsed(error="recruit_past_time")
        extra["time"] = [times[0].strftime("%H:%M"), times[1].strftime("%H:%M")]
    return Parsed(day.isoformat(), extra=extra)


def _parse_time(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    times = parse_time_range(raw)
    if times is None:
        return Parsed(error="recruit_bad_time")
    start, end = times
    if end <= start:
        return Parsed(error="recruit_end_before_start")
    day = date.fromisoformat(values["date"])
    if datetime.combine(day, start, TOKYO) <= turn.now:
        return Parsed(error="recruit_past_time")
    return Parsed([start.strftime("%H:%M"), end.strftime("%H:%M")])


def _parse_capacity(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    digits = re.sub(r"[^\d]", "", fold(raw))
    if not digits or len(digits) > 6:
        return Parsed(error="recruit_bad_capacity", error_values={"max": MAX_CAPACITY})
    number = int(digits)
    if not 1 <= number <= MAX_CAPACITY:
        return Parsed(error="recruit_bad_capacity", error_values={"max": MAX_CAPACITY})
    return Parsed(number)


def _parse_who(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    if raw in WHO_OPTIONS:
        return Parsed(raw)
    text = fold(raw)
    if "18" in text or "大人" in text or "おとな" in text:
        return Parsed("18")
    if "中学" in text:
        return Parsed("jhs")
    if "高校" in text or "こうこう" in text:
        return Parsed("hs")
    if "誰でも" in text or "だれでも" in text or "どなたでも" in text:
        return Parsed("all")
    return Parsed(error="recruit_bad_who")


def _who_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    return [value_choice(label, key) for key, (label, _, _) in WHO_OPTIONS.items()]


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
    return turn.say(
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
        who=WHO_OPTIONS[values.get("who") or "all"][0],
        bring=draft.bring or "—",
    )


def _confirm_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    label = turn.messages.label
    return [
        value_choice(label("recruit_save", turn.locale), "yes"),
        Choice(label("recruit_fix_when", turn.locale), "f:goto:date"),
        Choice(label("recruit_fix_capacity", turn.locale), "f:goto:capacity"),
        Choice(label("recruit_fix_title", turn.locale), "f:goto:title"),
        Choice(label("recruit_fix_description", turn.locale), "f:goto:description"),
        Choice(label("recruit_fix_place", turn.locale), "f:goto:place"),
    ]


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
            _q("date", _say("recruit_ask_date"), _parse_date),
            _q("time", _say("recruit_ask_time"), _parse_time, skip=_has("time")),
            _q("capacity", _say("recruit_ask_capacity"), _parse_capacity),
            _q("who", _say("recruit_ask_who"), _parse_who, _who_choices),
            _q("bring", _say("recruit_ask_bring"), _text(MAX_BRING), optional=True),
            _q("confirm", _preview, _parse_confirm, _confirm_choices),
        ),
        finish=_save,
    )
)


# --- managing -------------------------------------------------------------------------------


def my_calls(turn: Turn, match: Match) -> Reply:
    """A representative's calls, each with its buttons."""
    if not turn.store.represented_groups(turn.user.id):
        return _not_representative(turn)
    calls = turn.store.calls_of(turn.user.id)
    label = turn.messages.label
    cards = []
    for call in calls[:10]:
        buttons = [Choice(label("recruit_volunteers", turn.locale), f"rc:v:{call.id}")]
        if call.status == "open":
            buttons.append(Choice(label("recruit_close", turn.locale), f"rc:close:{call.id}"))
        elif call.status == "closed":
            buttons.append(Choice(label("recruit_reopen", turn.locale), f"rc:open:{call.id}"))
        buttons.append(Choice(label("recruit_edit", turn.locale), f"rc:edit:{call.id}"))
        status = turn.say(f"recruit_status_{call.status}")
        body = turn.say(
            "recruit_card",
            group=call.group_name,
            when=format_span(call.starts_at, call.ends_at),
            taken=call.taken,
            capacity=call.capacity,
            waiting=call.waiting,
            status=status,
        )
        if call.hidden_reason:
            body += "\n" + turn.say("recruit_hidden_reason", reason=call.hidden_reason)
        cards.append(Card(call.title, body, tuple(buttons)))
    text = turn.say("recruit_mine" if cards else "recruit_mine_none")
    choices = [Choice(label("recruit_post", turn.locale), "rc:new"), *_menu(turn)]
    return Reply(text, "my_calls", choices=choices, cards=cards, locale=turn.locale)


def volunteers(turn: Turn, match: Match) -> Reply:
    """Who signed up for one of one's own calls (name, contact, age group)."""
    call_id = int(match.slots["call_id"])
    people = turn.store.volunteers(turn.user.id, call_id)
    call = turn.store.own_call(turn.user.id, call_id)
    if people is None or call is None:
        return _forbidden(turn)
    if not people:
        return Reply(
            turn.say("recruit_no_volunteers", title=call.title), "manage_call", choices=_mine(turn)
        )
    lines = [
        turn.say(
            "recruit_volunteers_head", title=call.title, taken=call.taken, capacity=call.capacity
        )
    ]
    for n, v in enumerate(people, 1):
        mark = turn.say("recruit_waiting_mark") if v.status == "waiting" else ""
        age = AGE_GROUPS.get(v.age_group, v.age_group)
        lines.append(f"{n}. {v.name}（{age}）{v.contact}{mark}")
    return Reply(
        "\n".join(lines), "manage_call", choices=_mine(turn), slots={"call_id": str(call_id)}
    )


def close(turn: Turn, match: Match) -> Reply:
    """Close one's call: it disappears from searches; sign-ups stay."""
    return _set_status(turn, int(match.slots["call_id"]), "closed")


def reopen(turn: Turn, match: Match) -> Reply:
    """Re-open one's closed call."""
    return _set_status(turn, int(match.slots["call_id"]), "open")


def _set_status(turn: Turn, call_id: int, status: str) -> Reply:
    if not turn.store.set_call_status(turn.user.id, call_id, status):
        return _forbidden(turn)
    call = turn.store.own_call(turn.user.id, call_id)
    title = call.title if call else ""
    return Reply(turn.say(f"recruit_{status}", title=title), "manage_call", choices=_mine(turn))


# --- common -----------------------------------------------------------------------------------


def _not_representative(turn: Turn) -> Reply:
    choices = [
        Choice(turn.messages.label("recruit_enter_code", turn.locale), "rc:link"),
        *_menu(turn),
    ]
    return Reply(
        turn.say("recruit_not_representative"), "post_call", choices=choices, locale=turn.locale
    )


def _forbidden(turn: Turn) -> Reply:
    return Reply(
        turn.say("recruit_forbidden"), "manage_call", choices=_menu(turn), locale=turn.locale
    )


def _mine(turn: Turn) -> list[Choice]:
    return [Choice(turn.messages.label("recruit_mine", turn.locale), "rc:mine"), *_menu(turn)]


def _menu(turn: Turn) -> list[Choice]:
    return [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]
