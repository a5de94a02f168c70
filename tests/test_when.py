"""Dates, times and numbers of people as representatives and residents write them, read from
fixed days in Asia/Tokyo (knowledge/when.py, knowledge/clock.py, knowledge/numerals.py).

Each table row is a phrasing and what it must mean, written out by hand from a calendar:

- a day: ``2027-01-10``; ``past 2026-11-20``; ``weekday 2026-12-05 or 2026-12-06`` (the
  date as written, and the nearest date that is the weekday written with it);
  ``impossible`` (2月30日); ``unknown`` (no day at all);
- a time of day: ``10:00-12:00``; ``10:00-`` (a start: the end is still to ask); ``-12:00``
  (an end); ``120min`` (a duration); ``vague afternoon``; ``overnight``; ``none``.
"""

from __future__ import annotations

from datetime import date

import pytest

from knowledge.clock import read_clock
from knowledge.numerals import kanji_value, read_count
from knowledge.when import parse_day, parse_period, read_day

WED_2_DEC = date(2026, 12, 2)  # the examples of issue 14
WED_30_DEC = date(2026, 12, 30)  # the year end
SUN_31_JAN = date(2027, 1, 31)  # a month end, on a Sunday
TUE_29_FEB = date(2028, 2, 29)  # a leap day
MON_30_NOV = date(2026, 11, 30)  # a month end, on a Monday


def day_of(text: str, today: date) -> str:
    reading = read_day(text, today)
    if reading.problem is None and reading.day is not None:
        return reading.day.isoformat()
    if reading.problem == "past":
        return f"past {reading.day}"
    if reading.problem == "weekday":
        return f"weekday {reading.day} or {reading.other}"
    return str(reading.problem)


def clock_of(text: str) -> str:
    c = read_clock(text)
    hm = "{:%H:%M}".format
    if c.kind == "range" and c.start and c.end:
        return f"{hm(c.start)}-{hm(c.end)}"
    if c.kind == "start" and c.start:
        return f"{hm(c.start)}-"
    if c.kind == "end" and c.end:
        return f"-{hm(c.end)}"
    if c.kind == "duration":
        return f"{c.minutes}min"
    if c.kind == "vague":
        return f"vague {c.part}"
    return c.kind


DAYS = [
    # --- Wednesday 2 December 2026 -----------------------------------------------------------
    (WED_2_DEC, "1月の第2日曜", "2027-01-10"),
    (WED_2_DEC, "一月の第二日曜", "2027-01-10"),
    (WED_2_DEC, "2027年1月の第2日曜", "2027-01-10"),
    (WED_2_DEC, "第2日曜", "2026-12-13"),
    (WED_2_DEC, "毎月第2日曜", "2026-12-13"),
    (WED_2_DEC, "毎月 第2日曜日", "2026-12-13"),
    (WED_2_DEC, "第二日曜", "2026-12-13"),
    (WED_2_DEC, "毎月第2・第4日曜", "2026-12-13"),  # one day: the first
    (WED_2_DEC, "第1日曜", "2026-12-06"),
    (WED_2_DEC, "第1水曜", "2026-12-02"),  # today
    (WED_2_DEC, "第1火曜", "2027-01-05"),  # this month's was yesterday
    (WED_2_DEC, "第3土曜日", "2026-12-19"),
    (WED_2_DEC, "毎月第４土曜", "2026-12-26"),
    (WED_2_DEC, "最終日曜", "2026-12-27"),
    (WED_2_DEC, "来月の第1土曜", "2027-01-02"),
    (WED_2_DEC, "今月の第1日曜", "2026-12-06"),
    (WED_2_DEC, "今月の第1月曜", "2026-12-07"),
    (WED_2_DEC, "12月の第1火曜", "past 2026-12-01"),
    (WED_2_DEC, "2月の第5日曜", "impossible"),
    (WED_2_DEC, "第6日曜", "impossible"),
    (WED_2_DEC, "再来週の日曜", "2026-12-20"),
    (WED_2_DEC, "再来週の土曜", "2026-12-19"),
    (WED_2_DEC, "さ来週の月曜", "2026-12-14"),
    (WED_2_DEC, "来週の土曜", "2026-12-12"),
    (WED_2_DEC, "来週の日曜", "2026-12-13"),
    (WED_2_DEC, "来週 土曜", "2026-12-12"),
    (WED_2_DEC, "今週の土曜", "2026-12-05"),
    (WED_2_DEC, "土曜", "2026-12-05"),
    (WED_2_DEC, "日曜日", "2026-12-06"),
    (WED_2_DEC, "次の日曜", "2026-12-06"),
    (WED_2_DEC, "今度の土曜日", "2026-12-05"),
    (WED_2_DEC, "来週の土", "2026-12-12"),
    (WED_2_DEC, "水曜", "2026-12-02"),
    (WED_2_DEC, "明日", "2026-12-03"),
    (WED_2_DEC, "あさって", "2026-12-04"),
    (WED_2_DEC, "今日", "2026-12-02"),
    (WED_2_DEC, "12/5", "2026-12-05"),
    (WED_2_DEC, "１２／５", "2026-12-05"),
    (WED_2_DEC, "12 / 5", "2026-12-05"),
    (WED_2_DEC, "12月 5日", "2026-12-05"),
    (WED_2_DEC, "十二月五日", "2026-12-05"),
    (WED_2_DEC, "12月5日(土)", "2026-12-05"),
    (WED_2_DEC, "12/5（土曜日）", "2026-12-05"),
    (WED_2_DEC, "12/5(日)", "weekday 2026-12-05 or 2026-12-06"),
    (WED_2_DEC, "12月5日（日曜日）", "weekday 2026-12-05 or 2026-12-06"),
    (WED_2_DEC, "12/5 日曜", "weekday 2026-12-05 or 2026-12-06"),
    (WED_2_DEC, "12/7(日)", "weekday 2026-12-07 or 2026-12-06"),  # the nearer Sunday is before
    (WED_2_DEC, "12/3(月)", "weekday 2026-12-03 or 2026-12-07"),  # the nearer Monday is past
    (WED_2_DEC, "明日(土)", "weekday 2026-12-03 or 2026-12-05"),
    (WED_2_DEC, "2026年12月24日", "2026-12-24"),
    (WED_2_DEC, "2026/12/24", "2026-12-24"),
    (WED_2_DEC, "1/10", "2027-01-10"),
    (WED_2_DEC, "10/1", "2027-10-01"),  # more than a month past: next year's
    (WED_2_DEC, "5日", "2026-12-05"),
    (WED_2_DEC, "十日", "2026-12-10"),
    (WED_2_DEC, "1日", "2027-01-01"),
    (WED_2_DEC, "31日", "2026-12-31"),
    (WED_2_DEC, "11/20", "past 2026-11-20"),
    (WED_2_DEC, "12/1", "past 2026-12-01"),
    (WED_2_DEC, "2025/12/5", "past 2025-12-05"),
    (WED_2_DEC, "2月30日", "impossible"),
    (WED_2_DEC, "4/31", "impossible"),
    (WED_2_DEC, "13/5", "impossible"),
    (WED_2_DEC, "12月32日", "impossible"),
    (WED_2_DEC, "来年のどこか", "unknown"),
    (WED_2_DEC, "そのうち", "unknown"),
    (WED_2_DEC, "12月", "unknown"),  # a month is no day
    (WED_2_DEC, "かんきょう", "unknown"),  # きょう inside a word is not today
    (WED_2_DEC, "三日間", "unknown"),  # a span, not the 3rd
    # --- Wednesday 30 December 2026: the year end ---------------------------------------------
    (WED_30_DEC, "1月の第2日曜", "2027-01-10"),
    (WED_30_DEC, "来週の土曜", "2027-01-09"),
    (WED_30_DEC, "1/3", "2027-01-03"),
    (WED_30_DEC, "1/3(日)", "2027-01-03"),
    (WED_30_DEC, "1/3(土)", "weekday 2027-01-03 or 2027-01-02"),
    (WED_30_DEC, "第2日曜", "2027-01-10"),
    (WED_30_DEC, "再来週の日曜", "2027-01-17"),
    (WED_30_DEC, "明日", "2026-12-31"),
    (WED_30_DEC, "あさって", "2027-01-01"),
    (WED_30_DEC, "2日", "2027-01-02"),
    (WED_30_DEC, "31日", "2026-12-31"),
    (WED_30_DEC, "12月の第1日曜", "past 2026-12-06"),
    (WED_30_DEC, "最終土曜", "2027-01-30"),
    (WED_30_DEC, "来月の第1土曜", "2027-01-02"),
    (WED_30_DEC, "12/25", "past 2026-12-25"),
    # --- Sunday 31 January 2027: a month end ---------------------------------------------------
    (SUN_31_JAN, "2月30日", "impossible"),
    (SUN_31_JAN, "2/29", "impossible"),  # 2027 is no leap year
    (SUN_31_JAN, "再来週の日曜", "2027-02-14"),
    (SUN_31_JAN, "来週の日曜", "2027-02-07"),
    (SUN_31_JAN, "第2日曜", "2027-02-14"),
    (SUN_31_JAN, "日曜", "2027-01-31"),
    (SUN_31_JAN, "明日", "2027-02-01"),
    (SUN_31_JAN, "1日", "2027-02-01"),
    (SUN_31_JAN, "31日", "2027-01-31"),
    (SUN_31_JAN, "30日", "impossible"),  # next month's 30th: February has none
    (SUN_31_JAN, "2月の第5日曜", "impossible"),
    (SUN_31_JAN, "2/28(日)", "2027-02-28"),
    # --- Tuesday 29 February 2028: a leap day --------------------------------------------------
    (TUE_29_FEB, "2/29", "2028-02-29"),
    (TUE_29_FEB, "明日", "2028-03-01"),
    (TUE_29_FEB, "来週の土曜", "2028-03-11"),
    (TUE_29_FEB, "3月の第1日曜", "2028-03-05"),
    (TUE_29_FEB, "2月30日", "impossible"),
    (TUE_29_FEB, "第5火曜", "2028-02-29"),
    (TUE_29_FEB, "第5水曜", "2028-03-29"),  # February has four Wednesdays
    (TUE_29_FEB, "2029/2/29", "impossible"),
    (TUE_29_FEB, "再来週の日曜", "2028-03-19"),
    # --- Monday 30 November 2026: a month end --------------------------------------------------
    (MON_30_NOV, "12/5", "2026-12-05"),
    (MON_30_NOV, "第1日曜", "2026-12-06"),
    (MON_30_NOV, "来週の月曜", "2026-12-07"),
    (MON_30_NOV, "今週の日曜", "2026-12-06"),
    (MON_30_NOV, "1日", "2026-12-01"),
    (MON_30_NOV, "31日", "impossible"),  # November has no 31st
]

TIMES = [
    ("10時〜12時", "10:00-12:00"),
    ("10時~12時", "10:00-12:00"),
    ("10〜12時", "10:00-12:00"),
    ("10-12時", "10:00-12:00"),
    ("10時-12時", "10:00-12:00"),
    ("10時ー12時", "10:00-12:00"),  # the long-vowel key
    ("10時から12時まで", "10:00-12:00"),
    ("13時〜15時まで", "13:00-15:00"),
    ("13:00-15:30", "13:00-15:30"),
    ("9:30〜11:00", "09:30-11:00"),
    ("１０：００〜１２：００", "10:00-12:00"),
    ("10 時 〜 12 時", "10:00-12:00"),
    ("9時半〜11時", "09:30-11:00"),
    ("10時30分〜12時", "10:30-12:00"),
    ("午後1時半から3時", "13:30-15:00"),
    ("午後2時から4時半", "14:00-16:30"),
    ("午後1〜3時", "13:00-15:00"),
    ("午前10時〜正午", "10:00-12:00"),
    ("10時〜午後3時", "10:00-15:00"),
    ("昼1時から3時", "13:00-15:00"),
    ("朝6時〜8時", "06:00-08:00"),
    ("夕方5時から7時", "17:00-19:00"),
    ("夜7時〜9時", "19:00-21:00"),
    ("10時〜1時", "10:00-13:00"),
    ("4時〜6時", "16:00-18:00"),  # the start is read as afternoon: the end too
    ("5時〜7時", "17:00-19:00"),
    ("夜9時〜0時", "21:00-23:59"),  # 0時 as an end is midnight
    ("22時〜24時", "22:00-23:59"),
    ("23時〜1時", "overnight"),
    ("12時〜10時", "12:00-10:00"),  # read as written; the form says the end is before the start
    ("10時から2時間", "10:00-12:00"),
    ("10時から1時間半", "10:00-11:30"),
    ("10時から90分", "10:00-11:30"),
    ("十時から二時間", "10:00-12:00"),
    ("十時〜十二時", "10:00-12:00"),
    ("午後二時半から四時", "14:30-16:00"),
    ("22時から3時間", "overnight"),
    ("10時から", "10:00-"),
    ("10時", "10:00-"),
    ("10:00~", "10:00-"),
    ("お昼から", "12:00-"),
    ("1時から", "13:00-"),  # no group meets at 1 a.m.
    ("12時まで", "-12:00"),
    ("〜12時", "-12:00"),
    ("正午まで", "-12:00"),
    ("2時間", "120min"),
    ("二時間", "120min"),
    ("1時間半", "90min"),
    ("午後", "vague afternoon"),
    ("午前中", "vague morning"),
    ("夕方", "vague evening"),
    ("夜", "vague night"),
    ("あいう", "none"),
    ("一時的", "none"),
    ("24時30分", "none"),  # not a 30-minute duration either
    ("25時から", "none"),
]

# A day and a time in one message: the time is read from what is left once the day is read.
WHENS = [
    (WED_2_DEC, "来週の土曜 10時から", "2026-12-12 10:00-"),
    (WED_2_DEC, "12/5 10時〜12時", "2026-12-05 10:00-12:00"),
    (WED_2_DEC, "明日 13:00-15:30", "2026-12-03 13:00-15:30"),
    (WED_2_DEC, "12月12日(土) 午前10時〜正午", "2026-12-12 10:00-12:00"),
    (WED_2_DEC, "第2日曜 10時から2時間", "2026-12-13 10:00-12:00"),
    (WED_2_DEC, "１２／５（土）１０時〜１２時", "2026-12-05 10:00-12:00"),
    (WED_2_DEC, "十二月十二日 十時から十二時", "2026-12-12 10:00-12:00"),
    (WED_2_DEC, "2026-12-05 10:00-12:00", "2026-12-05 10:00-12:00"),  # a button's answer
    (WED_2_DEC, "2026-12-06 10:00~", "2026-12-06 10:00-"),
    (WED_2_DEC, "12/5 午後", "2026-12-05 vague afternoon"),
    (WED_2_DEC, "12/5 10〜12時", "2026-12-05 10:00-12:00"),
    (WED_30_DEC, "1/3 9時〜11時", "2027-01-03 09:00-11:00"),
]

COUNTS = [
    ("十人", 10),
    ("二十人", 20),
    ("五名", 5),
    ("3人", 3),
    ("10", 10),
    ("２０", 20),
    ("十", 10),
    ("百人", 100),
    ("百五十人", 150),
    ("十五名", 15),
    ("5〜10人", 10),
    ("先着10名", 10),
    ("1,000人", 1000),
    ("十万人", 100_000),  # the form then says 1〜500
    ("1万人", 10_000),
    ("たくさん", None),
    ("大人5人子ども3人", None),
]


@pytest.mark.parametrize(("today", "text", "expected"), DAYS)
def test_days(today: date, text: str, expected: str) -> None:
    assert day_of(text, today) == expected


@pytest.mark.parametrize(("text", "expected"), TIMES)
def test_times_of_day(text: str, expected: str) -> None:
    assert clock_of(text) == expected


@pytest.mark.parametrize(("today", "text", "expected"), WHENS)
def test_a_day_and_a_time_in_one_message(today: date, text: str, expected: str) -> None:
    reading = read_day(text, today)
    assert f"{day_of(text, today)} {clock_of(reading.rest)}" == expected


@pytest.mark.parametrize(("text", "expected"), COUNTS)
def test_numbers_of_people(text: str, expected: int | None) -> None:
    assert read_count(text) == expected


def test_the_tables_hold_at_least_a_hundred_phrasings() -> None:
    assert len(DAYS) + len(TIMES) + len(WHENS) + len(COUNTS) >= 100
    kinds = {day_of(text, today).split()[0] for today, text, _ in DAYS}
    assert {"past", "weekday", "impossible", "unknown"} <= kinds


@pytest.mark.parametrize(
    ("run", "value"),
    [("十", 10), ("二十五", 25), ("百五十", 150), ("二〇二六", 2026), ("x", None)],
)
def test_kanji_values(run: str, value: int | None) -> None:
    assert kanji_value(run) == value


def test_parse_day_keeps_its_meaning_for_searches() -> None:
    """Residents' searches use parse_day: a past or mismatched date is still that date."""
    assert parse_day("11/20", WED_2_DEC) == date(2026, 11, 20)
    assert parse_day("12/5(日)", WED_2_DEC) == date(2026, 12, 5)
    assert parse_day("2月30日", WED_2_DEC) is None
    assert parse_day("一日だけ参加したい", WED_2_DEC) is None  # いちにち, not the 1st


@pytest.mark.parametrize(
    ("text", "first", "last", "label"),
    [
        ("今週末", "2026-12-05", "2026-12-06", "今週末"),
        ("来週末", "2026-12-12", "2026-12-13", "来週末"),
        ("来週", "2026-12-07", "2026-12-13", "来週"),
        ("再来週", "2026-12-14", "2026-12-20", "再来週"),
        ("今月", "2026-12-02", "2026-12-31", "12月"),
        ("1月", "2027-01-01", "2027-01-31", "1月"),
        ("来月の第2日曜", "2027-01-10", "2027-01-10", "1月10日"),
        ("再来週の日曜に海で", "2026-12-20", "2026-12-20", "12月20日"),
        ("こんしゅうまつ ぼらんてぃあ ある？", "2026-12-05", "2026-12-06", "今週末"),
        ("らいしゅうまつ", "2026-12-12", "2026-12-13", "来週末"),
        ("らいげつの ぼしゅう", "2027-01-01", "2027-01-31", "1月"),
    ],
)
def test_periods_for_searches(text: str, first: str, last: str, label: str) -> None:
    period = parse_period(text, WED_2_DEC)
    assert period is not None
    assert (period.first.isoformat(), period.last.isoformat(), period.label) == (
        first,
        last,
        label,
    )


@pytest.mark.parametrize(
    "text", ["きょうどう", "かんきょう", "一緒に", "十分です", "まどにちかいせき", "しゅうまつり"]
)
def test_words_that_only_look_like_days_are_none(text: str) -> None:
    assert parse_period(text, WED_2_DEC) is None


def test_a_hesitation_is_dropped_only_where_it_begins_a_message() -> None:
    from knowledge.text import fold

    assert fold("あの、協働って何ですか") == "協働"
    assert fold("すみません、あの、協働って何ですか") == "協働"  # a run of them
    assert fold("ぼらんてぃあの ぼしゅう") == "ぼらんてぃあのぼしゅう"  # あ+の, not 「あの」
