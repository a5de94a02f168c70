"""Prints how well and how fast a message is understood: accuracy per question set (with the
confusions: what won instead), routing time for new (uncached) messages, and full turns.

Run with ``make bench``. Figures only; no pass/fail. Uses throw-away SQLite files.

The sets: ``faq_devset.tsv`` (tuned on) and ``faq_heldout.tsv`` (never tuned on), labelled by
entry id; the blind sets, written by people who saw only the guideline and the city's facts:
``*_blind_dev.tsv`` and ``*_blind_dev2.tsv`` (tuned on; the second written 2026-12-03),
``*_blind_heldout.tsv`` (never tuned on) and ``*_blind_final.tsv`` (a third pair, written
last by other helpers, read once at the end) and ``*_blind_fresh.tsv`` (a fourth pair,
written 2026-12-03 by a helper that saw only the guideline and KAMAKURA.md, held out while
that session tuned, read once at its end) and ``*_blind_last.tsv`` (a fifth pair, written
2026-12-03 the same way by another helper, held out while the next session tuned, read once
at its end) and ``*_blind_sixth.tsv`` (a sixth pair, 160 FAQ questions and 120 search
messages, written 2026-12-04 by a helper that saw only the guideline and KAMAKURA.md, held out
while that session tuned on the other five, read once at its end) and ``*_blind_seventh.tsv``
(130 FAQ questions and 85 search messages, written 2026-12-04 by two helpers that saw only the
guideline and KAMAKURA.md; tuned on) and ``*_blind_seventh_heldout.tsv`` (their other halves,
130 and 85, written alongside; held out while that session tuned, read once at its end).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intents.conversation import Conversation
from intents.turn import Turn
from intents.types import Inbound
from knowledge import analyzer, kana_words, terms, text
from knowledge.faq import FaqIndex, load_entries
from storage import Store, create_db_engine, migrate
from storage.store import UserRef
from tests.helpers import evaluate, load_utterances
from tests.judge import Verdict, judge_faq, judge_search, read_tsv

FAQ_SETS = (
    "faq_blind_dev.tsv",
    "faq_blind_dev2.tsv",
    "faq_blind_heldout.tsv",
    "faq_blind_final.tsv",
    "faq_blind_fresh.tsv",
    "faq_blind_last.tsv",
    "faq_blind_sixth.tsv",
    "faq_blind_seventh.tsv",
    "faq_blind_seventh_heldout.tsv",
)
SEARCH_SETS = (
    "search_blind_dev.tsv",
    "search_blind_dev2.tsv",
    "search_blind_heldout.tsv",
    "search_blind_final.tsv",
    "search_blind_fresh.tsv",
    "search_blind_last.tsv",
    "search_blind_sixth.tsv",
    "search_blind_seventh.tsv",
    "search_blind_seventh_heldout.tsv",
)
CONFUSIONS = 12
ROUNDS = 5


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _fresh(index: FaqIndex) -> Conversation:
    """A conversation on its own empty database (no user carries state between sets)."""
    engine = create_db_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    migrate(engine)
    return Conversation(Store(engine), faq_index=index)


def _clear_caches(conversation: Conversation) -> None:
    """Forget every cached analysis, so the next message costs what a new one costs."""
    analyzer.tokens.cache_clear()
    kana_words.read_as_words.cache_clear()
    terms.terms.cache_clear()
    text.segmented_reading.cache_clear()
    for cached in (conversation.faq._cached, conversation.fields._cached_find):
        cached.cache_clear()  # type: ignore[attr-defined]
    conversation.places._cached_find.cache_clear()  # type: ignore[attr-defined]


def _route_times(
    conversation: Conversation, messages: list[str], clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Milliseconds to route each message (analysis, FAQ, searches, commands), uncached, by
    ``clock`` (the wall clock, or this thread's CPU time, which a busy neighbour on a shared
    machine does not inflate)."""
    user = UserRef(1, "bench", "u", "ja", False)
    times = []
    for message in messages:
        _clear_caches(conversation)
        turn = Turn(
            Inbound("bench", "u", text=message), user, "ja", message, text.fold(message),
            None, {}, conversation.store, conversation.faq, conversation.messages,
            conversation.fields, conversation.places, conversation.clock(),
        )  # fmt: skip
        t = clock()
        conversation.router.route(turn)
        times.append((clock() - t) * 1000)
    return times


def _confusions(verdict: Verdict) -> list[tuple[str, int]]:
    """The most frequent (wanted → got) pairs among the misses."""
    pairs: Counter[str] = Counter()
    for miss in verdict.misses:
        want = miss.split(": want ", 1)[-1]
        pairs[want.split(" (")[0]] += 1
    return pairs.most_common(CONFUSIONS)


def _report(name: str, judge: Callable[[Conversation, str], Verdict], index: FaqIndex) -> None:
    verdict = judge(_fresh(index), name)
    print(verdict.summary())
    for pair, n in _confusions(verdict):
        if n > 1:
            print(f"    {n} × want {pair}")


def main() -> None:
    """Accuracy per set, then speed. ``--dev`` leaves the held-out sets unread (while
    tuning, nobody looks at them)."""
    held_out = "--dev" not in sys.argv
    faq_sets = FAQ_SETS if held_out else FAQ_SETS[:1]
    search_sets = SEARCH_SETS if held_out else SEARCH_SETS[:1]
    t0 = time.perf_counter()
    entries = load_entries()
    index = FaqIndex(entries)
    build_ms = (time.perf_counter() - t0) * 1000
    print(f"FAQ entries: {len(entries)}; index build {build_ms:.0f} ms")

    for name in ("faq_devset.tsv", "faq_heldout.tsv")[: 2 if held_out else 1]:
        result = evaluate(_fresh(index), load_utterances(name))
        false = len(result.false_answers or [])
        print(f"{name}: {result.correct}/{result.total} = {result.accuracy:.1%} (by entry id; "
              f"off-topic answered: {false})")  # fmt: skip
    for name in faq_sets:
        _report(name, judge_faq, index)
    for name in search_sets:
        _report(name, judge_search, index)

    conversation = _fresh(index)
    messages = [r["question"].split(" >> ")[-1] for n in faq_sets for r in read_tsv(n)]
    messages += [r["message"] for n in search_sets for r in read_tsv(n)]
    _route_times(conversation, messages[:20])  # warm the code paths, not the caches
    for label, clock in (("wall clock", time.perf_counter), ("CPU time", time.thread_time)):
        rounds = [_route_times(conversation, messages, clock) for _ in range(ROUNDS)]
        medians = sorted(statistics.median(r) for r in rounds)
        p99s = sorted(_percentile(r, 99) for r in rounds)
        print(
            f"routing a new message ({len(messages)} messages, every cache cleared before "
            f"each; {label}, the middle of {ROUNDS} rounds): median {medians[ROUNDS // 2]:.2f} "
            f"ms, p99 {p99s[ROUNDS // 2]:.2f} ms"
        )
    repeat_ms = []
    for message in messages * 2:
        t = time.perf_counter()
        conversation.faq.search(message)
        repeat_ms.append((time.perf_counter() - t) * 1000)
    print(f"a repeated FAQ question: median {statistics.median(repeat_ms) * 1000:.1f} µs")
    turn_ms = []
    for i, message in enumerate(messages):
        t = time.perf_counter()
        conversation.handle(Inbound("bench", f"user-{i % 50}", text=message))
        turn_ms.append((time.perf_counter() - t) * 1000)
    print(
        f"full turn incl. SQLite ({len(turn_ms)} messages): "
        f"median {statistics.median(turn_ms):.2f} ms, p99 {_percentile(turn_ms, 99):.2f} ms"
    )


if __name__ == "__main__":
    main()
