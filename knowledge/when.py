"""Dates and times as residents write them, in Asia/Tokyo.

「12/5」「12月5日(土)」「来週の土曜」「明日」「10時〜12時」「午後1時半から3時」「今週末」「土日」「12月」.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"
# A day said in kana is a word of its own: きょう in かんきょう (環境) or きょうどう (協働) is not
# today. It stands at the start or after a non-kana, and is followed by a particle or the end.
_KANA_WORD = r"(?<![ぁ-ゖァ-ヺー]){}(?=[のはにもでか]|$|\s|[、。!?！？])"
_WEEKDAY_WORDS = {
    **{ch: i for i, ch in enumerate(WEEKDAYS)},
    **{w: i for i, w in enumerate(("げつ", "か", "すい", "もく", "きん", "ど", "にち"))},
}


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days [first, last], both included, and how the resident said it."""

    first: date
    last: date
    label: str

    def bounds(self) -> tuple[datetime, datetime]:
        """The span as aware datetimes: [first 00:00, last+1 00:00) in Tokyo."""
        start = datetime.combine(self.first, time(0), TOKYO)
        end = datetime.combine(self.last + timedelta(days=1), time(0), TOKYO)
        return start, end


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("〜", "~"), ("～", "~"), ("ー", "-"), ("−", "-"), ("–", "-"), ("—", "-")):
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text).strip()


def today_in_tokyo(now: datetime) -> date:
    """The calendar day in Kamakura at ``now``."""
    return now.astimezone(TOKYO).date()


def _weekday(text: str) -> int | None:
    m = re.search(r"(月|火|水|木|金|土|日)曜", text) or re.search(
        r"(?:来週|今週|次|今度)の?(月|火|水|木|金|土|日)(?![曜本時間])", text
    )
    return _WEEKDAY_WORDS[m.group(1)] if m else None


def parse_day(text: str, today: date) -> date | None:
    """One calendar day, or None when the text names none (past dates are returned as such)."""
    t = _norm(text)
    if re.search(rf"明後日|{_KANA_WORD.format('あさって')}", t):
        return today + timedelta(days=2)
    if re.search(rf"明日|{_KANA_WORD.format('あした')}|{_KANA_WORD.format('あす')}", t):
        return today + timedelta(days=1)
    if re.search(rf"今日|{_KANA_WORD.format('きょう')}|本日", t):
        return today
    m = re.search(r"(20\d\d)[年/.-](\d{1,2})[月/.-](\d{1,2})(?!\d)", t)
    if m:
        return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = re.search(r"(?<!\d)(\d{1,2})(?:月|/)(\d{1,2})(?!\d)日?", t)
    if m:
        month, day = int(m.group(1)), int(m.group(2))
        found = _safe_date(today.year, month, day)
        if found and found < today - timedelta(days=31):
            found = _safe_date(today.year + 1, month, day)  # 1/10 said in December
        return found
    weekday = _weekday(t)
    if weekday is not None:
        ahead = (weekday - today.weekday()) % 7
        if "来週" in t:
            monday = today + timedelta(days=7 - today.weekday())
            return monday + timedelta(days=weekday)
        return today + timedelta(days=ahead)
    m = re.search(r"(?<![\d月/])(\d{1,2})日", t)
    if m:
        day = int(m.group(1))
        found = _safe_date(today.year, today.month, day)
        if found and found < today:
            month = today.month % 12 + 1
            found = _safe_date(today.year + (today.month == 12), month, day)
        return found
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_TIME = r"(午前|午後|朝|夜|夕方)?(\d{1,2})(?:[:時](\d{1,2}|半)?分?)"


def parse_time_range(text: str) -> tuple[time, time] | None:
    """「10時〜12時」「13:30-15:00」「午後1時半から3時」 → (start, end)."""
    t = _norm(text)
    m = re.search(_TIME + r" ?(?:~|-|から|to) ?" + _TIME, t)
    if not m:
        return None
    start = _clock(m.group(1), m.group(2), m.group(3))
    end_marker = m.group(4) or ("午後" if m.group(1) in ("午後", "夜", "夕方") else None)
    end = _clock(end_marker, m.group(5), m.group(6))
    if start is None or end is None:
        return None
    if end <= start and start.hour < 12 and end.hour < 12 and not m.group(4):
        later = end.replace(hour=end.hour + 12)  # 「10時〜1時」 means until 13:00
        end = later if later > start else end
    return start, end


def parse_time(text: str) -> time | None:
    """A single clock time: 「10時」「9:30」「午後2時半」."""
    m = re.search(_TIME, _norm(text))
    return _clock(m.group(1), m.group(2), m.group(3)) if m else None


def _clock(marker: str | None, hour_text: str, minute_text: str | None) -> time | None:
    hour = int(hour_text)
    minute = 30 if minute_text == "半" else int(minute_text or 0)
    if marker in ("午後", "夜", "夕方") and hour < 12:
        hour += 12
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        return None
    return time(23, 59) if hour == 24 else time(hour, minute)


def parse_period(text: str, today: date) -> Period | None:
    """A span to search in: 今日, 今週末/土日, 来週末, 今週, 来週, 今月, 来月, N月, a day."""
    t = _norm(text)
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    if today.weekday() == 6:  # on a Sunday, 「今週末」 is today
        saturday = today - timedelta(days=1)
    if re.search(r"来週末", t):
        sat = saturday + timedelta(days=7)
        return Period(sat, sat + timedelta(days=1), "来週末")
    if re.search(r"今週末|週末|土日|土曜か日曜|休日|休み", t):
        return Period(max(today, saturday), saturday + timedelta(days=1), "今週末")
    if re.search(r"来週", t) and _weekday(t) is None:
        monday = today + timedelta(days=7 - today.weekday())
        return Period(monday, monday + timedelta(days=6), "来週")
    if re.search(r"今週", t) and _weekday(t) is None:
        return Period(today, today + timedelta(days=6 - today.weekday()), "今週")
    if re.search(r"来月", t):
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return _month(year, month, today)
    if re.search(r"今月", t):
        return _month(today.year, today.month, today)
    day = parse_day(t, today)
    if day is not None:
        return Period(day, day, f"{day.month}月{day.day}日")
    m = re.search(r"(?<!\d)(\d{1,2})月(?!\d)", t)
    if m and 1 <= int(m.group(1)) <= 12:
        month = int(m.group(1))
        year = today.year + (month < today.month)
        return _month(year, month, today)
    return None


def _month(year: int, month: int, today: date) -> Period:
    first = max(date(year, month, 1), today)
    last = date(year, month, monthrange(year, month)[1])
    return Period(first, last, f"{month}月")


def period_label(first: date, last: date, said: str, locale: str = "ja") -> str:
    """How to name a span of days: as the resident said it (「今週末」), or in English by its
    dates ("5–6 Dec")."""
    if not locale.startswith("en"):
        return said or f"{first.month}月{first.day}日〜{last.month}月{last.day}日"
    if first == last:
        return f"{WEEKDAYS_EN[first.weekday()]} {first.day} {MONTHS_EN[first.month - 1]}"
    if first.month == last.month:
        return f"{first.day}–{last.day} {MONTHS_EN[first.month - 1]}"
    return f"{first.day} {MONTHS_EN[first.month - 1]} – {last.day} {MONTHS_EN[last.month - 1]}"


WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_span(start: datetime, end: datetime, locale: str = "ja") -> str:
    """「12月5日(土) 10:00〜12:00」 in Tokyo time ("Sat 5 Dec, 10:00–12:00" in English)."""
    s, e = start.astimezone(TOKYO), end.astimezone(TOKYO)
    if locale.startswith("en"):
        day = f"{WEEKDAYS_EN[s.weekday()]} {s.day} {MONTHS_EN[s.month - 1]}"
        if e.date() != s.date():
            return f"{day}, {s:%H:%M} – {e.day} {MONTHS_EN[e.month - 1]}, {e:%H:%M}"
        return f"{day}, {s:%H:%M}–{e:%H:%M}"
    day = f"{s.month}月{s.day}日({WEEKDAYS[s.weekday()]})"
    if e.date() != s.date():
        return f"{day} {s:%H:%M}〜{e.month}月{e.day}日 {e:%H:%M}"
    return f"{day} {s:%H:%M}〜{e:%H:%M}"
