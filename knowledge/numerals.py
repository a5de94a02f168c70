"""Numbers as people type them: full-width digits, kanji numerals (十人, 二十人, 十時, 二時間,
第二日曜, 十二月五日) and the many dashes and tildes of a range, made plain for the readers in
knowledge/when.py and knowledge/clock.py."""

from __future__ import annotations

import re
import unicodedata

_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}  # fmt: skip
_POWERS = {"十": 10, "百": 100, "千": 1000}
_RUN = "[〇零一二三四五六七八九十百千万]+"
# A run of kanji numerals is a number where a unit follows it or 第 precedes it. Elsewhere it is
# part of a word (一緒, 十分な, 三浦): 「一日」 alone reads いちにち (a day) more often than
# ついたち, so it is a date only after a month (一月一日); 日間, 日中 and 日目 are spans, and
# 一時的 is not one o'clock.
_UNIT = r"時間|時(?![的期停帰])|分(?![なだ])|月|人|名|週|日(?![間中目])"
_NUMBER = re.compile(rf"(?<=第)(?P<ordinal>{_RUN})|(?P<run>{_RUN})(?=\s?(?:{_UNIT}))")
_ANY_RUN = re.compile(_RUN)
# Tildes and dashes that people put between two times or numbers, and the long-vowel mark that
# an IME gives for a dash after a digit.
_DASHES = str.maketrans({"〜": "~", "～": "~", "−": "-", "–": "-", "—": "-", "‐": "-", "―": "-"})


def kanji_value(run: str) -> int | None:
    """The value of kanji numerals: 十 → 10, 二十五 → 25, 百五十 → 150, 二〇二六 → 2026,
    十万 → 100000."""
    if "万" in run:
        high, low = run.split("万", 1)
        high_value = kanji_value(high) if high else 1
        low_value = kanji_value(low) if low else 0
        if high_value is None or low_value is None:
            return None
        return high_value * 10_000 + low_value
    if not run or any(ch not in _DIGITS and ch not in _POWERS for ch in run):
        return None
    if not any(ch in _POWERS for ch in run):  # written digit by digit
        return int("".join(str(_DIGITS[ch]) for ch in run))
    total = current = 0
    for ch in run:
        if ch in _DIGITS:
            current = current * 10 + _DIGITS[ch]
        else:
            total += (current or 1) * _POWERS[ch]
            current = 0
    return total + current


def kanji_to_digits(text: str, *, everywhere: bool = False) -> str:
    """Kanji numerals before a unit (or after 第) as digits; with ``everywhere``, every run."""

    def digits(m: re.Match[str]) -> str:
        run = m.group(0)
        if text[: m.start()][-1:].isdigit():
            return run  # 「1万」「2千」: digits with a kanji power are left to the reader
        one_day = run == "一" and text.startswith("日", m.end())
        if one_day and not everywhere and not text[: m.start()].endswith("月"):
            return run  # 一日 is a span of one day, unless it follows a month
        value = kanji_value(run)
        return run if value is None else str(value)

    return (_ANY_RUN if everywhere else _NUMBER).sub(digits, text)


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC), kanji numerals before units as digits, one kind of
    tilde and dash, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    text = re.sub(r"(?<=[\d時分])ー", "-", text)  # 「10時ー12時」 typed with the long-vowel key
    text = kanji_to_digits(text)
    return re.sub(r"\s+", " ", text).strip()


_COUNT_RANGE = re.compile(r"\d+\s?(?:人|名)?\s?(?:~|-|から)\s?\d+")


def read_count(text: str) -> int | None:
    """A number of people: 「10」「十人」「二十名」「3人」「先着10名」「1,000人」; of a range
    (「5〜10人」) the larger. None when there is no number, or more than one."""
    t = kanji_to_digits(normalize(text), everywhere=True)
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)
    t = re.sub(r"(\d+)万", lambda m: m.group(1) + "0000", t)  # 「1万人」
    numbers = re.findall(r"\d+", t)
    if any(len(n) > 6 for n in numbers):
        return None
    if len(numbers) == 1:
        return int(numbers[0])
    if len(numbers) == 2 and _COUNT_RANGE.search(t):
        return max(int(n) for n in numbers)
    return None
