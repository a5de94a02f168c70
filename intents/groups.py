"""Finding groups (``find_groups``): by activity field and area, in free text or by taps.

Free text: 「大船駅の近くで子ども関係の団体」 gives ``field`` and ``area`` at once; what is missing
is asked with quick replies (分野 → 地域). Payloads (≤ 64 bytes):

- ``gs``            start: ask the field        - ``gA``  ask the area again
- ``gf:<code|*>``   choose a field (* = any)     - ``ga:<code|*>`` choose an area (* = anywhere)
- ``gm``            the next page               - ``gp``  the current page again
- ``gd:<id>``       one group's details
"""

from __future__ import annotations

from typing import Any

from intents.menu import MENU_PAYLOAD
from intents.router import Match
from intents.turn import Turn
from intents.types import MAX_CHOICES, Card, Choice, Reply
from knowledge.places import Area
from storage.store import GroupView

PAGE = 5
ANY = "*"
STATE = "groups"
AWAIT_FIELD, AWAIT_AREA = "groups.field", "groups.area"
DESCRIPTION_PREVIEW = 110
POPULAR_FIELDS = (
    "children",
    "culture_sports",
    "community",
    "welfare",
    "environment",
    "social_education",
    "international",
    "safety",
    "disaster",
    "human_rights",
    "tourism",
)

SLOT_ANSWER = 0.95


def _state(turn: Turn) -> dict[str, Any]:
    data = turn.state.get(STATE)
    if not isinstance(data, dict):
        data = {"field": None, "area": None, "page": 0}
        turn.state[STATE] = data
    return data


class GroupSlotAnswerRule:
    """The answer to 「どんな分野？」 or 「どの地域？」 typed as text (「子育て」「大船駅」)."""

    def match(self, turn: Turn) -> Match | None:
        if turn.payload is not None or turn.awaiting not in (AWAIT_FIELD, AWAIT_AREA):
            return None
        if turn.awaiting == AWAIT_FIELD:
            field = turn.fields.find(turn.text)
            if field is None:
                return None
            return Match("find_groups", SLOT_ANSWER, answer_slot, {"field_code": field.field.code})
        place = turn.places.find(turn.text)
        if place is None:
            return None
        slots = {"area_code": place.area.code, "place": place.place.name}
        return Match("find_groups", SLOT_ANSWER, answer_slot, slots)


class GroupPayloadRule:
    """Taps on the group-search buttons."""

    def match(self, turn: Turn) -> Match | None:
        payload = turn.payload or ""
        if payload == "gs":
            return Match("find_groups", 1.0, start)
        if payload == "gA":
            return Match("find_groups", 1.0, ask_area)
        if payload in ("gm", "gp"):
            return Match("find_groups", 1.0, more if payload == "gm" else show_page)
        kind, _, value = payload.partition(":")
        if kind == "gf" and (value == ANY or turn.fields.get(value)):
            return Match("find_groups", 1.0, answer_slot, {"field_code": value})
        if kind == "ga" and (value == ANY or turn.places.get(value)):
            return Match("find_groups", 1.0, answer_slot, {"area_code": value})
        if kind == "gd" and value.isascii() and value.isdigit() and len(value) <= 12:
            return Match("group_detail", 1.0, detail, {"group_id": value})
        return None


# --- handlers -----------------------------------------------------------------------------


def start(turn: Turn, match: Match) -> Reply:
    """「団体をさがす」: a fresh search, beginning with the field."""
    turn.state[STATE] = {"field": None, "area": None, "page": 0}
    return _ask_field(turn)


def search(turn: Turn, match: Match) -> Reply:
    """A search said in one message: keep what it names, ask for the rest."""
    turn.state[STATE] = {
        "field": match.slots.get("field_code"),
        "area": match.slots.get("area_code"),
        "page": 0,
        "place": match.slots.get("place"),
    }
    return _next_step(turn)


def answer_slot(turn: Turn, match: Match) -> Reply:
    """A field or an area chosen (tapped or typed) within a search."""
    data = _state(turn)
    if "field_code" in match.slots:
        data["field"] = match.slots["field_code"]
    if "area_code" in match.slots:
        data["area"] = match.slots["area_code"]
        data["place"] = match.slots.get("place")
    data["page"] = 0
    return _next_step(turn)


def ask_area(turn: Turn, match: Match) -> Reply:
    """「地域を変える」."""
    _state(turn)["area"] = None
    return _ask_area(turn)


def more(turn: Turn, match: Match) -> Reply:
    """「もっと見る」: the next page of the same search."""
    data = _state(turn)
    data["page"] = int(data.get("page") or 0) + 1
    return _results(turn)


def show_page(turn: Turn, match: Match) -> Reply:
    """「一覧にもどる」."""
    return _results(turn)


def detail(turn: Turn, match: Match) -> Reply:
    """One group: everything public about it, with its contact."""
    group = turn.store.get_group(int(match.slots["group_id"]))
    if group is None or not group.verified:
        return Reply(
            turn.say("groups_gone"), "group_detail", choices=_menu(turn), locale=turn.locale
        )
    lines = [group.description] if group.description else []
    fields = [f.label(turn.locale) for code in group.fields if (f := turn.fields.get(code))]
    if fields:
        lines.append(turn.say("groups_detail_fields", fields="・".join(fields)))
    lines.append(_where(turn, group))
    badges = _badges(turn, group)
    if badges:
        lines.append(badges)
    lines.append(
        turn.say("groups_detail_contact", contact=group.contact)
        if group.contact
        else turn.say("groups_detail_no_contact")
    )
    if group.is_sample:
        lines.append(turn.say("groups_sample_note"))
    card = Card(group.name, "\n".join(lines))
    choices = [Choice(turn.messages.label("groups_back", turn.locale), "gp"), *_menu(turn)]
    slots = {"group_id": str(group.id), "group": group.name}
    return Reply(
        group.name, "group_detail", choices=choices, cards=[card], slots=slots, locale=turn.locale
    )


# --- steps --------------------------------------------------------------------------------


def _next_step(turn: Turn) -> Reply:
    data = _state(turn)
    if not data.get("field"):
        return _ask_field(turn)
    if not data.get("area"):
        return _ask_area(turn)
    return _results(turn)


def _ask_field(turn: Turn) -> Reply:
    turn.state["awaiting"] = AWAIT_FIELD
    choices = [
        Choice(f.label(turn.locale), f"gf:{f.code}")
        for code in POPULAR_FIELDS
        if (f := turn.fields.get(code))
    ][: MAX_CHOICES - 1]
    choices.append(Choice(turn.messages.label("groups_any_field", turn.locale), f"gf:{ANY}"))
    return Reply(
        turn.say("groups_ask_field"),
        "find_groups",
        choices=choices,
        slots=_slots(turn),
        locale=turn.locale,
    )


def _ask_area(turn: Turn) -> Reply:
    turn.state["awaiting"] = AWAIT_AREA
    choices = [Choice(a.label(turn.locale), f"ga:{a.code}") for a in turn.places.areas]
    choices.append(Choice(turn.messages.label("groups_any_area", turn.locale), f"ga:{ANY}"))
    return Reply(
        turn.say("groups_ask_area"),
        "find_groups",
        choices=choices,
        slots=_slots(turn),
        locale=turn.locale,
    )


def _results(turn: Turn) -> Reply:
    data = _state(turn)
    field = data.get("field") if data.get("field") != ANY else None
    area = turn.places.get(data.get("area") or "")
    page = max(0, int(data.get("page") or 0))
    neighbours = area.neighbours if area else ()
    groups, total = turn.store.find_groups(
        field, area.code if area else None, neighbours, limit=PAGE, offset=page * PAGE
    )
    criteria = _criteria(turn)
    if total == 0:
        return _nothing_found(turn, criteria, area)
    if not groups:  # paged past the end
        data["page"] = max(0, (total - 1) // PAGE)
        text = turn.say("groups_no_more")
        return Reply(text, "find_groups", choices=_refine(turn, False), slots=_slots(turn))
    first = page * PAGE + 1
    text = turn.say(
        "groups_results", criteria=criteria, total=total, first=first, last=first + len(groups) - 1
    )
    cards = [_card(turn, g, area) for g in groups]
    has_more = first + len(groups) - 1 < total
    return Reply(
        text,
        "find_groups",
        choices=_refine(turn, has_more),
        cards=cards,
        slots=_slots(turn),
        locale=turn.locale,
    )


def _nothing_found(turn: Turn, criteria: str, area: Area | None) -> Reply:
    """Never an empty reply: offer fields that do have groups (in this area first)."""
    counts = turn.store.field_counts(area.code if area else None)
    choices = [
        Choice(f.label(turn.locale), f"gf:{f.code}")
        for code, _ in counts
        if (f := turn.fields.get(code)) and code != _state(turn).get("field")
    ][: MAX_CHOICES - 2]
    choices += [Choice(turn.messages.label("groups_change_area", turn.locale), "gA"), *_menu(turn)]
    return Reply(
        turn.say("groups_none", criteria=criteria),
        "find_groups",
        choices=choices,
        slots=_slots(turn),
        locale=turn.locale,
    )


def _card(turn: Turn, group: GroupView, area: Area | None) -> Card:
    description = group.description
    if len(description) > DESCRIPTION_PREVIEW:
        description = description[: DESCRIPTION_PREVIEW - 1] + "…"
    lines = [description, _where(turn, group, area)]
    badges = _badges(turn, group)
    if badges:
        lines.append(badges)
    if group.is_sample:
        lines.append(turn.say("groups_sample_note"))
    button = Choice(turn.messages.label("groups_detail", turn.locale), f"gd:{group.id}")
    return Card(group.name, "\n".join(line for line in lines if line), (button,))


def _where(turn: Turn, group: GroupView, area: Area | None = None) -> str:
    names = "・".join(a.label(turn.locale) for code in group.areas if (a := turn.places.get(code)))
    ranks = turn.messages.items("groups_rank", turn.locale)
    if group.citywide:
        return ranks[2]
    if area is None:
        return "📍 " + names
    rank = min(group.area_rank, 3)
    shown = area.label(turn.locale) if rank == 0 else names
    return "📍 " + ranks[rank].format(area=shown)


def _badges(turn: Turn, group: GroupView) -> str:
    badges = []
    if group.welcomes_newcomers:
        badges.append(turn.say("groups_badge_newcomers"))
    if group.welcomes_young:
        badges.append(turn.say("groups_badge_young"))
    return " ".join(f"【{b}】" for b in badges)


def _refine(turn: Turn, has_more: bool) -> list[Choice]:
    label = turn.messages.label
    choices = [Choice(label("groups_more", turn.locale), "gm")] if has_more else []
    choices += [
        Choice(label("groups_change_field", turn.locale), "gs"),
        Choice(label("groups_change_area", turn.locale), "gA"),
        *_menu(turn),
    ]
    return choices


def _menu(turn: Turn) -> list[Choice]:
    return [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]


def _criteria(turn: Turn) -> str:
    data = _state(turn)
    field = turn.fields.get(data.get("field") or "")
    area = turn.places.get(data.get("area") or "")
    field_text = field.label(turn.locale) if field else turn.say("groups_all_fields")
    area_text = area.label(turn.locale) if area else turn.say("groups_all_areas")
    return f"「{field_text}」×「{area_text}」"


def _slots(turn: Turn) -> dict[str, str]:
    """What the search knows so far, in words (the CLI's ``slots``)."""
    data = _state(turn)
    slots: dict[str, str] = {}
    if (field := turn.fields.get(data.get("field") or "")) is not None:
        slots["field"] = field.name
    elif data.get("field") == ANY:
        slots["field"] = ANY
    if (area := turn.places.get(data.get("area") or "")) is not None:
        slots["area"] = area.full_name
    elif data.get("area") == ANY:
        slots["area"] = ANY
    if data.get("place"):
        slots["place"] = str(data["place"])
    return slots
