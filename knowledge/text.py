"""Text folding for matching Japanese as residents type it.

Both sides of every comparison (what a resident typed, and the phrasings in our data) go through
:func:`fold`, so the rules here only need to be consistent, not linguistically perfect.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from knowledge.analyzer import spans, to_hiragana, tokens

# Place names mix ヶ/ケ/ガ/が (由比ヶ浜, 由比ガ浜); ヶ and ヵ read が and か.
_SMALL_KE = str.maketrans({"ヶ": "が", "ヵ": "か", "ゖ": "が", "ゕ": "か"})
# Long-vowel look-alikes people type after kana: 〜 ～ － ― ‐ - all become ー.
_LONG_VOWEL = re.compile(r"(?<=[\u3041-\u30ff])[\u301c\uff5e\u2015\u2010\u2212\-－~ー]+")
# Everything that is not a letter, a digit, kana or kanji: punctuation, emoji, symbols, spaces.
_NOT_WORD = re.compile(r"[^0-9a-z\u3041-\u309f\u30fc\u3005\u4e00-\u9fff\u3400-\u4dbf]+")
_KE_BETWEEN_KANJI = re.compile(r"(?<=[\u4e00-\u9fff])[ケけ](?=[\u4e00-\u9fff])")

# Politeness and question frames that carry no topic. Removed from both the query and our
# phrasings; longest first so that 教えてください goes before ください.
_FILLERS = sorted(
    {
        "おしえてください",
        "教えてください",
        "教えて下さい",
        "おしえてほしい",
        "教えてほしい",
        "おしえて",
        "教えて",
        "しりたいです",
        "知りたいです",
        "しりたい",
        "知りたい",
        "ください",
        "下さい",
        "くれませんか",
        "もらえますか",
        "いただけますか",
        "いただけませんか",
        "なんですか",
        "なのですか",
        "なんでしょうか",
        "でしょうか",
        "ですか",
        "ますか",
        "ですが",
        "なんだけど",
        "なんですけど",
        "ですけど",
        "なの",
        "だよね",
        "ですよね",
        "についておしえて",
        "について",
        "に関して",
        "にかんして",
        "ってなに",
        "って何",
        "ってなん",
        "とはなに",
        "とは何",
        "とは",
        "って",
        "おねがいします",
        "お願いします",
        "すみません",
        "すいません",
    },
    key=len,
    reverse=True,
)
# Hesitations, only where they begin a message: 「あの」 inside 「ぼらんてぃあの」 is a word's end
# and a particle.
_OPENERS = ("ちょっと", "えっと", "あの")
_FILLER_RE = re.compile(
    "^(?:"
    + "|".join(map(re.escape, sorted((*_OPENERS, *_FILLERS), key=len, reverse=True)))
    + ")+|"
    + "|".join(map(re.escape, _FILLERS))
)  # a run of them at the start (すみません、あの、…), the frames anywhere


def fold(text: str) -> str:
    """Fold a message to a canonical surface form for matching.

    NFKC (full/half width), lower case, ヶ→が, katakana→hiragana, one long-vowel mark,
    punctuation/emoji/space removed, politeness frames removed.

    >>> fold("ｷｮｳﾄﾞｳ って何ですか？🙂")
    'きょうどう'
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.translate(_SMALL_KE)
    text = _KE_BETWEEN_KANJI.sub("が", text)
    text = to_hiragana(text)
    text = _LONG_VOWEL.sub("ー", text)
    text = _NOT_WORD.sub("", text)
    stripped = _FILLER_RE.sub("", text)
    # A message that is nothing but a frame (「教えて」) keeps its words.
    return stripped or text


def fold_keep_frames(text: str) -> str:
    """Like :func:`fold` but keeps politeness frames (used for greetings and thanks)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_SMALL_KE)
    return _NOT_WORD.sub("", _LONG_VOWEL.sub("ー", to_hiragana(text)))


MIN_FOLDED = 3  # characters: a shorter fold of a longer word is too common to look for


def word_forms(word: str) -> set[str]:
    """How a word of ours is looked for in a message whose haystack holds it folded and as
    written: folded, and as written. Folding drops 「って」 from 「会って」: a fold left shorter
    than three characters that way (会, 払) would be found in any 社会 or 支払い, so it is not
    used. English words: lower case."""
    if word.isascii():
        return {word.lower()}
    written, folded = fold_keep_frames(word), fold(word)
    return {written, folded} if folded == written or len(folded) >= MIN_FOLDED else {written}


VARIANTS_FILE = Path(__file__).with_name("kanji_variants.toml")


@cache
def _variants() -> dict[int, str]:
    with VARIANTS_FILE.open("rb") as fh:
        return str.maketrans(tomllib.load(fh)["variants"])


def fold_search(text: str) -> str:
    """Fold a name, a description or a contact for substring search (the console's group
    directory): :func:`fold` without removing politeness frames (a substring must stay a
    substring: なのはな会 keeps its なの), and 異体字 written as their common form
    (``kanji_variants.toml``: 髙橋 → 高橋, 山﨑 → 山崎), before the characters outside the
    common kanji blocks would be dropped.

    >>> fold_search("ﾐﾗｲ髙橋の会 info@Example.jp")
    'みらい高橋の会infoexamplejp'
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_variants())
    text = _KE_BETWEEN_KANJI.sub("が", text.translate(_SMALL_KE))
    return _NOT_WORD.sub("", _LONG_VOWEL.sub("ー", to_hiragana(text)))


_KANA_ONLY = re.compile(r"^[\u3041-\u309f\u30fc]+$")


@dataclass(frozen=True, slots=True)
class Reading:
    """A hiragana reading and where a word may start or end in it.

    Inside the reading of a kanji word no other word begins (海水浴場 かいすいよくじょう
    does not contain 上位 じょうい); inside a run the user typed in kana, any position may.
    """

    text: str
    starts: frozenset[int]
    ends: frozenset[int]
    # Sudachi's own word boundaries. In kana it cuts badly, so any position may start a word
    # (above); a short one must still begin or end on one of these: 「そうだんすれば」 has no
    # ダンス in it.
    cuts: frozenset[int] = frozenset()

    def has_word(self, word: str) -> bool:
        """True when ``word`` (a reading) occurs here on word boundaries."""
        start = self.text.find(word)
        while start != -1:
            if start in self.starts and start + len(word) in self.ends:
                return True
            start = self.text.find(word, start + 1)
        return False


@lru_cache(maxsize=8192)
def segmented_reading(folded: str) -> Reading:
    """The hiragana reading of an already folded string, with its word boundaries (Sudachi's
    finest split, so that 大船駅 reads おおふな|えき)."""
    text, starts, ends, cuts = "", {0}, {0}, {0}
    for token in tokens(folded, fine=True):
        begin = len(text)
        text += token.reading
        cuts.add(len(text))
        if _KANA_ONLY.match(token.surface):
            starts.update(range(begin, len(text) + 1))
            ends.update(range(begin, len(text) + 1))
        else:
            starts.update((begin, len(text)))
            ends.update((begin, len(text)))
    return Reading(text, frozenset(starts), frozenset(ends), frozenset(cuts))


def reading(folded: str) -> str:
    """The hiragana reading of an already folded string (kanji read by Sudachi)."""
    return segmented_reading(folded).text


def bigrams(text: str) -> list[str]:
    """Character bigrams; a one-character string is its own gram."""
    if len(text) < 2:
        return [text] if text else []
    return [text[i : i + 2] for i in range(len(text) - 1)]


DOMAIN_FILE = Path(__file__).with_name("domain.toml")
_NOT_PROSE = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+|<[^>]*>|\b[A-Z0-9]{3,}(?:-[A-Z0-9]{3,})+\b"
)
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def language_of(text: str) -> str | None:
    """``en`` for a clear English sentence, ``ja`` for Japanese, None when it says nothing
    about the language (a code, a URL, a name, ``<script>``, a lone word): the user's
    language then stays as it was."""
    normalized = unicodedata.normalize("NFKC", text)
    if len(_JAPANESE.findall(normalized)) >= 2:
        return "ja"
    words = re.findall(r"[A-Za-z']+", _NOT_PROSE.sub(" ", normalized))
    common, alone = _english_words()
    english = [w for w in words if w.lower() in common]
    if (len(words) >= 2 and english) or (len(words) == 1 and words[0].lower() in alone):
        return "en"
    return None


@cache
def _english_words() -> tuple[frozenset[str], frozenset[str]]:
    """Words that make Latin letters English (``domain.toml``): common ones, and those that
    are English on their own (a greeting, a call for help); a lone code is not."""
    with DOMAIN_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    return frozenset(data["english_common"]), frozenset(data["english_alone"])


LOOSE_KANA = 4  # kana: a shorter word in kana begins or ends where Sudachi cuts a word


def _surface_cuts(folded: str) -> frozenset[int]:
    """Where Sudachi's finest words begin and end in ``folded``."""
    return frozenset({0, len(folded)}.union(*((a, b) for a, b, _ in spans(folded, fine=True))))


class Vocabulary:
    """Words looked up by their surface and their reading in a message's own substrings
    (a few hundred lookups instead of testing every word). ``first`` answers the word with
    the lowest rank among those present: callers rank longest first."""

    def __init__(self, words: list[tuple[str, str]], min_reading: int) -> None:
        """``words``: (folded surface, reading) in rank order."""
        self._surface: dict[str, int] = {}
        self._reading: dict[str, int] = {}
        for rank, (surface, spoken) in enumerate(words):
            if surface:
                self._surface.setdefault(surface, rank)
            if len(spoken) >= min_reading:
                self._reading.setdefault(spoken, rank)
        self._min = min_reading
        self._longest_surface = max(map(len, self._surface), default=1)
        self._longest_reading = max(map(len, self._reading), default=1)

    def first(self, folded: str, spoken: Reading) -> int | None:
        """The best-ranked word in the message: a surface of two or more characters (or the
        whole message), or a reading on word boundaries."""
        found = self.all(folded, spoken)
        return min(found) if found else None

    def all(self, folded: str, spoken: Reading) -> list[int]:
        """The ranks of every word in the message (see ``first``)."""
        found: list[int] = []
        n = len(folded)
        cuts: frozenset[int] | None = None  # Sudachi's word boundaries, worked out if needed
        for i in range(n):
            for j in range(i + 1, min(n, i + self._longest_surface) + 1):
                rank = self._surface.get(folded[i:j])
                if rank is not None and (j - i >= 2 or j - i == n):
                    if j - i < LOOSE_KANA and _KANA_ONLY.match(folded[i:j]):
                        cuts = _surface_cuts(folded) if cuts is None else cuts
                        if i not in cuts and j not in cuts:
                            continue  # だんす inside そうだん・すれば
                    found.append(rank)
        said = spoken.text
        for i in spoken.starts:
            for j in range(i + self._min, min(len(said), i + self._longest_reading) + 1):
                if j not in spoken.ends or (rank := self._reading.get(said[i:j])) is None:
                    continue
                if j - i >= LOOSE_KANA or i in spoken.cuts or j in spoken.cuts:
                    found.append(rank)
        return found
