"""A message as index terms: Sudachi's normalised words, their readings, our domain's concepts
(``synonyms.toml``), English words and kana bigrams.

The same function turns our FAQ phrasings and a resident's message into terms, so the two only
need to agree with each other. Term kinds, by prefix:

* ``w:`` a content word's normalised form (寄附 → 寄付, 子ども → 子供);
* ``c:`` a concept of ours (お金の支援, 助成, 補助金 → ``c:資金``; 協同, 共同 → ``c:協働``);
* ``r:`` a content word's reading (きょうどう), so a kana-typed word meets its kanji;
* ``e:`` an English word, lower case, plural stripped;
* ``k:`` a bigram of the whole message's reading: what hiragana-only and mistyped text keep.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from knowledge.analyzer import Token, latin_words, to_hiragana, tokens
from knowledge.kana_words import kana_words, mostly_kana

SYNONYMS_FILE = Path(__file__).with_name("synonyms.toml")
TERM_CACHE = 8192
ENGLISH_PHRASE = 3  # words in the longest English synonym ("talk to staff")
SLIP_READING = 5  # kana: a concept word this long is also heard in a slip (中感支援)

# Weights per kind: a word or concept says most; a reading a little less (homophones); a kana
# bigram is a weak hint that only adds up over several.
WEIGHTS = {"w": 1.0, "c": 1.0, "e": 1.0, "r": 0.6, "k": 0.12}

_KANA = re.compile(r"^[\u3041-\u309f\u30fcー]+$")
# Emoji, symbols and punctuation become spaces before analysis (Sudachi would read them).
_NOT_WORD = re.compile(
    r"[^0-9a-zA-Z\u3041-\u309f\u30a0-\u30ff\u3005\u4e00-\u9fff\u3400-\u4dbfⅠ-Ⅻ%]+"
)
_LONG_VOWEL = re.compile(r"(?<=[\u3041-\u30ff])[\u301c\uff5e\u2015\u2010\u2212\-－~]+")
_SMALL_KE = str.maketrans({"ヶ": "ガ", "ヵ": "カ"})


@dataclass(frozen=True)
class Synonyms:
    """Words that name one concept of ours, looked up by normalised form (and English word)."""

    by_norm: dict[tuple[str, ...], tuple[str, ...]]
    # Readings (five kana or more) of the words: 中感支援 sounds like 中間支援 (a slip).
    by_reading: dict[str, tuple[str, ...]]
    by_english: dict[tuple[str, ...], tuple[str, ...]]  # stems of one or more words
    stop: frozenset[str]
    stop_en: frozenset[str]
    longest: int

    @classmethod
    def load(cls, path: Path = SYNONYMS_FILE) -> Synonyms:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        by_norm: dict[tuple[str, ...], list[str]] = {}
        by_reading: dict[str, list[str]] = {}
        by_english: dict[tuple[str, ...], list[str]] = {}
        for concept, words in data["concepts"].items():
            for word in words:
                if word.isascii():
                    key = tuple(stem(w) for w in latin_words(word))
                    by_english.setdefault(key, []).append(concept)
                    continue
                said = tokens(_clean(word), fine=True)
                key = tuple(t.norm for t in said)
                if key:
                    by_norm.setdefault(key, []).append(concept)
                spoken = "".join(to_hiragana(t.reading) for t in said)
                if len(spoken) >= SLIP_READING and _KANA.match(spoken):
                    by_reading.setdefault(spoken, []).append(concept)
        return cls(
            {k: tuple(dict.fromkeys(v)) for k, v in by_norm.items()},
            {k: tuple(dict.fromkeys(v)) for k, v in by_reading.items()},
            {k: tuple(dict.fromkeys(v)) for k, v in by_english.items()},
            frozenset(data["stop"]["norms"]),
            frozenset(stem(w) for w in data["stop"]["english"]),
            max(map(len, by_norm), default=1),
        )


@cache
def synonyms() -> Synonyms:
    return Synonyms.load()


def stem(word: str) -> str:
    """A crude English stem: enough for groups/group, activities/activity, volunteers."""
    if len(word) <= 4:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("ing") and len(word) > 6:
        return word[:-3]
    if word.endswith("es") and word[:-2].endswith(("ss", "x", "z", "ch", "sh")):
        return word[:-2]  # classes, boxes, churches
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]  # principles → principle, not principl
    return word


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_SMALL_KE)
    return _NOT_WORD.sub(" ", _LONG_VOWEL.sub("ー", text)).strip()


@lru_cache(maxsize=TERM_CACHE)
def terms(text: str, as_typed: bool = True) -> Counter[str]:
    """The weighted terms of a text (see the module docstring). Cached: a pure function.

    A message typed in kana is read with our domain's words first (``kana_words``); our own
    phrasings (``as_typed=False``) are indexed as written, their kana variants kept apart."""
    syn = synonyms()
    clean = _clean(text)
    if as_typed and mostly_kana(clean):
        clean = kana_words().convert(clean)
    out: Counter[str] = Counter()
    words = tokens(clean, fine=True)
    content = [t for t in words if t.is_content and not _is_stop(t, syn)]
    for t in content:
        if not t.surface.isascii():
            out["w:" + t.norm] += 1
            if len(t.reading) >= 2:
                out["r:" + t.reading] += 1
    norms = [t.norm for t in words]
    readings = [_spoken(t) for t in words]
    for i in range(len(norms)):
        for j in range(i + 1, min(len(norms), i + syn.longest) + 1):
            concepts = syn.by_norm.get(tuple(norms[i:j]), ())
            for concept in concepts:
                out["c:" + concept] += 1
            if j - i >= 2 and not concepts:  # a slip: two words that sound like one of ours
                for concept in syn.by_reading.get("".join(readings[i:j]), ()):
                    out["c:" + concept] += 1
    stems = [stem(w) for w in latin_words(text)]
    out.update("e:" + w for w in stems if w not in syn.stop_en)
    for i in range(len(stems)):
        for j in range(i + 1, min(len(stems), i + ENGLISH_PHRASE) + 1):
            out.update("c:" + concept for concept in syn.by_english.get(tuple(stems[i:j]), ()))
    spoken = "".join(_spoken(t) for t in words)
    out.update("k:" + spoken[i : i + 2] for i in range(len(spoken) - 1))
    return out


def _spoken(t: Token) -> str:
    return "" if t.surface.isascii() else to_hiragana(t.reading)


def _is_stop(t: Token, syn: Synonyms) -> bool:
    return (
        t.norm in syn.stop
        or t.pos2 == "非自立可能"
        or (len(t.surface) == 1 and _KANA.match(t.surface) is not None)
    )
