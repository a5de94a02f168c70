"""The one Japanese analyser: SudachiPy with its core dictionary, for tokens, normalised forms
and readings. Everything that needs words or readings (the FAQ index, fields, places) asks here.

Sudachi's dictionary is memory-mapped, so processes on one machine share it. Its tokenizer
objects are not safe to share between threads: each thread gets its own.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from sudachipy import Dictionary, SplitMode

_KATA_START, _KATA_END = 0x30A1, 0x30F6  # ァ … ヶ
_KATA_TO_HIRA = 0x60
# Parts of speech that carry a topic; particles, auxiliaries and symbols do not.
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "接尾辞", "代名詞", "接頭辞"}
_LATIN_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
ANALYSIS_CACHE = 8192


@dataclass(frozen=True, slots=True)
class Token:
    """One word as Sudachi sees it."""

    surface: str
    norm: str  # Sudachi's normalised form: 子ども/こども → 子供, 寄附 → 寄付, けが → 怪我
    reading: str  # hiragana
    pos: str  # the first level of the part of speech: 名詞, 動詞 …
    pos2: str  # the second level: 普通名詞, 固有名詞, 数詞, 非自立可能 …

    @property
    def is_content(self) -> bool:
        return self.pos in _CONTENT_POS


_HIRAGANA = {k: k - _KATA_TO_HIRA for k in range(_KATA_START, _KATA_END + 1)}


def to_hiragana(text: str) -> str:
    """Katakana to hiragana, everything else unchanged."""
    return text.translate(_HIRAGANA)


@cache
def _dictionary() -> Dictionary:
    return Dictionary(dict="core")


_local = threading.local()


def _tokenizer(fine: bool) -> object:
    tokenizers = getattr(_local, "tokenizers", None)
    if tokenizers is None:
        dictionary = _dictionary()
        tokenizers = _local.tokenizers = (
            dictionary.tokenizer(SplitMode.C),
            dictionary.tokenizer(SplitMode.A),
        )
    return tokenizers[fine]


@cache
def _pos(pos_id: int) -> tuple[str, str]:
    """The first two levels of a part-of-speech id (a few hundred ids: kept)."""
    pos = _dictionary().pos_of(pos_id)
    return (pos[0], pos[1]) if pos else ("", "")


@lru_cache(maxsize=ANALYSIS_CACHE)
def tokens(text: str, fine: bool = False) -> tuple[Token, ...]:
    """Sudachi's words of ``text`` (split mode C, or A with ``fine``: 大船駅 → 大船 / 駅)."""
    if not text:
        return ()
    tokenizer = _tokenizer(fine)
    out = []
    for m in tokenizer.tokenize(text):  # type: ignore[attr-defined]
        pos = _pos(m.part_of_speech_id())
        if pos[0] in ("空白", "補助記号"):
            continue
        surface = m.surface()
        reading = to_hiragana(m.reading_form())
        if surface.isascii() or not re.fullmatch(r"[\u3041-\u309f\u30fc]+", reading):
            reading = to_hiragana(surface)  # unknown words: Sudachi echoes the surface
        out.append(Token(surface, m.normalized_form(), reading, pos[0], pos[1]))
    return tuple(out)


def spans(text: str, fine: bool = False) -> list[tuple[int, int, Token]]:
    """Where each of Sudachi's words of ``text`` begins and ends in it (the tokens leave out
    spaces and symbols, so the offsets are looked up)."""
    out, at = [], 0
    for t in tokens(text, fine):
        start = text.find(t.surface, at)
        if start >= 0:
            at = start + len(t.surface)
            out.append((start, at, t))
    return out


def latin_words(text: str) -> list[str]:
    """English words of a message, lower case (Sudachi would turn them into katakana)."""
    return _LATIN_WORD.findall(unicodedata.normalize("NFKC", text).lower())


def numbers(text: str) -> list[str]:
    """The numbers written in ``text`` (half-width after NFKC)."""
    return _NUMBER.findall(unicodedata.normalize("NFKC", text))
