"""Times of day as representatives write them: 「10時〜12時」「10〜12時」「13:00-15:30」
「午後1時半から3時」「午前10時〜正午」「10時から2時間」「1時間半」「10時から」「12時まで」「午後」.

A time with no 午前/午後 between 1 and 5 o'clock is the afternoon (no group meets at 3 a.m.;
people write 朝5時 when they mean it), and an end without one follows its start's
(「午後1時半から3時」 ends at 15:00, 「10時〜1時」 at 13:00).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from knowledge.numerals import normalize

_PM = ("午後", "夕方", "夜")
_MARK = r"(?P<mark>午前|午後|朝|お?昼|夕方|夜)?\s?の?\s?"
# A clock time: 「10時」「10時半」「10時30分」「9:30」「午後2時」; 「正午」 and 「お昼」 are noon.
_POINT = re.compile(
    _MARK + r"(?:(?<![\d/.:])(?P<h>\d{1,2})(?::(?P<m>\d{2})|\s?時(?!間)(?:\s?(?P<mm>\d{1,2})\s?分"
    r"|(?P<half>半)|(?P<m2>\d{2})(?![\d時分]))?)|(?P<noon>正午|お?昼(?![間食]|ご飯)))"
)
# The first hour of a range written once: 「10〜12時」「午後1-3時」「10から12時」.
_BARE = re.compile(
    _MARK + r"(?<![\d/.:])(?P<h>\d{1,2})"
    r"(?=\s?(?:~|-|から)\s?(?:午前|午後|夕方|夜)?\s?\d{1,2}\s?[時:])"
)
_DURATION = re.compile(
    r"(?<![\d:])(?:(?P<h>\d{1,2})\s?時間\s?(?:(?P<half>半)|(?P<m>\d{1,2})\s?分)?"
    r"|(?P<min>\d{1,3})\s?分間?)"
)
_UNTIL = re.compile(r"\s?(?:まで|迄)")
_OPEN_START = re.compile(r"\s?[~-]\s?")  # 「〜12時」
# A part of the day with no hour: which hour is then asked.
_VAGUE = (
    ("morning", re.compile(r"午前|朝")),
    ("afternoon", re.compile(r"午後|昼間|日中")),
    ("evening", re.compile(r"夕方|夕刻")),
    ("night", re.compile(r"夜")),
)


@dataclass(frozen=True, slots=True)
class ClockReading:
    """What a written time of day means.

    ``kind`` is ``"range"`` (``start`` and ``end``; 「10時から2時間」 too), ``"start"``
    (「10時から」: the end is still to ask), ``"end"`` (「12時まで」), ``"duration"``
    (「2時間」: ``minutes``), ``"vague"`` (「午後」: ``part`` is morning, afternoon, evening or
    night), ``"overnight"`` (it would end after midnight) or ``"none"``.
    """

    kind: str
    start: time | None = None
    end: time | None = None
    minutes: int = 0
    part: str = ""


@dataclass(frozen=True, slots=True)
class _Point:
    at: int  # where it was written
    until: int
    minutes: int  # since midnight; -1 when no clock has that hour or minute (25時, 12:99)
    mark: str  # 午前, 午後 … or "" when none was written


def read_clock(text: str) -> ClockReading:
    """Read a start and an end (or what there is of them) from a time of day as written."""
    t = normalize(text)
    points = _points(t)
    if any(p.minutes < 0 for p in points):
        return ClockReading("none")  # not 「30分」 of 「24時30分」 as a duration either
    blanked = t
    for p in points:
        blanked = blanked[: p.at] + " " * (p.until - p.at) + blanked[p.until :]
    duration = _duration(blanked)
    if not points:
        if duration:
            return ClockReading("duration", minutes=duration)
        for part, pattern in _VAGUE:
            if pattern.search(t):
                return ClockReading("vague", part=part)
        return ClockReading("none")
    first = points[0]
    start = _hour_of_day(first.minutes, first.mark)
    if len(points) >= 2:
        second = points[1]
        if second.minutes in (0, 24 * 60):
            end = 24 * 60  # 「夜9時〜0時」「〜24時」: midnight, whatever the mark
        else:
            end = _hour_of_day(second.minutes, second.mark or first.mark)
        if end <= start and start < 12 * 60 and end < 12 * 60 and not second.mark:
            end += 12 * 60  # 「10時〜1時」 ends at 13:00
        elif end <= start and not (first.mark or second.mark) and 1 <= first.minutes // 60 <= 5:
            end += 12 * 60  # 「4時〜6時」: the start was read as afternoon, so is the end
        elif end <= start and start >= 18 * 60 and second.minutes < start - 12 * 60:
            end = second.minutes + 24 * 60  # 「23時〜1時」: past midnight
        return _range(start, end)
    if duration:
        return _range(start, start + duration)
    if _UNTIL.match(t, first.until) or _OPEN_START.fullmatch(t[: first.at]):
        return ClockReading("end", end=_time(start))
    return ClockReading("start", start=_time(start))


def _points(t: str) -> list[_Point]:
    found: list[_Point] = []
    for pattern in (_POINT, _BARE):
        for m in pattern.finditer(t):
            if any(p.at < m.end() and m.start() < p.until for p in found):
                continue
            found.append(_Point(m.start(), m.end(), _minutes(m), _mark(m.group("mark"))))
    return sorted(found, key=lambda p: p.at)


def _minutes(m: re.Match[str]) -> int:
    groups = m.groupdict()
    if groups.get("noon"):
        return 12 * 60
    hour = int(m.group("h"))
    minute_text = groups.get("m") or groups.get("mm") or groups.get("m2")
    minute = 30 if groups.get("half") else int(minute_text or 0)
    if hour > 24 or minute >= 60 or (hour == 24 and minute):
        return -1
    return hour * 60 + minute


def _mark(mark: str | None) -> str:
    return (mark or "").removeprefix("お")


def _hour_of_day(minutes: int, mark: str) -> int:
    """Minutes since midnight once 午前/午後 (or the afternoon rule) is applied."""
    hour = minutes // 60
    if mark in _PM and hour < 12:
        return minutes + 12 * 60
    if mark == "昼" and hour <= 5:  # 昼1時
        return minutes + 12 * 60
    if not mark and 1 <= hour <= 5:
        return minutes + 12 * 60
    return minutes


def _duration(t: str) -> int:
    m = _DURATION.search(t)
    if not m:
        return 0
    if m.group("min"):
        return int(m.group("min"))
    return int(m.group("h")) * 60 + (30 if m.group("half") else int(m.group("m") or 0))


def _range(start: int, end: int) -> ClockReading:
    if end > 24 * 60:
        return ClockReading("overnight", start=_time(start))
    return ClockReading("range", start=_time(start), end=_time(end))


def _time(minutes: int) -> time:
    return time(23, 59) if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)
