"""Our domain's words for text typed all in kana: 「しみんかつどうせんたーはいつできたの」 →
「市民活動センターはいつできたの」.

Sudachi reads a long run of hiragana badly (it is not an input method), so a question typed that
way meets few of our words. Readings of the words our own data uses — the FAQ's phrasings and
answers, the synonyms, the fields — are a small lexicon of the domain: a hiragana run is rewritten
by taking, from left to right, the longest reading the lexicon knows that begins where Sudachi
cuts the run into words and ends at such a cut or before a particle (a reading of five kana or
more may stand anywhere). Only words that carry
kanji or katakana are kept, and two-kana readings only when a word is common in our data, since
short readings turn up inside other words by accident (かい, しい).

The lexicon is built once, from the data files, on first use.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from knowledge.analyzer import spans, to_hiragana, tokens
from knowledge.text import fold

HERE = Path(__file__).parent
SOURCES = (*sorted((HERE / "faq").glob("*.toml")), HERE / "synonyms.toml", HERE / "fields.toml")
MIN_READING = 3  # kana
SHORT_COMMON = 8  # a two-kana reading is kept when its word appears this often in our data
MIN_RUN = 4  # a shorter hiragana run is left alone (particles, okurigana)
ANYWHERE = 5  # kana: a reading this long does not turn up inside other words by accident
PARTICLES = ("って", "は", "が", "を", "に", "の", "で", "も", "と", "へ", "や", "から", "まで")
_GRAMMAR = ("助動詞", "助詞")  # Sudachi's parts of speech that are grammar, not words
_HIRAGANA_RUN = re.compile(r"[\u3041-\u3096ー]+")
_HAS_KANJI_OR_KATAKANA = re.compile(r"[\u4e00-\u9fff\u3005\u30a1-\u30faー]")
_READING = re.compile(r"^[\u3041-\u3096ー]+$")


@dataclass(frozen=True)
class KanaWords:
    """Readings (hiragana) → the word of ours written that way, longest first."""

    words: dict[str, str]
    longest: int

    @classmethod
    def build(cls, texts: list[str]) -> KanaWords:
        seen: dict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            for fine in (False, True):
                for t in tokens(text, fine=fine):
                    reading = to_hiragana(t.reading)
                    if (
                        t.is_content
                        and _READING.match(reading)
                        and _HAS_KANJI_OR_KATAKANA.search(t.surface)
                        and not t.surface.isascii()
                    ):
                        seen[reading][t.surface] += 1
        words: dict[str, str] = {}
        for reading, surfaces in seen.items():
            surface, count = surfaces.most_common(1)[0]
            total = sum(surfaces.values())
            if len(reading) >= MIN_READING or (len(reading) == 2 and total >= SHORT_COMMON):
                words[reading] = surface
            del count
        return cls(words, max(map(len, words), default=0))

    def convert(self, text: str) -> str:
        """``text`` with each long hiragana run rewritten into our words, where known."""
        return _HIRAGANA_RUN.sub(self._run, text)

    def _run(self, match: re.Match[str]) -> str:
        run = match.group()
        if len(run) < MIN_RUN:
            return run
        # Sudachi's own cuts of the run: a word of ours must start and end on one, so
        # 「はいくつ」 stays は・いくつ and never becomes 俳句.
        # Nor where Sudachi reads a function word: 「じゃない」's ない is not 内 (市内).
        cuts = {0, len(run)}
        grammar: set[tuple[int, int]] = set()
        starts_grammar: set[int] = set()  # 「ことになってる」's になっ is に・なっ, not 担っ
        for start, end, t in spans(run):
            cuts.update((start, end))
            if t.pos in _GRAMMAR or t.pos2 == "非自立可能":
                grammar.add((start, end))
            if t.pos in _GRAMMAR:
                starts_grammar.add(start)
        out: list[str] = []
        i = 0
        while i < len(run):
            for j in range(min(len(run), i + self.longest), i + 1, -1):
                fits = (
                    (i, j) not in grammar
                    and (j - i >= ANYWHERE or i not in starts_grammar)
                    and self._fits(run, i, j, cuts)
                )
                word = self.words.get(run[i:j]) if fits else None
                if word is not None:
                    out.append(word)
                    cuts.add(j)
                    i = j
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)

    @staticmethod
    def _fits(run: str, i: int, j: int, cuts: set[int]) -> bool:
        """Whether run[i:j] can be a word: it starts where a word starts and ends where one
        ends or a particle follows; a long reading (ぼらんてぃあ) may stand anywhere."""
        if j - i >= ANYWHERE:
            return True
        return i in cuts and (j in cuts or run.startswith(PARTICLES, j))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if not value.isascii() else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@cache
def kana_words() -> KanaWords:
    texts: list[str] = []
    for path in SOURCES:
        with path.open("rb") as fh:
            texts.extend(line for s in _strings(tomllib.load(fh)) for line in s.splitlines())
    return KanaWords.build([t for t in texts if t.strip()])


def mostly_kana(text: str) -> bool:
    """Whether a message was typed (nearly) without kanji: a hiragana run long enough to read."""
    return any(len(m.group()) >= MIN_RUN * 2 for m in _HIRAGANA_RUN.finditer(text))


@lru_cache(maxsize=4096)
def read_as_words(folded: str) -> str:
    """A folded message with its kana read as our words, folded again (わたしのもうしこみ →
    わたしの申し込み): what the commands and the searches both look in. Cached: one reading
    a message, however many rules ask."""
    return fold(kana_words().convert(folded))
