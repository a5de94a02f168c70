"""Activity fields (活動分野, the NPO law's 20): data in ``fields.toml``, plus a matcher that
finds the field a resident means in everyday words (子育て, ごみ拾い, お祭り …)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from knowledge.text import Vocabulary, fold, reading, segmented_reading

FIELDS_FILE = Path(__file__).with_name("fields.toml")
MIN_READING = 3  # kana; shorter readings match inside other words too easily
FUZZY_MIN_READING = 5
FUZZY_CUTOFF = 90
FIND_CACHE = 4096  # results kept: the same few words come again and again
PLURAL_MIN = 4  # letters: a shorter English word matches only as written ("it", not "its")


@dataclass(frozen=True, slots=True)
class ActivityField:
    """One activity field."""

    code: str
    name: str  # the NPO law's wording
    guideline_name: str  # the guideline table's wording ("" when the table lacks it)
    guideline_count: int
    short: str  # a button label
    words: tuple[str, ...]
    short_en: str = ""
    weak: tuple[str, ...] = ()  # words of ``words`` that say how, not what (教室, 勉強会)

    def label(self, locale: str) -> str:
        """The button label in the given language."""
        return self.short_en if locale.startswith("en") and self.short_en else self.short


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """A field found in a message, and the word that gave it away."""

    field: ActivityField
    word: str
    exact: bool


class FieldIndex:
    """Looks fields up by code or name, and finds them in free text."""

    def __init__(self, fields: list[ActivityField]) -> None:
        self.fields = fields
        self._cached_find: Callable[[str], FieldMatch | None] = lru_cache(FIND_CACHE)(self._find)
        self._by_code = {f.code: f for f in fields}
        self._by_name: dict[str, str] = {}
        self._words: list[tuple[str, str, str, str]] = []  # (folded, reading, word, code)
        by_word: dict[str, set[str]] = {}
        for f in fields:
            for name in (f.code, f.name, f.guideline_name, f.short):
                if name:
                    self._by_name[fold(name)] = f.code
            for word in (*f.words, f.short, f.guideline_name or f.name):
                folded = fold(word)
                if folded:
                    self._words.append((folded, reading(folded), word, f.code))
                    by_word.setdefault(folded, set()).add(f.code)
        self._spelled: dict[tuple[str, str], tuple[str, ...]] = {}
        self._weak = {fold(w) for f in fields for w in f.weak}
        # An everyday word names a field on its own only when no other field shares it.
        self._shared: dict[str, tuple[str, ...]] = {}
        for word, codes in by_word.items():
            if len(codes) == 1:
                self._by_name.setdefault(word, next(iter(codes)))
            else:
                self._shared[word] = tuple(c.code for c in fields if c.code in codes)
        # Longest first, by reading (a kanji word is as long as it sounds): 「子ども食堂」 before
        # 「子ども」, 「科学教室」 before 「きょうしつ」.
        self._words.sort(key=lambda w: (len(w[1]), len(w[0])), reverse=True)
        # Where each word is in that order, by its surface and by its reading, so a message is
        # matched by looking up its own substrings instead of testing every word.
        self._by_latin: dict[str, int] = {}
        for i, (w_folded, _, word, _) in enumerate(self._words):
            if w_folded.isascii():
                self._by_latin.setdefault(word.lower(), i)
        self._vocabulary = Vocabulary(
            [("", "") if f.isascii() else (f, r) for f, r, _, _ in self._words], MIN_READING
        )
        # 「IT」 must not match inside "citizen": Latin words match whole words only, and a
        # plural (startups, small businesses) only of a word of four letters or more ("its").
        latin = sorted(self._by_latin, key=len, reverse=True)
        self._latin = re.compile(
            r"(?<![a-z])(?:("
            + "|".join(map(re.escape, [w for w in latin if len(w) >= PLURAL_MIN]))
            + r")(?:e?s)?|("
            + "|".join(map(re.escape, [w for w in latin if len(w) < PLURAL_MIN]))
            + r"))(?![a-z])"
        )
        self._fuzzy = [
            (w_reading, word, code)
            for w_folded, w_reading, word, code in self._words
            if len(w_reading) >= FUZZY_MIN_READING and not w_folded.isascii()
        ]

    @classmethod
    def load(cls, path: Path = FIELDS_FILE) -> FieldIndex:
        """Read ``fields.toml``."""
        with path.open("rb") as fh:
            raw = tomllib.load(fh)["field"]
        return cls(
            [
                ActivityField(
                    code=r["code"],
                    name=r["name"],
                    guideline_name=r.get("guideline_name", ""),
                    guideline_count=int(r.get("guideline_count", 0)),
                    short=r["short"],
                    short_en=r.get("short_en", ""),
                    # English words are matched whole (fields.py): "kids", "beach cleanup".
                    words=(*r.get("words", ()), *r.get("words_en", ())),
                    weak=tuple(r.get("weak", ())),
                )
                for r in raw
            ]
        )

    def get(self, code: str) -> ActivityField | None:
        """The field with this code."""
        return self._by_code.get(code)

    def lookup(self, text: str) -> ActivityField | None:
        """A field named exactly: code, official name, label, or a word only it has."""
        code = self._by_name.get(fold(text))
        return self._by_code.get(code) if code else None

    def spellings(self, match: FieldMatch) -> tuple[str, ...]:
        """The ways our words write what ``match`` found (えいご: 英語 and えいご), as a
        title or a description might."""
        key = (match.word, match.field.code)
        if key not in self._spelled:  # the index never changes: kept once worked out
            said = next((r for _, r, w, _ in self._words if w == match.word), "")
            self._spelled[key] = tuple(
                dict.fromkeys(
                    w for _, r, w, code in self._words if code == match.field.code and r == said
                )
            )
        return self._spelled[key]

    def sharing(self, text: str) -> list[ActivityField]:
        """The fields an everyday word belongs to when it names none on its own (防災:
        災害救援 and 地域安全), in the file's order; empty for any other text."""
        return [self._by_code[c] for c in self._shared.get(fold(text), ())]

    def find(self, text: str) -> FieldMatch | None:
        """The field a message talks about, by the longest everyday word in it."""
        return self._cached_find(text)  # the index never changes: results are kept

    def _find(self, text: str) -> FieldMatch | None:
        folded = fold(text)
        if not folded:
            return None
        spoken = segmented_reading(folded)
        latin = unicodedata.normalize("NFKC", text).lower()
        found = [self._by_latin[a or b] for a, b in self._latin.findall(latin)]
        found.extend(self._vocabulary.all(folded, spoken))
        said = spoken.text
        if found:
            # A word that says how (教室, 勉強会) yields to one that says what (防災, 工作).
            strong = [rank for rank in found if self._words[rank][0] not in self._weak]
            _, _, word, code = self._words[min(strong or found)]
            return FieldMatch(self._by_code[code], word, exact=True)
        # Typos (こそだって, ビーチクリン): close enough to a long word's reading.
        # Only words that share their first or last two kana with the message can be close.
        pairs = {said[i : i + 2] for i in range(len(said) - 1)}
        candidates = [w for w in self._fuzzy if w[0][:2] in pairs or w[0][-2:] in pairs]
        close = process.extractOne(
            said, [r for r, _, _ in candidates], scorer=fuzz.partial_ratio,
            score_cutoff=FUZZY_CUTOFF,
        )  # fmt: skip
        if close:
            _, word, code = candidates[close[2]]
            return FieldMatch(self._by_code[code], word, exact=False)
        return None
