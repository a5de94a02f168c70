"""The ordinance FAQ: entries loaded from ``knowledge/faq/*.toml`` and a matcher over them.

Scoring combines three signals, each in 0..1, computed on the folded surface text and on its
hiragana reading (so 「きょうどう」 and 「共同」 find 協働):

* ``tfidf``   cosine of character-bigram TF-IDF vectors, query vs. all of an entry's phrasings;
* ``fuzz``    the best rapidfuzz ratio against one phrasing (near-verbatim questions, typos);
* ``keyword`` IDF-weighted hits of the entry's distinctive keywords.

``coverage`` — the share of the query's bigrams that occur anywhere in the FAQ — tells an
off-topic question (「鎌倉の天気」) from a real one, whatever the best entry's score.
"""

from __future__ import annotations

import math
import threading
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from knowledge.text import bigrams, fold, reading

FAQ_DIR = Path(__file__).with_name("faq")
MAX_LABEL = 20

# Weights of the three signals; tuned on tests/data/faq_devset.tsv (see bench/faq_report.py).
W_TFIDF, W_FUZZ, W_KEYWORD = 0.45, 0.25, 0.30


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

    hits: list[FaqHit]
    coverage: float

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

    def coverage(self, grams: Counter[str]) -> float:
        total = sum(grams.values())
        return sum(c for g, c in grams.items() if g in self.idf) / total if total else 0.0

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

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        self._entries = {e.id: e for e in entries}
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
        if entry_id not in self._entries:
            raise KeyError(entry_id)
        with self._lock:
            self._extra[entry_id].append(text)
            self._build()

    def _phrasings(self, e: FaqEntry) -> list[str]:
        return [*e.questions, e.label, *e.questions_en, *self._extra.get(e.id, ())]

    def _build(self) -> None:
        surface_grams: dict[str, Counter[str]] = {}
        reading_grams: dict[str, Counter[str]] = {}
        owners: list[str] = []
        phrase_surface: list[str] = []
        phrase_reading: list[str] = []
        entry_keywords: dict[str, dict[str, str]] = {}
        keyword_df: Counter[str] = Counter()
        for e in self._entries.values():
            s_grams: Counter[str] = Counter()
            r_grams: Counter[str] = Counter()
            for text in [*self._phrasings(e), *e.keywords]:
                f = fold(text)
                s_grams.update(bigrams(f))
                r_grams.update(bigrams(reading(f)))
            surface_grams[e.id], reading_grams[e.id] = s_grams, r_grams
            for text in self._phrasings(e):
                f = fold(text)
                owners.append(e.id)
                phrase_surface.append(f)
                phrase_reading.append(reading(f))
            kws = {reading(f): f for f in map(fold, e.keywords) if f}
            entry_keywords[e.id] = kws
            keyword_df.update(kws.keys())
        n = len(self._entries) or 1
        top = math.log(1 + n)
        # A keyword that only one entry has weighs 1; one shared by many weighs little.
        self._keywords = {
            eid: [(s, r, math.log(1 + n / keyword_df[r]) / top) for r, s in kws.items()]
            for eid, kws in entry_keywords.items()
        }
        self._surface = _Space.build(surface_grams)
        self._reading = _Space.build(reading_grams)
        self._owners = owners
        self._phrase_surface, self._phrase_reading = phrase_surface, phrase_reading

    def search(self, text: str, limit: int = 5) -> FaqResult:
        """Rank entries for ``text``; empty hits when nothing in the FAQ resembles it."""
        q_surface = fold(text)
        q_reading = reading(q_surface)
        if not q_surface:
            return FaqResult([], 0.0)
        s_grams, r_grams = Counter(bigrams(q_surface)), Counter(bigrams(q_reading))
        coverage = max(self._surface.coverage(s_grams), self._reading.coverage(r_grams))
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
                query, choices, scorer=fuzz.ratio, limit=None, score_cutoff=40
            ):
                eid = self._owners[idx]
                fuzzy[eid] = max(fuzzy[eid], score / 100)
        keyword: dict[str, float] = {}
        for eid, kws in self._keywords.items():
            total = 0.0
            for k_surface, k_reading, weight in kws:
                if k_surface in q_surface or (len(k_reading) >= 3 and k_reading in q_reading):
                    total += weight * min(1.0, len(k_reading) / 4)
            if total:
                keyword[eid] = min(1.0, total)
        hits = []
        for eid in set(tfidf) | set(fuzzy) | set(keyword):
            t, f, k = tfidf.get(eid, 0.0), fuzzy.get(eid, 0.0), keyword.get(eid, 0.0)
            score = W_TFIDF * t + W_FUZZ * f + W_KEYWORD * k
            hits.append(FaqHit(self._entries[eid], score, t, f, k))
        hits.sort(key=lambda h: h.score, reverse=True)
        return FaqResult(hits[:limit], coverage)
