"""Kamakura's five areas (地域), their towns, stations and landmarks (``places.toml``), and a
matcher that finds the area a resident means: 「大船駅の近く」「ゆいがはま」「北鎌倉」 …"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz

from knowledge.text import fold, reading, segmented_reading

PLACES_FILE = Path(__file__).with_name("places.toml")
CITYWIDE = "citywide"
MIN_READING = 3
FUZZY_MIN_READING = 5
FUZZY_CUTOFF = 90
FIND_CACHE = 4096  # results kept: the same few place names come again and again
# 「鎌倉」 alone usually means the whole city, not the 鎌倉 area: only 「鎌倉地域」「鎌倉駅」…
# name the area. The city's own name is removed before matching.
CITY_NAMES = ("鎌倉市", "かまくらし")
BARE_AMBIGUOUS = {"鎌倉", "かまくら"}
AREA_SUFFIXES = ("地域", "地区", "エリア", "方面", "周辺", "のほう", "の方")


@dataclass(frozen=True, slots=True)
class Area:
    """One of the five 地域."""

    code: str
    name: str
    full_name: str
    reading: str
    neighbours: tuple[str, ...]


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

    def __init__(self, areas: list[Area], places: list[Place]) -> None:
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

    @classmethod
    def load(cls, path: Path = PLACES_FILE) -> PlaceIndex:
        """Read ``places.toml``."""
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        areas = [
            Area(a["code"], a["name"], a["full_name"], a["reading"], tuple(a["neighbours"]))
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
        return cls(areas, places)

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

    def _find(self, text: str) -> PlaceMatch | None:
        folded = fold(text)
        for city in CITY_NAMES:
            folded = folded.replace(city, "")
        if not folded:
            return None
        spoken = segmented_reading(folded)
        for p_folded, p_reading, place in self._names:
            in_surface = p_folded in folded and len(p_folded) >= 2
            in_reading = len(p_reading) >= MIN_READING and spoken.has_word(p_reading)
            if in_surface or in_reading:
                return PlaceMatch(self._areas[place.area], place, exact=True)
        best: tuple[float, Place] | None = None
        for _, p_reading, place in self._names:
            if len(p_reading) >= FUZZY_MIN_READING:
                score = fuzz.partial_ratio(p_reading, spoken.text)
                if score >= FUZZY_CUTOFF and (best is None or score > best[0]):
                    best = (score, place)
        if best:
            return PlaceMatch(self._areas[best[1].area], best[1], exact=False)
        return None
