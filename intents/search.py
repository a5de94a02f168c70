"""Searches said in words: groups (``find_groups``), openings (``find_openings``), or
both.

A resident rarely says 団体: 「七里ガ浜でごみ拾い」「梶原で子ども食堂を手伝いたい」 are searches
too.
The words that tell which (``knowledge/search.toml``):

* a group word (団体, サークル, club) → groups; an opening word (募集, ボランティア, イベント) or a
  time (今週末, 12月) → openings; a field word (fields.toml) with a place or a wish (したい,
  参加) and neither → groups, with a button to the openings of the same field and area;
* a place outside the city (藤沢, 江の島, Zushi) → 「…は鎌倉市の外です」 and the five areas;
* a question about a figure or a meaning (何団体, とは) is the FAQ's, whatever else it names.

Payloads: ``gq:<field|*>:<area|*>`` groups, ``oq:<field|*>:<area|*>`` openings, with those slots.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from intents import groups, openings
from intents.menu import MENU_PAYLOAD
from intents.router import Match
from intents.turn import Turn
from intents.types import MAX_CHOICES, Choice, Reply
from knowledge.kana_words import read_as_words
from knowledge.romaji import romanized_name
from knowledge.text import fold, word_forms
from knowledge.when import parse_period, today_in_tokyo

SEARCH_FILE = Path(__file__).parents[1] / "knowledge" / "search.toml"
ANY = "*"
# Against the other rules: a search with something to search for beats an FAQ guess (the FAQ
# answers a named figure or term with more); a bare 「ボランティアしたい」 beats a weak one.
SURE_SEARCH = 0.96  # above the FAQ's best (0.95), below a form's answer (0.97)
SEARCH_WITH_SLOTS = 0.88
SEARCH_WITHOUT_SLOTS = 0.7
OUTSIDE_SCORE = 0.9


@dataclass(frozen=True)
class SearchWords:
    """The word lists of ``search.toml`` as patterns over the folded text and English words."""

    groups: re.Pattern[str]
    openings: re.Pattern[str]
    wants: re.Pattern[str]
    not_search: re.Pattern[str]
    off_topic: re.Pattern[str]
    not_openings: re.Pattern[str]
    guideline_terms: re.Pattern[str]
    time_en: tuple[tuple[re.Pattern[str], str], ...]


def _pattern(words: list[str]) -> re.Pattern[str]:
    forms = {f for w in words for f in word_forms(w)} - {""}
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


@cache
def search_words(path: Path = SEARCH_FILE) -> SearchWords:
    """Read ``search.toml`` once."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    words = data["words"]
    time_en = tuple(
        (re.compile(rf"\b{re.escape(en)}\b"), ja)
        for en, ja in sorted(data["time_en"].items(), key=lambda kv: len(kv[0]), reverse=True)
    )
    return SearchWords(
        groups=_pattern(words["groups"]),
        openings=_pattern(words["openings"]),
        wants=_pattern(words["wants"]),
        not_search=_pattern(words["not_search"]),
        off_topic=_pattern(words["off_topic"]),
        not_openings=_pattern(words["not_openings"]),
        guideline_terms=_pattern(words["guideline_terms"]),
        time_en=time_en,
    )


_LINK = re.compile(r"https?://\S+|www\.\S+|\S+@\S+")


def _haystack(turn: Turn) -> str:
    """The folded text, then the English as typed (lower case, spaces kept); links and
    addresses are not words of a search (…/event is not an event)."""
    text = unicodedata.normalize("NFKC", turn.text).lower()
    if not _LINK.search(text):
        return turn.folded + " " + text
    text = _LINK.sub(" ", text)
    return fold(text) + " " + text


def japanese_time(turn: Turn) -> str:
    """The message with English time words in Japanese, for knowledge/when.py."""
    text = unicodedata.normalize("NFKC", turn.text).lower()
    for pattern, ja in search_words().time_en:
        text = pattern.sub(ja, text)
    return text


class SearchRule:
    """Free text that looks for groups or openings (see the module docstring)."""

    def match(self, turn: Turn) -> Match | None:
        if turn.payload is not None or not turn.folded:
            return None
        words = search_words()
        hay = _haystack(turn)
        # A question typed in kana is read with our words too (しみんかつどうのやくわり → 役割).
        read = read_as_words(turn.folded)
        if any(words.not_search.search(h) or words.off_topic.search(h) for h in (hay, read)):
            return None
        hay = words.guideline_terms.sub(" ", hay)
        wants_groups = bool(words.groups.search(hay))
        wants_openings = bool(words.openings.search(hay)) and not words.not_openings.search(hay)
        period = parse_period(japanese_time(turn), today_in_tokyo(turn.now))
        field = turn.fields.find(turn.text)
        wish = bool(words.wants.search(hay))
        if not (wants_groups or wants_openings or period or field or wish):
            return None  # a place alone (「大船」) is not a search
        place = turn.places.find(turn.text)
        slots: dict[str, str] = {}
        if field:
            slots["field_code"] = field.field.code
            if field.exact:  # 英語: titles that say it are found too
                slots["field_words"] = "|".join(turn.fields.spellings(field))
        if place:
            slots["area_code"] = place.area.code
            slots["place"] = place.place.name
        outside = turn.places.find_outside(turn.text)
        if outside is not None and (place is None or not place.exact):
            if wants_groups or wants_openings or field or wish or period:
                kind = "openings" if wants_openings or period else "groups"
                slots = {**slots, "place": outside.name, "kind": kind}
                slots["place_en"] = romanized_name(outside.reading)
                slots.pop("area_code", None)
                return Match("outside_city", OUTSIDE_SCORE, outside_city, slots)
            return None
        # What to search for (a field, a place) and that it is a search (団体, 募集, a day,
        # a wish): surer than any FAQ answer.
        sure = (
            SURE_SEARCH
            if (field or place) and (wants_groups or wants_openings or period or wish)
            else SEARCH_WITH_SLOTS
        )
        if period and (wants_openings or field or place or wish):
            slots["from"], slots["to"] = period.first.isoformat(), period.last.isoformat()
            slots["period"] = period.label
            return Match("find_openings", sure, openings.search, slots)
        if wants_openings and not wants_groups:
            score = sure if field or place or wish else SEARCH_WITHOUT_SLOTS
            return Match("find_openings", score, openings.search, slots)
        if wants_groups:
            if field or place or wish:
                # 「参加できる団体を探したい」: a group word and a wish is a search too.
                return Match("find_groups", sure, groups.search, slots)
            return None
        # An interest without 団体 or 募集: 「深沢でお祭り」「子ども食堂を手伝いたい」; a place and
        # a wish: 「御成町あたりで何かしたい」 (the field is asked next).
        if (field and (place or wish)) or (place and wish):
            return Match("find_groups", sure, groups_and_openings, slots)
        return None


def groups_and_openings(turn: Turn, match: Match) -> Reply:
    """Groups of that field and area, with a button to the openings of the same."""
    reply = groups.search(turn, match)
    code = f"oq:{match.slots.get('field_code', ANY)}:{match.slots.get('area_code', ANY)}"
    also = Choice(turn.messages.label("search_also_openings", turn.locale), code)
    reply.choices = [also, *reply.choices][:MAX_CHOICES]
    return reply


def outside_city(turn: Turn, match: Match) -> Reply:
    """「藤沢は鎌倉市の外です」 and the five areas, keeping the field the message named."""
    field = match.slots.get("field_code", ANY)
    prefix = "oq" if match.slots.get("kind") == "openings" else "gq"
    areas = turn.places.areas
    choices = [Choice(a.label(turn.locale), f"{prefix}:{field}:{a.code}") for a in areas]
    choices.append(Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD))
    place = match.slots["place"]
    if turn.locale.startswith("en"):
        place = match.slots.get("place_en") or place
    text = turn.say("outside_city", place=place)
    return Reply(
        text, "outside_city", choices=choices, slots=dict(match.slots), locale=turn.locale
    )


class SearchPayloadRule:
    """``gq:`` and ``oq:`` buttons: a search with the field and area they carry."""

    def match(self, turn: Turn) -> Match | None:
        kind, _, rest = (turn.payload or "").partition(":")
        if kind not in ("gq", "oq"):
            return None
        field, _, area = rest.partition(":")
        slots: dict[str, str] = {}
        if field != ANY:
            if turn.fields.get(field) is None:
                return None
            slots["field_code"] = field
        if area != ANY:
            if turn.places.get(area) is None:
                return None
            slots["area_code"] = area
        if kind == "gq":
            return Match("find_groups", 1.0, groups.search, slots)
        return Match("find_openings", 1.0, openings.search, slots)
