"""The ordinance FAQ: entries loaded from ``knowledge/faq/*.toml`` and a matcher over them.

The matcher is BM25 over index terms (``knowledge/terms.py``: Sudachi's normalised words, their
readings, our domain's concepts, English words and kana bigrams) of each entry's phrasings,
keywords and label. On top of the ranking:

* ``coverage``: how much of the message (by the weight of its words) the best entry explains;
  an unknown word dilutes it, so 「鎌倉の天気」 does not reach an answer through 鎌倉;
* ``fuzz``: the best rapidfuzz ratio against one phrasing (a nearly verbatim question);
* the kind of question (何% / 何団体 / いつ / 一番多い / 違い …, ``knowledge/question_kinds.toml``)
  favours the entries whose answers state that kind of thing.

``anchored`` says whether the message uses any word of our domain (``domain.toml``); one that
does not (「市長は誰？」) is off-topic whatever the best entry scores, unless nearly verbatim.
"""

from __future__ import annotations

import heapq
import math
import re
import threading
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from knowledge.analyzer import to_hiragana
from knowledge.facts import Fact, FactIndex, load_facts
from knowledge.terms import WEIGHTS, terms
from knowledge.text import fold, reading, segmented_reading

FAQ_DIR = Path(__file__).with_name("faq")
DOMAIN_FILE = Path(__file__).with_name("domain.toml")
KINDS_FILE = Path(__file__).with_name("question_kinds.toml")
MAX_LABEL = 20
# What an entry may offer as buttons before its related questions (``actions``; FORMAT.md):
# the two finders and the center's contact details (intents/faq.py maps them to payloads).
ACTIONS = ("find_openings", "find_groups", "contact_center")

# BM25's usual constants; an entry's document is all its phrasings, so lengths vary little.
BM25_K1, BM25_B = 1.2, 0.5
# Any two Japanese sentences share some characters: a ratio below this says nothing.
FUZZ_FLOOR = 0.5
MIN_READING_MATCH = 3  # kana; shorter readings match too much by accident
# Residents ask the same few questions again and again: a search is a pure function of the
# text and the phrasings, so the last few thousand results are kept (and dropped on rebuild).
SEARCH_CACHE = 4096
# An entry whose answer states the kind of thing asked (a percentage for 何%) moves up; one
# that does not moves down. Kana bigrams alone explain a message less surely than words do.
KIND_BOOST, KIND_PENALTY = 1.3, 0.8
KANA_COVERAGE = 0.9
KANA_COMMON = 0.2  # share of entries (measured: the same accuracy on the dev sets)
CONTEXT_WEIGHT = 0.5  # the words of the question a follow-up follows
RANKED = 24  # entries ranked in full for a message: the rest have too little BM25 to win
FUZZ_CANDIDATES = 8  # entries whose phrasings a message is compared with, character by character
FIGURE_KINDS = frozenset({"percent", "count", "when", "most"})
_LEAST = re.compile("少な|すくな|最少|least|fewest|smallest")
# 「2番目は？」「三番目に多いのは」「second largest」: the place asked for in a ranking.
_NTH = re.compile(r"([0-9]+|[二三四五六七八九十])(?:番目|ばんめ|位)|(second|third|fourth|fifth)")
_NTH_WORDS = {"二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "second": 2, "third": 3, "fourth": 4, "fifth": 5}  # fmt: skip


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
    actions: tuple[str, ...] = ()  # buttons that start something (ACTIONS), shown first

    def answer_for(self, locale: str) -> str:
        """The answer in the given language (Japanese when no translation exists)."""
        if locale.startswith("en") and self.answer_en:
            return self.answer_en
        return self.answer


@dataclass(frozen=True, slots=True)
class FaqHit:
    """A scored candidate entry for one query."""

    entry: FaqEntry
    score: float  # the router's confidence in 0..1
    bm25: float
    coverage: float
    fuzz: float


@dataclass(frozen=True, slots=True)
class FaqResult:
    """The ranked candidates and how much of the query the FAQ vocabulary covers."""

    hits: tuple[FaqHit, ...]
    anchored: bool
    # The figures the message asks for, when it names rows of one of the guideline's charts.
    facts: tuple[Fact, ...] = ()

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
                        actions=tuple(raw.get("actions", ())),
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
        unknown = [a for a in e.actions if a not in ACTIONS]
        if unknown:
            raise FaqError(f"{e.id}: unknown actions {unknown} (known: {list(ACTIONS)})")
    for e in entries:
        missing = [r for r in e.related if r not in seen]
        if missing:
            raise FaqError(f"{e.id}: related ids not found: {missing}")


@dataclass(frozen=True, slots=True)
class QuestionKind:
    """A kind of question (何% …) and how to tell an answer that states that kind of thing."""

    name: str
    asks: re.Pattern[str]
    answers: re.Pattern[str]
    words: tuple[str, ...] = ()  # the words that ask it, as written
    overrides: frozenset[str] = frozenset()  # kinds it takes the place of when both are asked


def load_question_kinds(path: Path = KINDS_FILE) -> list[QuestionKind]:
    """``question_kinds.toml``: per kind, the words that ask it and a pattern of its answers."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return [
        QuestionKind(
            name,
            re.compile("|".join(re.escape(_plain(w)) for w in kind["asks"])),
            re.compile(kind["answers"]),
            tuple(kind["asks"]),
            frozenset(kind.get("overrides", ())),
        )
        for name, kind in data["kinds"].items()
    ]


class FaqIndex:
    """Matches a resident's message to FAQ entries. Thread-safe; phrasings can be added live."""

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        anchors: Iterable[str] | None = None,
        facts: Iterable[Fact] | None = None,
    ) -> None:
        self._entries = {e.id: e for e in entries}
        self._facts = FactIndex(load_facts() if facts is None else facts)
        words = load_anchors() if anchors is None else anchors
        self._anchors = [(f, reading(f)) for f in map(fold, words) if f]
        self._kinds = load_question_kinds()
        # Words that only say what kind of thing is asked (何% / 2番目): a follow-up may use them.
        self._asking = {
            t for k in self._kinds for w in k.words for t in terms(w) if t[0] in ("w", "e")
        }
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
        docs: dict[str, Counter[str]] = {}
        owners: list[str] = []
        phrase_surface: list[str] = []
        for e in self._entries.values():
            doc: Counter[str] = Counter()
            for text in [*self._phrasings(e), *e.keywords]:
                doc.update(terms(text, as_typed=False))
            docs[e.id] = doc
            for text in self._phrasings(e):
                owners.append(e.id)
                phrase_surface.append(fold(text))
        n = len(docs) or 1
        df: Counter[str] = Counter()
        for doc in docs.values():
            df.update(doc.keys())
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        lengths = {
            eid: sum(WEIGHTS[t[0]] * c for t, c in doc.items()) for eid, doc in docs.items()
        }
        average = sum(lengths.values()) / n or 1.0
        postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        # A kana bigram most entries have (「ます」「かつ」) says nothing: it is not indexed, and
        # a message's own are left out of its weight (KANA_COMMON).
        self._common = {t for t, c in df.items() if t[0] == "k" and c > KANA_COMMON * n}
        for eid, doc in docs.items():
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[eid] / average)
            for t, c in doc.items():
                if t not in self._common:
                    postings[t].append((eid, c * (BM25_K1 + 1) / (c + norm)))
        self._postings = dict(postings)
        self._idf = idf
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self._answer_kinds = {
            e.id: frozenset(k.name for k in self._kinds if k.answers.search(e.answer))
            for e in self._entries.values()
        }
        self._anchor_surface = {a for a, _ in self._anchors if len(a) >= 2}
        self._anchor_reading = {r for _, r in self._anchors if len(r) >= MIN_READING_MATCH}
        self._anchor_surface_re = _alternation(self._anchor_surface)
        # Overlapping (a lookahead), so every place where an anchor's reading starts is seen.
        longest_first = sorted(self._anchor_reading, key=len, reverse=True)
        self._anchor_reading_re = re.compile(
            "(?=(" + "|".join(map(re.escape, longest_first)) + "))"
        )
        self._phrases_of: dict[str, list[str]] = defaultdict(list)
        for eid, phrase in zip(owners, phrase_surface, strict=True):
            self._phrases_of[eid].append(phrase)
        # A new cache with every rebuild, so no result from older phrasings survives it.
        self._cached: Callable[[str, int, str, bool], FaqResult] = lru_cache(SEARCH_CACHE)(
            self.rank
        )

    def search(
        self, text: str, limit: int = 5, context: str = "", background: bool = False
    ) -> FaqResult:
        """Rank entries for ``text``; empty hits when nothing in the FAQ resembles it. The
        last few thousand answers are kept: a repeated question costs a lookup.

        ``context`` is the question a short follow-up follows (「市のほうは？」 after one on the
        groups' side): its words count at half weight, and a figure it asked for is asked
        again (「未回答は？」 after 「…は何%？」).

        With ``background``, the context is what a long message says around its question
        (「定年退職して大船に住んでます。」): it helps rank as usual, but the confidence is also
        measured on the question's own words, so a long story does not dilute it."""
        return self._cached(text, limit, context, background)

    def knows_words_of(self, text: str) -> bool:
        """True when every word of ``text`` is one our phrasings, the figures' rows or the
        kinds of question use: a short follow-up (「市のほうは？」) may lean on the last
        question, 「天気は？」 may not."""
        words = [t for t in terms(text) if t[0] in ("w", "e")]
        return all(t in self._idf or t in self._asking or self._facts.knows(t) for t in words)

    def asked_kinds(self, text: str) -> frozenset[str]:
        """The kinds of question ``text`` asks (percent, count, when, most …)."""
        plain = _plain(text)
        asked = [k for k in self._kinds if k.asks.search(plain)]
        overridden = {name for k in asked for name in k.overrides}
        return frozenset(k.name for k in asked if k.name not in overridden)

    def rank(
        self, text: str, limit: int = 5, context: str = "", background: bool = False
    ) -> FaqResult:
        """``search`` without the cache: the matcher itself."""
        q_surface = fold(text)
        if not q_surface:
            return FaqResult((), False)
        anchored = self._anchored(q_surface) or bool(context and self._anchored(fold(context)))
        query: dict[str, float] = dict(terms(text))
        own = set(query) if background else None
        asked = self.asked_kinds(text)
        if context:
            asked |= self.asked_kinds(context) & FIGURE_KINDS
            for t, n in terms(context).items():
                if t not in query:
                    query[t] = n * CONTEXT_WEIGHT
        bm25: dict[str, float] = defaultdict(float)
        # Per entry, the weight of the message's words it has: content words, kana bigrams.
        got_content: dict[str, float] = defaultdict(float)
        got_kana: dict[str, float] = defaultdict(float)
        got_own: dict[str, float] = defaultdict(float)  # the question's own words (background)
        total_content = total_kana = total_own = 0.0
        for t, c in query.items():
            if t in self._common:
                continue
            weight = WEIGHTS[t[0]] * self._idf.get(t, self._unknown_idf) * min(c, 2.0)
            got = got_kana if t[0] == "k" else got_content
            if t[0] == "k":
                total_kana += weight
            else:
                total_content += weight
            mine = own is not None and t in own and t[0] != "k"
            total_own += weight * mine
            for eid, tf in self._postings.get(t, ()):
                bm25[eid] += weight * tf
                got[eid] += weight
                got_own[eid] += weight * mine
        # Nearly verbatim one of our phrasings? Only the best few entries' phrasings can be
        # (they share most of the message's words), so only those are compared.
        fuzzy: dict[str, float] = defaultdict(float)
        leaders = sorted(bm25, key=bm25.__getitem__, reverse=True)[:FUZZ_CANDIDATES]
        for eid in leaders:
            phrases = self._phrases_of[eid]
            best = process.extractOne(
                q_surface, phrases, scorer=fuzz.ratio, score_cutoff=FUZZ_FLOOR * 100
            )
            if best:
                fuzzy[eid] = (best[1] / 100 - FUZZ_FLOOR) / (1 - FUZZ_FLOOR)
        # Rank by BM25 (boosted by the kind of question, relative to the best) and by how
        # much of the message each entry explains; the few best become hits.
        leading = heapq.nlargest(RANKED, bm25, key=bm25.__getitem__)
        boosted = {eid: bm25[eid] * self._boost(eid, asked) for eid in leading}
        top = max(boosted.values(), default=0.0) or 1.0
        coverage = {
            eid: max(
                got_content[eid] / total_content if total_content else 0.0,
                KANA_COVERAGE * got_kana[eid] / total_kana if total_kana else 0.0,
            )
            for eid in leading
        }
        ranked = sorted(
            leading,
            key=lambda e: (boosted[e] / top + coverage[e], fuzzy.get(e, 0.0)),
            reverse=True,
        )
        # Confidence: how much of the message is explained; with a background, how much of
        # the question itself, if more.
        sure = {
            e: max(coverage[e], got_own[e] / total_own if total_own else 0.0)
            for e in ranked[: max(limit, 2)]
        }
        hits = [
            FaqHit(self._entries[e], min(1.0, sure[e]), boosted[e], coverage[e], fuzzy.get(e, 0.0))
            for e in ranked[: max(limit, 2)]
        ]
        kinds = asked & FIGURE_KINDS
        facts = self._facts.find(
            text,
            [h.entry.id for h in hits[:2]],
            bool(kinds),
            context,
            next(iter(sorted(kinds - {"most"})), ""),
            frozenset({"when"}) if kinds - {"most"} == {"when"} else frozenset(),
        )
        place = _place(text)
        if not facts and ("most" in asked or place > 1):
            least = bool(_LEAST.search(_plain(text)))
            facts = self._facts.extreme(
                text, [h.entry.id for h in hits[:2]], context, least, place
            )
        facts = tuple(f for f in facts if f.chart.entry in self._entries)
        if facts and not anchored:
            anchored = self._facts.names_chart(facts[0], text, context)
        return FaqResult(tuple(hits[:limit]), anchored, facts)

    def _boost(self, entry_id: str, asked: frozenset[str]) -> float:
        kinds = self._answer_kinds[entry_id]
        boost = 1.0
        for kind in asked:
            boost *= KIND_BOOST if kind in kinds else KIND_PENALTY
        return boost

    def _anchored(self, q_surface: str) -> bool:
        if self._anchor_surface_re.search(q_surface):
            return True
        spoken = segmented_reading(q_surface)
        return any(
            spoken.has_word(m.group(1)) for m in self._anchor_reading_re.finditer(spoken.text)
        )


def _place(text: str) -> int:
    """The place in a ranking a message asks for: 1 unless it says 2番目, 三位, third …"""
    found = _NTH.search(_plain(text))
    if not found:
        return 1
    word = found.group(1) or found.group(2)
    return int(word) if word.isdigit() else _NTH_WORDS[word]


def _plain(text: str) -> str:
    """NFKC, lower case, hiragana, no spaces: enough to find 何% or なんぱーせんと."""
    return "".join(to_hiragana(unicodedata.normalize("NFKC", text).lower()).split())


def _alternation(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))) or "(?!)")
