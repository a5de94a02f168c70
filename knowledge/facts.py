"""The guideline's figures, a row each (``facts.toml``), and a matcher for questions that ask one.

「スタッフの性別の偏りは何%？」 names a row of a chart: the answer leads with that row's figure,
then gives the chart's FAQ entry. A row is named when most of its name (or one of its other
words) is in the message, weighed by how rare each word is among all rows; rows with the same
name in several charts (その他, 未回答) are told apart by the chart's context words or by the
FAQ entry the message matches best.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from knowledge.terms import WEIGHTS, terms

FACTS_FILE = Path(__file__).with_name("facts.toml")
FIELDS_FILE = Path(__file__).with_name("fields.toml")
# Of a row's name, this share (by weight) must be in the message.
NAMED = 0.74
NAMED_IN_FIGURE_QUESTION = 0.6  # 「作業が集中してるのは何%」 names 「特定の個人に…集中する」
# Without a question word for a figure, the row's name must be this share of the message.
SAYS_LITTLE_ELSE = 0.6
MAX_ROWS = 3
KIND_BONUS = 0.3
NEGATION = "c:無い"  # synonyms.toml
NOT_ANSWERS = {"その他", "未回答", "わからない", "回答した団体数"}
CONTEXT_BONUS = 0.3  # a chart's own context words in the message
ENTRY_BONUS = 0.2  # the chart's FAQ entry is among the best matches
SPELLED_OUT = 0.9  # a row's name this fully in the message names its chart too


@dataclass(frozen=True, slots=True, eq=False)
class Chart:
    """One table or chart of the guideline and how to word one of its rows."""

    id: str
    entry: str
    section: str
    lead: str
    lead_en: str
    context: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Fact:
    """One figure: a row of a chart."""

    chart: Chart
    item: str
    item_en: str
    value: str
    names: tuple[str, ...]  # the item and its other words, Japanese and English
    # Names that say the row only in a question for a figure (a field's everyday words:
    # 「まちづくりの団体はいくつ」 is the row, 「中間支援とは」 is not).
    figure_names: tuple[str, ...] = ()

    def lead(self, locale: str) -> str:
        """The sentence that states this figure, in the given language."""
        if locale.startswith("en") and self.chart.lead_en:
            return self.chart.lead_en.format(
                item=self.item, item_en=self.item_en, value=self.value
            )
        return self.chart.lead.format(item=self.item, item_en=self.item_en, value=self.value)


def load_facts(path: Path = FACTS_FILE) -> list[Fact]:
    """Read ``facts.toml``."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    # A row named like an activity field (the 3(1)イ table) is also named by the field's
    # everyday words: 「まちづくりの団体はいくつ」「ごみ拾いの団体数」.
    with FIELDS_FILE.open("rb") as fh:
        field_words = {
            f["guideline_name"]: [w for w in (*f["words"], *f.get("words_en", ())) if len(w) >= 2]
            for f in tomllib.load(fh)["field"]
            if f.get("guideline_name")
        }
    facts = []
    for raw in data["chart"]:
        chart = Chart(
            raw["id"],
            raw["entry"],
            raw["section"],
            raw["lead"],
            raw.get("lead_en", ""),
            (*raw.get("context", ()), *raw.get("context_en", ())),
        )
        for f in raw["fact"]:
            names = (f["item"], f.get("item_en", ""), *f.get("words", ()), *f.get("words_en", ()))
            figure_only = tuple(field_words.get(f["item"], ()))
            facts.append(
                Fact(
                    chart,
                    f["item"],
                    f.get("item_en", ""),
                    f["value"],
                    tuple(n for n in names if n),
                    figure_only,
                )
            )
    return facts


# Words that ask for a figure rather than name a row (何団体, いくつ, 割合): not part of a name.
# Nor are the survey's own words (回答, 答えた) or 団体: every row is groups that answered.
_ASKING = {
    "c:数", "c:割合", "w:何", "w:幾", "w:数", "r:なん", "r:いく", "r:すう", "e:number",
    "c:調査", "w:回答", "r:かいとう", "w:答える", "r:こたえ", "c:団体", "w:団体", "r:だんたい",
    "w:程度", "r:ていど", "e:answer", "e:group", "w:いつ", "r:いつ", "e:when", "e:many",
}  # fmt: skip


def _number(value: str) -> float | None:
    found = re.match(r"[0-9,]+(?:\.[0-9]+)?", value)
    return float(found.group(0).replace(",", "")) if found else None


def _kind_of(value: str) -> str:
    """The kind of question a figure answers (question_kinds.toml's names)."""
    if value.endswith("%"):
        return "percent"
    if re.search(r"[0-9]年|年度|月", value) and not value.endswith(("団体", "件")):
        return "when"
    return "count"


# 「…と答えた団体」 is how every survey row is asked: its 団体 does not say 団体側.
# 「何年」 asks for a year: its 年 names no row (a row's 「1998年」 does).
_WHAT_YEAR = re.compile(r"何年度?|なんねんど?|what year")
_ANSWERED_BY = re.compile(r"(答え|こたえ|回答し|挙げ|あげ|選ん|えらん)た団体")


def _context_terms(text: str) -> set[str]:
    return {t for t in terms(_ANSWERED_BY.sub("", text)) if t[0] in ("w", "c", "e")}


def _words(found: Iterable[str]) -> int:
    """How many distinct words (not readings or concepts) a set of terms holds."""
    return sum(t[0] in ("w", "e") for t in found)


def _content(text: str) -> Counter[str]:
    return Counter({t: c for t, c in terms(text).items() if t[0] != "k" and t not in _ASKING})


class FactIndex:
    """Finds the row a message asks about. Immutable; safe to share between threads."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.facts = list(facts)
        names = [(fact, _content(name), False) for fact in self.facts for name in fact.names] + [
            (fact, _content(name), True) for fact in self.facts for name in fact.figure_names
        ]
        df: Counter[str] = Counter()
        for _, name_terms, _ in names:
            df.update(name_terms.keys())
        n = len(names) or 1
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._unknown = math.log(1 + n)
        # Each name with its terms' weights and their sum, and which names use each term: a
        # message is compared only with the names that share a word with it.
        self._names: list[tuple[Fact, dict[str, float], float, bool]] = []
        self._by_term: dict[str, list[int]] = {}
        topic = {
            fact.chart.id: {t for c in fact.chart.context for t in _content(c)}
            for fact in self.facts
        }
        # Per name, the terms that say the row itself, beyond its chart's topic: at least one
        # must be in the message (「課題」 alone names no row of a chart about 課題).
        self._own: list[frozenset[str]] = []
        for fact, name_terms, figure in names:
            own = frozenset(name_terms) - topic[fact.chart.id]
            if not own:
                continue
            weights = {t: WEIGHTS[t[0]] * self._idf[t] for t in name_terms}
            for t in weights:
                self._by_term.setdefault(t, []).append(len(self._names))
            self._names.append((fact, weights, sum(weights.values()), figure))
            self._own.append(own)
        # Charts whose rows can be ranked: three or more, all percentages or all counts.
        units: dict[str, set[str]] = {}
        sizes: Counter[str] = Counter()
        for fact in self.facts:
            units.setdefault(fact.chart.id, set()).add(_kind_of(fact.value))
            sizes[fact.chart.id] += 1
        self._rankable = {c for c, u in units.items() if len(u) == 1 and sizes[c] >= 3}
        # Each chart's context phrases, as the terms each needs (団体 and 市 included: 「団体の
        # 課題」 and 「市の課題」 tell two charts apart) and how much a full match weighs.
        self._context: dict[str, list[tuple[frozenset[str], float]]] = {}
        for fact in self.facts:
            if fact.chart.id not in self._context:
                phrases = [frozenset(_context_terms(c)) for c in fact.chart.context]
                self._context[fact.chart.id] = [
                    (p, sum(WEIGHTS[t[0]] for t in p)) for p in phrases if p
                ]

    def knows(self, term: str) -> bool:
        """Whether any row's name uses this term."""
        return term in self._idf

    def extreme(
        self,
        text: str,
        likely_entries: Iterable[str] = (),
        context: str = "",
        least: bool = False,
        place: int = 1,
    ) -> tuple[Fact, ...]:
        """「一番多いのは？」: the largest row (or the smallest) of the chart the message names
        by its context words, or the one at ``place`` (「2番目は？」); rows that are not an
        answer (その他, 未回答) are left out."""
        said = frozenset(_context_terms(text)) | frozenset(_context_terms(context))
        likely = set(likely_entries)
        charts = {f.chart.id: f.chart for f in self.facts if f.chart.id in self._rankable}
        strength = {c: self._in_context(chart, said) for c, chart in charts.items()}
        named = [c for c, w in strength.items() if w > 0]
        if not named:
            return ()
        best = max(named, key=lambda c: (strength[c], charts[c].entry in likely))
        rows = [
            (number, f)
            for f in self.facts
            if f.chart.id == best
            and f.item not in NOT_ANSWERS
            and f.value.endswith(("%", "団体"))
            and (number := _number(f.value)) is not None
        ]
        if not rows:
            return ()
        rows.sort(key=lambda r: r[0], reverse=not least)
        return (rows[place - 1][1],) if place <= len(rows) else ()

    def names_chart(self, fact: Fact, text: str, context: str = "") -> bool:
        """Whether the message (or the question it follows) names the fact's chart in its
        own words (「市側で「未回答」は？」): then it is about the guideline, whatever else."""
        said = frozenset(_context_terms(text)) | frozenset(_context_terms(context))
        return self._in_context(fact.chart, said) > 0

    def _in_context(self, chart: Chart, said: frozenset[str]) -> float:
        """How strongly the message names this chart: the weight of all the words of its
        phrases that are there in full (「市側の課題」 and 「協働の課題」 say more than the
        second alone, which two charts share)."""
        named = frozenset().union(*(p for p, _ in self._context[chart.id] if p <= said))
        return sum(WEIGHTS[t[0]] for t in named)

    def find(
        self,
        text: str,
        likely_entries: Iterable[str] = (),
        asks_figure: bool = False,
        context: str = "",
        asked_kind: str = "",
        only_kinds: frozenset[str] = frozenset(),
    ) -> tuple[Fact, ...]:
        """The rows ``text`` names: the best one, and others of its chart the message also
        names (「その他・わからない・未回答はそれぞれ何%？」), at most MAX_ROWS. Unless the message
        asks for a figure (何%, 何団体, いつ …), a row's name must be most of what it says
        (「スタッフの性別の偏りは？」). With ``only_kinds``, a row answers only if its figure is
        of one of those kinds (a date for いつ: 「いつできた」 is not answered by a count)."""
        query = _content(_WHAT_YEAR.sub(" ", text))
        if not query:
            return ()
        query_total = sum(WEIGHTS[t[0]] * self._idf.get(t, self._unknown) for t in query)
        likely = set(likely_entries)
        # The chart may be named here or in the question this one follows (「未回答は？」).
        said = frozenset(_context_terms(text)) | frozenset(_context_terms(context))
        got: dict[int, float] = {}
        for t in query:
            for i in self._by_term.get(t, ()):
                got[i] = got.get(i, 0.0) + self._names[i][1][t]
        scored: dict[Fact, float] = {}
        for i, weight in got.items():
            fact, _, total, figure_only = self._names[i]
            if (figure_only and not asks_figure) or not self._own[i] & query.keys():
                continue
            if NEGATION in self._own[i] and NEGATION not in query:
                continue  # 「課題はない」 is not named by 「課題」
            named = weight / total
            if named < (NAMED_IN_FIGURE_QUESTION if asks_figure else NAMED):
                continue
            if not asks_figure and weight < SAYS_LITTLE_ELSE * query_total:
                continue
            in_context = self._in_context(fact.chart, said)
            # 「いつできた」 alone could be the center or the ordinance; a figure asked for a
            # row named in full by its own words (「ふさわしい事業が少ない」は何%) needs no more.
            spelled_out = (
                asks_figure and named >= SPELLED_OUT and _words(self._own[i] & query.keys()) >= 2
            )
            if not (in_context or figure_only or spelled_out) and fact.chart.entry not in likely:
                continue
            score = named + weight / 100  # a longer name, fully there, beats a shorter one
            # The fuller the phrase that names the chart, the surer: 「団体の課題」 over 「課題」.
            score += CONTEXT_BONUS * bool(in_context) + in_context / 5
            score += ENTRY_BONUS * (fact.chart.entry in likely)
            if only_kinds and _kind_of(fact.value) not in only_kinds:
                continue  # 「いつできた」 asks a date: no count answers it
            if asked_kind and _kind_of(fact.value) == asked_kind:
                score += KIND_BONUS  # いつ wants a date, not the count of the same year
            scored[fact] = max(score, scored.get(fact, 0.0))
        if not scored:
            return ()
        ranked = sorted(scored, key=scored.__getitem__, reverse=True)
        best = ranked[0]
        return tuple([best, *(f for f in ranked[1:] if f.chart is best.chart)][:MAX_ROWS])
