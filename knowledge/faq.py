"""The ordinance FAQ: entries loaded from ``knowledge/faq/*.toml`` and a matcher over them.

Scoring combines three signals, each in 0..1, computed on the folded surface text and on its
hiragana reading (so 「きょうどう」 and 「共同」 find 協働):

* ``tfidf``   cosine of character-bigram TF-IDF vectors, query vs. all of an entry's phrasings;
* ``fuzz``    the best rapidfuzz ratio against one phrasing (near-verbatim questions, typos);
* ``keyword`` IDF-weighted hits of the entry's distinctive keywords.

``anchored`` says whether the message uses any word of our domain (``domain.toml``); one that
does not (「市長は誰？」) is off-topic whatever the best entry scores, unless nearly verbatim.
"""

from __future__ import annotations

import math
import threading
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from knowledge.text import Reading, bigrams, fold, reading, segmented_reading

FAQ_DIR = Path(__file__).with_name("faq")
DOMAIN_FILE = Path(__file__).with_name("domain.toml")
MAX_LABEL = 20

# Weights of the three signals; tuned on tests/data/faq_devset.tsv (bench/route.py prints
# the dev and held-out accuracy).
W_TFIDF, W_FUZZ, W_KEYWORD = 0.6, 0.3, 0.2
# Any two Japanese sentences share some characters: a ratio below this says nothing.
FUZZ_FLOOR = 0.5
MIN_READING_MATCH = 3  # kana; shorter readings match too much by accident
# Residents ask the same few questions again and again: a search is a pure function of the
# text and the phrasings, so the last few thousand results are kept (and dropped on rebuild).
SEARCH_CACHE = 4096


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question-and-answer about the ordinance or the guideline."""

    id: str
    section: str
    source: str
    label: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str
    related: tuple[str, ...] = ()
    answer_en: str = ""
    questions_en: tuple[str, ...] = ()

    def answer_for(self, locale: str) -> str:
        """The answer in the given language (Japanese when no translation exists)."""
        if locale.startswith("en") and self.answer_en:
            return self.answer_en
        return self.answer


@dataclass(frozen=True, slots=True)
class FaqHit:
    """A scored candidate entry for one query."""

    entry: FaqEntry
    score: float
    tfidf: float
    fuzz: float
    keyword: float


@dataclass(frozen=True, slots=True)
class FaqResult:
    """The ranked candidates and how much of the query the FAQ vocabulary covers."""

    hits: tuple[FaqHit, ...]
    anchored: bool

    @property
    def best(self) -> FaqHit | None:
        return self.hits[0] if self.hits else None


class FaqError(ValueError):
    """The FAQ data is malformed."""


def load_entries(directory: Path = FAQ_DIR) -> list[FaqEntry]:
    """Read and validate every ``*.toml`` file in ``directory``."""
    entries: list[FaqEntry] = []
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for raw in data.get("entry", []):
            try:
                entries.append(
                    FaqEntry(
                        id=raw["id"],
                        section=raw["section"],
                        source=raw["source"],
                        label=raw["label"],
                        questions=tuple(raw["questions"]),
                        keywords=tuple(raw.get("keywords", ())),
                        answer=raw["answer"].strip(),
                        related=tuple(raw.get("related", ())),
                        answer_en=raw.get("answer_en", "").strip(),
                        questions_en=tuple(raw.get("questions_en", ())),
                    )
                )
            except KeyError as exc:
                raise FaqError(f"{path.name}: entry {raw.get('id')!r} lacks {exc}") from exc
    _validate(entries)
    return entries


def load_domain(path: Path = DOMAIN_FILE) -> dict[str, list[str]]:
    """Word lists from ``domain.toml``: ``anchors``, ``facilities``, ``facility_details``."""
    with path.open("rb") as fh:
        return {k: list(v) for k, v in tomllib.load(fh).items()}


def load_anchors(path: Path = DOMAIN_FILE) -> list[str]:
    """The domain words that make a message on-topic."""
    return load_domain(path)["anchors"]


def _validate(entries: list[FaqEntry]) -> None:
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise FaqError(f"duplicate FAQ id {e.id!r}")
        seen.add(e.id)
        if not 1 <= len(e.label) <= MAX_LABEL:
            raise FaqError(f"{e.id}: label must be 1-{MAX_LABEL} characters")
        if not e.questions or not e.answer:
            raise FaqError(f"{e.id}: needs questions and an answer")
    for e in entries:
        missing = [r for r in e.related if r not in seen]
        if missing:
            raise FaqError(f"{e.id}: related ids not found: {missing}")


@dataclass(slots=True)
class _Space:
    """TF-IDF index of all entries' phrasings in one script (folded surface, or reading)."""

    idf: dict[str, float] = field(default_factory=dict)
    postings: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    norms: dict[str, float] = field(default_factory=dict)
    unknown_idf: float = 1.0

    @classmethod
    def build(cls, grams_by_entry: dict[str, Counter[str]]) -> _Space:
        n = len(grams_by_entry) or 1
        df: Counter[str] = Counter()
        for grams in grams_by_entry.values():
            df.update(grams.keys())
        space = cls(unknown_idf=math.log(1 + n))
        space.idf = {g: math.log(1 + n / c) for g, c in df.items()}
        postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for eid, grams in grams_by_entry.items():
            weights = {g: (1 + math.log(c)) * space.idf[g] for g, c in grams.items()}
            space.norms[eid] = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for g, w in weights.items():
                postings[g].append((eid, w))
        space.postings = dict(postings)
        return space

    def cosines(self, grams: Counter[str]) -> dict[str, float]:
        # Grams no entry has still count in the query's norm, so off-topic words dilute.
        q = {g: (1 + math.log(c)) * self.idf.get(g, self.unknown_idf) for g, c in grams.items()}
        q_norm = math.sqrt(sum(w * w for w in q.values())) or 1.0
        dots: dict[str, float] = defaultdict(float)
        for g, w in q.items():
            for eid, dw in self.postings.get(g, ()):
                dots[eid] += w * dw
        return {eid: dot / (q_norm * self.norms[eid]) for eid, dot in dots.items()}


class FaqIndex:
    """Matches a resident's message to FAQ entries. Thread-safe; phrasings can be added live."""

    def __init__(self, entries: Iterable[FaqEntry], anchors: Iterable[str] | None = None) -> None:
        self._entries = {e.id: e for e in entries}
        words = load_anchors() if anchors is None else anchors
        self._anchors = [(f, reading(f)) for f in map(fold, words) if f]
        self._extra: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self._build()

    @property
    def entries(self) -> list[FaqEntry]:
        return list(self._entries.values())

    def get(self, entry_id: str) -> FaqEntry | None:
        return self._entries.get(entry_id)

    def add_phrasing(self, entry_id: str, text: str) -> None:
        """Teach the index a new way of asking for an entry (takes effect at once)."""
        self.add_phrasings([(entry_id, text)])

    def add_phrasings(self, phrasings: Iterable[tuple[str, str]]) -> int:
        """Teach several at once (one rebuild); unknown entry ids are skipped. Returns how many."""
        added = 0
        with self._lock:
            for entry_id, text in phrasings:
                if entry_id in self._entries and text not in self._extra[entry_id]:
                    self._extra[entry_id].append(text)
                    added += 1
            if added:
                self._build()
        return added

    def _phrasings(self, e: FaqEntry) -> list[str]:
        return [*e.questions, e.label, *e.questions_en, *self._extra.get(e.id, ())]

    def _build(self) -> None:
        surface_grams: dict[str, Counter[str]] = {}
        reading_grams: dict[str, Counter[str]] = {}
        owners: list[str] = []
        phrase_surface: list[str] = []
        phrase_reading: list[str] = []
        entry_keywords: dict[str, dict[str, str]] = {}
        entry_text: dict[str, tuple[str, str]] = {}
        for e in self._entries.values():
            s_grams: Counter[str] = Counter()
            r_grams: Counter[str] = Counter()
            folded_all = []
            for text in [*self._phrasings(e), *e.keywords]:
                f = fold(text)
                folded_all.append(f)
                s_grams.update(bigrams(f))
                r_grams.update(bigrams(reading(f)))
            surface_grams[e.id], reading_grams[e.id] = s_grams, r_grams
            entry_text[e.id] = ("|".join(folded_all), "|".join(map(reading, folded_all)))
            for text in self._phrasings(e):
                f = fold(text)
                owners.append(e.id)
                phrase_surface.append(f)
                phrase_reading.append(reading(f))
            entry_keywords[e.id] = {reading(f): f for f in map(fold, e.keywords) if f}
        n = len(self._entries) or 1
        top = math.log(1 + n)
        # A keyword's weight is its IDF over every entry's words, not just its keyword list:
        # 「市民活動」 is in most entries and weighs little; 「補償」 is in few and weighs a lot.
        weights: dict[str, float] = {}
        for kws in entry_keywords.values():
            for r, f in kws.items():
                if r not in weights:
                    df = sum(1 for st, rt in entry_text.values() if f in st or r in rt) or 1
                    weights[r] = math.log(1 + n / df) / top
        self._keywords = {
            eid: [(f, r, weights[r]) for r, f in kws.items()]
            for eid, kws in entry_keywords.items()
        }
        # Keywords and anchors by their surface and reading, so a message is matched by looking
        # up its own substrings (a few hundred) instead of testing every word (about a thousand).
        by_surface: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        by_reading: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        for eid, weighted in self._keywords.items():
            for k_surface, k_reading, weight in weighted:
                if len(k_surface) >= 2:
                    by_surface[k_surface].append((eid, k_reading, weight))
                if len(k_reading) >= MIN_READING_MATCH:
                    by_reading[k_reading].append((eid, k_reading, weight))
        self._kw_surface, self._kw_reading = dict(by_surface), dict(by_reading)
        self._anchor_surface = {a for a, _ in self._anchors if len(a) >= 2}
        self._anchor_reading = {r for _, r in self._anchors if len(r) >= MIN_READING_MATCH}
        words = [*self._kw_surface, *self._anchor_surface]
        readings = [*self._kw_reading, *self._anchor_reading]
        self._longest_surface = max(map(len, words), default=2)
        self._longest_reading = max(map(len, readings), default=3)
        self._surface = _Space.build(surface_grams)
        self._reading = _Space.build(reading_grams)
        self._owners = owners
        self._phrase_surface, self._phrase_reading = phrase_surface, phrase_reading
        # A new cache with every rebuild, so no result from older phrasings survives it.
        self._cached: Callable[[str, int], FaqResult] = lru_cache(SEARCH_CACHE)(self.rank)

    def search(self, text: str, limit: int = 5) -> FaqResult:
        """Rank entries for ``text``; empty hits when nothing in the FAQ resembles it. The
        last few thousand answers are kept: a repeated question costs a lookup."""
        return self._cached(text, limit)

    def rank(self, text: str, limit: int = 5) -> FaqResult:
        """``search`` without the cache: the matcher itself."""
        q_surface = fold(text)
        if not q_surface:
            return FaqResult((), False)
        q_spoken = segmented_reading(q_surface)
        q_reading = q_spoken.text
        surface_words = _substrings(q_surface, 2, self._longest_surface)
        reading_words = _word_substrings(q_spoken, MIN_READING_MATCH, self._longest_reading)
        anchored = bool(
            surface_words & self._anchor_surface or reading_words & self._anchor_reading
        )
        s_grams, r_grams = Counter(bigrams(q_surface)), Counter(bigrams(q_reading))
        tfidf: dict[str, float] = defaultdict(float)
        for space, grams in ((self._surface, s_grams), (self._reading, r_grams)):
            for eid, score in space.cosines(grams).items():
                tfidf[eid] = max(tfidf[eid], score)
        fuzzy: dict[str, float] = defaultdict(float)
        for query, choices in (
            (q_surface, self._phrase_surface),
            (q_reading, self._phrase_reading),
        ):
            for _, score, idx in process.extract(
                query, choices, scorer=fuzz.ratio, limit=None, score_cutoff=FUZZ_FLOOR * 100
            ):
                eid = self._owners[idx]
                fuzzy[eid] = max(fuzzy[eid], (score / 100 - FUZZ_FLOOR) / (1 - FUZZ_FLOOR))
        keyword = self._keyword_scores(surface_words, reading_words)
        hits = []
        for eid in set(tfidf) | set(fuzzy) | set(keyword):
            t, f, k = tfidf.get(eid, 0.0), fuzzy.get(eid, 0.0), keyword.get(eid, 0.0)
            score = W_TFIDF * t + W_FUZZ * f + W_KEYWORD * k
            hits.append(FaqHit(self._entries[eid], score, t, f, k))
        hits.sort(key=lambda h: h.score, reverse=True)
        return FaqResult(tuple(hits[:limit]), anchored)

    def _keyword_scores(
        self, surface_words: set[str], reading_words: set[str]
    ) -> dict[str, float]:
        found: dict[str, dict[str, float]] = defaultdict(dict)
        for word in surface_words & self._kw_surface.keys():
            for eid, k_reading, weight in self._kw_surface[word]:
                found[eid][k_reading] = weight
        for word in reading_words & self._kw_reading.keys():
            for eid, k_reading, weight in self._kw_reading[word]:
                found[eid][k_reading] = weight
        hit_words = {r for hits in found.values() for r in hits}
        # Only the longest words count: 「市民活動センター」 is not also 「センター」.
        shadowed = {w for w in hit_words if any(w != o and w in o for o in hit_words)}
        raw = {
            eid: sum(w * min(1.0, len(r) / 4) for r, w in hits.items() if r not in shadowed)
            for eid, hits in found.items()
        }
        top = max(raw.values(), default=0.0)
        if top <= 0:
            return {}
        # Relative to the best-matching entry, so the most specific entry stands out.
        return {eid: (v / top) * min(1.0, top) for eid, v in raw.items() if v > 0}


def _substrings(text: str, shortest: int, longest: int) -> set[str]:
    n = len(text)
    return {text[i:j] for i in range(n) for j in range(i + shortest, min(n, i + longest) + 1)}


def _word_substrings(spoken: Reading, shortest: int, longest: int) -> set[str]:
    """Substrings of a reading that start and end on word boundaries (see Reading.has_word)."""
    text, out = spoken.text, set()
    for i in sorted(spoken.starts):
        for j in range(i + shortest, min(len(text), i + longest) + 1):
            if j in spoken.ends:
                out.add(text[i:j])
    return out
