"""Kamakura's five areas (地域), their towns, stations and landmarks (``places.toml``), and a
matcher that finds the area a resident means: 「大船駅の近く」「ゆいがはま」「北鎌倉」 …"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from knowledge.analyzer import latin_words
from knowledge.romaji import spellings
from knowledge.text import Reading, Vocabulary, fold, reading, segmented_reading

PLACES_FILE = Path(__file__).with_name("places.toml")
CITYWIDE = "citywide"
MIN_READING = 3
FUZZY_MIN_READING = 4
LONG_NAME = 7  # kana
FIND_CACHE = 4096  # results kept: the same few place names come again and again
# 「鎌倉」 alone usually means the whole city, not the 鎌倉 area: only 「鎌倉地域」「鎌倉駅」…
# name the area. The city's own name is removed before matching.
CITY_NAMES = ("鎌倉市", "かまくらし")
BARE_AMBIGUOUS = {"鎌倉", "かまくら"}
AREA_SUFFIXES = ("地域", "地区", "エリア", "方面", "周辺", "のほう", "の方")
MIN_ROMAJI = 4  # letters; shorter romaji (tsu, dai) are English words or parts of them
LATIN_SUFFIXES = {"station": "eki", "eki": "eki"}


@dataclass(frozen=True, slots=True)
class Area:
    """One of the five 地域."""

    code: str
    name: str
    full_name: str
    reading: str
    neighbours: tuple[str, ...]
    full_name_en: str = ""

    def label(self, locale: str) -> str:
        """「大船地域」, or "Ofuna area" in English."""
        return (
            self.full_name_en if locale.startswith("en") and self.full_name_en else self.full_name
        )


@dataclass(frozen=True, slots=True)
class Place:
    """A named place (area, town, station, landmark) and the area it belongs to."""

    name: str
    kind: str  # area | alias | town | station | landmark
    area: str
    reading: str


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """An area found in a message, and the place name that gave it away."""

    area: Area
    place: Place
    exact: bool


class PlaceIndex:
    """Looks areas up by code or name, and finds them in free text."""

    def __init__(
        self,
        areas: list[Area],
        places: list[Place],
        outside: list[tuple[str, Place]] | None = None,
    ) -> None:
        self.areas = areas
        self._cached_find: Callable[[str], PlaceMatch | None] = lru_cache(FIND_CACHE)(self._find)
        self._areas = {a.code: a for a in areas}
        self._area_names: dict[str, str] = {}
        for a in areas:
            for name in (a.code, a.name, a.full_name, a.reading):
                self._area_names[fold(name)] = a.code
        self._names: list[tuple[str, str, Place]] = []
        for p in places:
            folded = fold(p.name)
            if folded and folded not in BARE_AMBIGUOUS:
                # The curated reading: analysers misread place names (大船 is おおふな).
                spoken = fold(p.reading) if p.reading else reading(folded)
                if spoken not in BARE_AMBIGUOUS:
                    self._names.append((folded, spoken, p))
        self._names.sort(key=lambda n: len(n[0]), reverse=True)
        # One-character towns (台, 津) only as a word of their own: at the start or after a
        # non-kanji, and followed by a particle or 周辺 (「台で防災」, not 「舞台」「今泉台」).
        self._single_places = {f: p for f, _, p in self._names if len(f) == 1}
        self._single = re.compile(
            r"(?<![\u4e00-\u9fff])(["
            + "".join(map(re.escape, self._single_places))
            + r"])(?=で|の|に|から|周辺|あたり|付近|近く|駅|$)"
        )
        self._vocabulary = Vocabulary(
            [(f if len(f) >= 2 else "", r) for f, r, _ in self._names], MIN_READING
        )
        # Long enough to be matched loosely, by their first kana (a slip keeps the first one).
        self._loose: dict[str, list[tuple[str, Place]]] = {}
        for _, spoken, p in self._names:
            if len(spoken) >= FUZZY_MIN_READING:
                self._loose.setdefault(spoken[0], []).append((spoken, p))
        # Romaji, for English messages: Ofuna, Yuigahama, Kita-Kamakura, Kamakura station.
        self._romaji: dict[str, Place] = {}
        for _, spoken, p in self._names:
            if p.kind != "area" or p.reading:
                for spelling in spellings(spoken):
                    if len(spelling) >= MIN_ROMAJI:
                        self._romaji.setdefault(spelling, p)
        # Outside the city: (a spelling, its reading, the place under its usual name).
        self._outside = [(fold(name), fold(p.reading), p) for name, p in outside or []]
        self._outside.sort(key=lambda n: len(n[0]), reverse=True)
        self._outside_romaji = {
            spelling: p for _, p in outside or [] for spelling in spellings(p.reading)
        }

    @classmethod
    def load(cls, path: Path = PLACES_FILE) -> PlaceIndex:
        """Read ``places.toml``."""
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        areas = [
            Area(
                a["code"],
                a["name"],
                a["full_name"],
                a["reading"],
                tuple(a["neighbours"]),
                a.get("full_name_en", ""),
            )
            for a in raw["area"]
        ]
        places: list[Place] = []
        for a in raw["area"]:
            for suffix in AREA_SUFFIXES:
                places.append(Place(a["name"] + suffix, "area", a["code"], ""))
            places.append(Place(a["name"], "area", a["code"], a["reading"]))
        for kind in ("alias", "town", "station", "landmark"):
            for p in raw.get(kind, []):
                spoken = p.get("reading", "")
                for name in [p["name"], *p.get("variants", ())]:
                    places.append(Place(name, kind, p["area"], spoken))
                    if kind == "station":
                        places.append(
                            Place(name + "駅", kind, p["area"], spoken and spoken + "えき")
                        )
        outside = [
            (name, Place(p["name"], "outside", "", p["reading"]))
            for p in raw.get("outside", [])
            for name in [p["name"], *p.get("variants", ())]
        ]
        return cls(areas, places, outside)

    def get(self, code: str) -> Area | None:
        """The area with this code."""
        return self._areas.get(code)

    def lookup_area(self, text: str) -> str | None:
        """An area code from a code or an area name (CSV import, buttons); ``citywide`` too."""
        folded = fold(text)
        if folded in {CITYWIDE, fold("市内全域"), fold("全域"), fold("市全域")}:
            return CITYWIDE
        return self._area_names.get(folded)

    def find(self, text: str) -> PlaceMatch | None:
        """The area a message talks about, by the longest place name in it."""
        return self._cached_find(text)  # the index never changes: results are kept

    def find_outside(self, text: str) -> Place | None:
        """A place outside the city the message names (藤沢, 江の島, Zushi), unless a place in
        the city contains it (片瀬山 is a station in 腰越, 片瀬 is in 藤沢市)."""
        inside = self.find(text)
        folded = fold(text)
        if inside is not None and inside.exact:
            folded = folded.replace(fold(inside.place.name), "")
        spoken = segmented_reading(folded) if folded else None
        for o_folded, o_reading, place in self._outside:
            if len(o_folded) >= 2 and o_folded in folded:
                return place
            if spoken and len(o_reading) >= MIN_READING and spoken.has_word(o_reading):
                return place
        for candidate in _latin_candidates(text):
            if candidate in self._outside_romaji:
                return self._outside_romaji[candidate]
        return None

    def outside_named(self, text: str) -> Place | None:
        """A place outside the city written out in ``text`` (藤沢市, 横浜): a plain look for
        the names, without readings, typos or the places inside (``find_outside`` has them)."""
        folded = fold(text)
        for o_folded, _, place in self._outside:
            if len(o_folded) >= 2 and o_folded in folded:
                return place
        return None

    def _find(self, text: str) -> PlaceMatch | None:
        for candidate in _latin_candidates(text):
            if candidate in self._romaji:
                place = self._romaji[candidate]
                return PlaceMatch(self._areas[place.area], place, exact=True)
        folded = fold(text)
        for city in CITY_NAMES:
            folded = folded.replace(city, "")
        if not folded:
            return None
        spoken = segmented_reading(folded)
        rank = self._vocabulary.first(folded, spoken)
        if rank is not None:
            place = self._names[rank][2]
            return PlaceMatch(self._areas[place.area], place, exact=True)
        if (single := self._single.search(folded)) is not None:
            place = self._single_places[single.group(1)]
            return PlaceMatch(self._areas[place.area], place, exact=True)
        # Loosely only after no name matched exactly in any spelling, and only one slip
        # away (大舟 → 大船, こしごい → 腰越): 「鎌倉まつり」 is not 鎌倉山.
        best: tuple[int, Place] | None = None
        firsts = {spoken.text[i] for i in spoken.starts if i < len(spoken.text)}
        for p_reading, place in (c for f in firsts for c in self._loose.get(f, ())):
            slips = _slips(p_reading, spoken)
            if slips <= 1 and (best is None or slips < best[0]):
                best = (slips, place)
        if best:
            return PlaceMatch(self._areas[best[1].area], best[1], exact=False)
        return None


def _slips(word: str, spoken: Reading) -> int:
    """The fewest edits that make a stretch of ``spoken`` into ``word``: a stretch on word
    boundaries (not the middle of 横浜駅) with the same first kana (a slip, not another name)."""
    text = spoken.text
    n, best = len(word), len(word)
    # A kana typed wrong (おおふね); one left out or added only in long names.
    sizes = (n - 1, n, n + 1) if n >= LONG_NAME else (n,)
    for i in range(max(1, len(text) - n + 2)):
        for size in sizes:
            stretch = text[i : i + size]
            on_words = i in spoken.starts and i + size in spoken.ends
            if len(stretch) == size and stretch[0] == word[0] and on_words:
                best = min(best, Levenshtein.distance(word, stretch, score_cutoff=1))
    return best


def _latin_candidates(text: str) -> list[str]:
    """Runs of one to three English words joined, longest first: "kita kamakura" and
    "kita-kamakura" both give kitakamakura; "kamakura station" gives kamakuraeki."""
    words = [LATIN_SUFFIXES.get(w, w) for w in latin_words(text)]
    runs = {
        "".join(words[i:j]).replace("-", "").replace("'", "")
        for i in range(len(words))
        for j in range(i + 1, min(len(words), i + 3) + 1)
    }
    return sorted((r for r in runs if len(r) >= MIN_ROMAJI), key=len, reverse=True)
