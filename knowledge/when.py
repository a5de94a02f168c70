"""Days as residents and representatives write them, in Asia/Tokyo.

「12/5」「12月5日(土)」「来週の土曜」「再来週の日曜」「第2日曜」「1月の第2日曜」「明日」「今週末」「土日」
「12月」. Times of day (「10時〜12時」「10時から2時間」) are knowledge/clock.py.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from knowledge.numerals import normalize

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"
# A day said in kana is a word of its own: きょう in かんきょう (環境) or きょうどう (協働) is not
# today. It stands at the start or after a non-kana, and is followed by a particle or the end.
_KANA_WORD = r"(?<![ぁ-ゖァ-ヺー]){}(?=[のはにもでか]|$|\s|[、。!?！？])"
_RELATIVE = (
    (re.compile(rf"明後日|{_KANA_WORD.format('あさって')}"), 2),
    (re.compile(rf"明日|{_KANA_WORD.format('あした')}|{_KANA_WORD.format('あす')}"), 1),
    (re.compile(rf"今日|{_KANA_WORD.format('きょう')}|本日"), 0),
)
_W = "[月火水木金土日]"
_AFTER_NEXT_WEEK = re.compile("再来週|さ来週")
_FULL_DATE = re.compile(
    r"(20\d\d)\s?[年/.-]\s?(\d{1,2})\s?[月/.-]\s?(\d{1,2})(?!\d)(?:\s?日(?!曜))?"
)
# 「第2日曜」「毎月第2日曜」「1月の第2日曜」「来月の第3土曜日」「最終日曜」; of 「第2・第4日曜」
# the first (a call is for one day).
_ORDINAL = re.compile(
    r"(?:(?:(?P<year>20\d\d)\s?年\s?)?(?P<month>\d{1,2})\s?月|(?P<rel>今月|来月))?\s?の?\s?"
    rf"(?:毎月\s?の?\s?)?(?:第\s?(?P<n>\d)(?:\s?[・,、と]\s?第?\s?\d)*|(?P<last>最終|最後の))"
    rf"\s?(?P<w>{_W})曜日?"
)
# 「12/5」「12月5日」 — not 「12月 10時」, where the number after the month is an hour.
_MONTH_DAY = re.compile(
    r"(?<![\d.])(\d{1,2})\s?(?:月|/)\s?(\d{1,2})(?!\d)(?!\s?(?:時|:|分))(?:\s?日(?!曜))?"
)
_NAMED_WEEKDAY = re.compile(
    rf"(?:(?P<week>再来週|さ来週|来週|今週|次|今度)\s?の?\s?)?(?P<w>{_W})曜日?"
)
_BARE_WEEKDAY = re.compile(
    rf"(?P<week>再来週|さ来週|来週|今週|次|今度)\s?の?\s?(?P<w>{_W})(?![本時間曜])"
)
_DAY_ONLY = re.compile(r"(?<![\d月/.])(\d{1,2})\s?日(?![曜間中目])")
# The weekday written right after a date: 「12/5(土)」「12月5日 土曜日」「12/5（土曜）」.
_SAID_WEEKDAY = re.compile(rf"\s?(?:\(\s?(?P<p>{_W})\s?(?:曜日?)?\s?\)|(?P<w>{_W})曜日?)")
# How far back 「11/20」 still means this year's (already past) day rather than next year's.
_RECENT = timedelta(days=31)


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


@dataclass(frozen=True, slots=True)
class DayReading:
    """What a written day means, or why it names no usable day.

    ``problem`` is None (``day`` is meant), ``"unknown"`` (no day in the text), ``"impossible"``
    (2月30日, 2月の第5日曜: ``month``, ``mday`` or ``ordinal`` and ``weekday`` say what was
    written), ``"past"`` (``day`` is before today) or ``"weekday"`` (「12/5(日)」 when 12/5 is a
    Saturday: ``day`` as written, ``weekday`` as said, ``other`` the nearest day that is that
    weekday). ``rest`` is the text without the day, to read a time of day from.
    """

    day: date | None = None
    problem: str | None = None
    rest: str = ""
    month: int | None = None
    mday: int | None = None
    ordinal: int | None = None  # 第N; -1 for 最終
    weekday: int | None = None
    other: date | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    day: date | None
    explicit: bool = True  # a said weekday must agree (not so when the day came from one)
    month: int | None = None
    mday: int | None = None
    ordinal: int | None = None
    weekday: int | None = None


def today_in_tokyo(now: datetime) -> date:
    """The calendar day in Kamakura at ``now``."""
    return now.astimezone(TOKYO).date()


def _weekday(text: str) -> int | None:
    m = _NAMED_WEEKDAY.search(text) or _BARE_WEEKDAY.search(text)
    return WEEKDAYS.index(m.group("w")) if m else None


def parse_day(text: str, today: date) -> date | None:
    """One calendar day, or None when the text names none (past dates are returned as such, and
    a date whose written weekday disagrees as the date)."""
    return read_day(text, today).day


def read_day(text: str, today: date) -> DayReading:
    """Read one day from what a representative wrote, saying what is wrong with it if anything.

    Args:
        text: the message, e.g. 「12/5(土) 10時〜12時」 or 「1月の第2日曜」.
        today: the calendar day in Tokyo.
    """
    t = normalize(text)
    found = _find(t, today)
    if found is None:
        return DayReading(problem="unknown", rest=t)
    end, said = found.end, None
    if found.explicit and (m := _SAID_WEEKDAY.match(t, end)):
        said, end = WEEKDAYS.index(m.group("p") or m.group("w")), m.end()
    rest = (t[: found.start] + " " + t[end:]).strip()
    day = found.day
    if day is None:
        return DayReading(
            problem="impossible",
            rest=rest,
            month=found.month,
            mday=found.mday,
            ordinal=found.ordinal,
            weekday=found.weekday,
        )
    if day < today:
        return DayReading(day, "past", rest)
    if said is not None and said != day.weekday():
        ahead = day + timedelta(days=(said - day.weekday()) % 7)
        before = ahead - timedelta(days=7)
        nearer = before if day - before < ahead - day and before >= today else ahead
        return DayReading(day, "weekday", rest, weekday=said, other=nearer)
    return DayReading(day, None, rest)


def _find(t: str, today: date) -> _Found | None:
    """The first way of writing a day that the text uses, in order of precedence."""
    for pattern, offset in _RELATIVE:
        if m := pattern.search(t):
            return _Found(m.start(), m.end(), today + timedelta(days=offset))
    if m := _FULL_DATE.search(t):
        year, month, mday = (int(g) for g in m.groups())
        return _Found(m.start(), m.end(), _safe_date(year, month, mday), month=month, mday=mday)
    if m := _ORDINAL.search(t):
        return _ordinal(m, today)
    if m := _MONTH_DAY.search(t):
        month, mday = int(m.group(1)), int(m.group(2))
        return _Found(m.start(), m.end(), _month_day(month, mday, today), month=month, mday=mday)
    if m := _NAMED_WEEKDAY.search(t) or _BARE_WEEKDAY.search(t):
        weekday = WEEKDAYS.index(m.group("w"))
        week = m.group("week") or ""
        if not week and (other := re.search("再来週|さ来週|来週", t)):
            week = other.group(0)  # 「来週、土曜に」
        return _Found(m.start(), m.end(), _in_week(week, weekday, today), explicit=False)
    if m := _DAY_ONLY.search(t):
        mday = int(m.group(1))
        year, month = today.year, today.month
        if mday < today.day:  # 「5日」 said on the 20th: next month's
            year, month = _next_month(year, month)
        return _Found(m.start(), m.end(), _safe_date(year, month, mday), month=month, mday=mday)
    return None


def _month_day(month: int, mday: int, today: date) -> date | None:
    """The day 「month/mday」 meant: this year's, unless it is more than a month past (1/10 said
    in December is next January's); None when no such day exists in that year."""
    if not 1 <= month <= 12:
        return None
    proxy = date(today.year, month, min(mday, 28) or 1)  # compare even 2/29 or 2/30
    year = today.year if proxy >= today - _RECENT else today.year + 1
    return _safe_date(year, month, mday)


def _in_week(week: str, weekday: int, today: date) -> date:
    if _AFTER_NEXT_WEEK.fullmatch(week):
        return today + timedelta(days=14 - today.weekday() + weekday)
    if week == "来週":
        return today + timedelta(days=7 - today.weekday() + weekday)
    return today + timedelta(days=(weekday - today.weekday()) % 7)  # 土曜, 今週の土曜, 次の土曜


def _ordinal(m: re.Match[str], today: date) -> _Found:
    """「第2日曜」: this month's if still ahead, else the next month's that has one; with a month
    (1月の, 来月の), that month's, this year or next."""
    weekday = WEEKDAYS.index(m.group("w"))
    n = -1 if m.group("last") else int(m.group("n"))
    start, end = m.span()
    if m.group("rel"):
        year, month = today.year, today.month
        if m.group("rel") == "来月":
            year, month = _next_month(year, month)
    elif m.group("month"):
        month = int(m.group("month"))
        if not 1 <= month <= 12:
            return _Found(start, end, None, month=month, ordinal=n, weekday=weekday)
        year = int(m.group("year") or 0) or today.year + (month < today.month)
    else:
        year, month = today.year, today.month
        for _ in range(13):
            day = _nth_weekday(year, month, n, weekday)
            if day is not None and day >= today:
                return _Found(start, end, day, explicit=False)
            year, month = _next_month(year, month)
        return _Found(start, end, None, month=today.month, ordinal=n, weekday=weekday)
    day = _nth_weekday(year, month, n, weekday)
    return _Found(start, end, day, explicit=False, month=month, ordinal=n, weekday=weekday)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _nth_weekday(year: int, month: int, n: int, weekday: int) -> date | None:
    """The n-th given weekday of a month (n = -1: the last), or None when it has none."""
    if n == -1:
        last = date(year, month, monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    if not 1 <= n <= 5:
        return None
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    return day if day.month == month else None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# The spans' words typed in kana, longest first (「らいしゅうまつ」 before 「らいしゅう」).
_KANA_SPANS = (
    ("さらいしゅうまつ", "再来週末"), ("らいしゅうまつ", "来週末"), ("こんしゅうまつ", "今週末"),
    ("さらいしゅう", "再来週"), ("らいしゅう", "来週"), ("こんしゅう", "今週"),
    ("しゅうまつ", "週末"), ("らいげつ", "来月"), ("こんげつ", "今月"), ("どにち", "土日"),
)  # fmt: skip
# A whole word only: not inside other kana (まどにちかい, しゅうまつり).
_KANA_SPAN = re.compile(
    r"(?<![ぁ-ゖ])(" + "|".join(k for k, _ in _KANA_SPANS) + r")(?=[のにでははもへ、。!?！？\s]|$)"
)


def parse_period(text: str, today: date) -> Period | None:
    """A span to search in: 今日, 今週末/土日, 来週末, 今週, 来週, 再来週, 今月, 来月, N月, a
    day (the span words in kana too: こんしゅうまつ)."""
    t = _KANA_SPAN.sub(lambda m: dict(_KANA_SPANS)[m.group(1)], normalize(text))
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    if today.weekday() == 6:  # on a Sunday, 「今週末」 is today
        saturday = today - timedelta(days=1)
    if re.search(r"(?:再来|さ来)週末", t):
        sat = saturday + timedelta(days=14)
        return Period(sat, sat + timedelta(days=1), "再来週末")
    if re.search(r"来週末", t):
        sat = saturday + timedelta(days=7)
        return Period(sat, sat + timedelta(days=1), "来週末")
    if re.search(r"今週末|週末|土日|土曜か日曜|休日|休み", t):
        return Period(max(today, saturday), saturday + timedelta(days=1), "今週末")
    if _AFTER_NEXT_WEEK.search(t) and _weekday(t) is None:
        monday = today + timedelta(days=14 - today.weekday())
        return Period(monday, monday + timedelta(days=6), "再来週")
    if re.search(r"来週", t) and _weekday(t) is None:
        monday = today + timedelta(days=7 - today.weekday())
        return Period(monday, monday + timedelta(days=6), "来週")
    if re.search(r"今週", t) and _weekday(t) is None:
        return Period(today, today + timedelta(days=6 - today.weekday()), "今週")
    if re.search(r"来月", t) and not _ORDINAL.search(t):
        year, month = _next_month(today.year, today.month)
        return _month(year, month, today)
    if re.search(r"今月", t) and not _ORDINAL.search(t):
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
