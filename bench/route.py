"""Prints how fast one message is routed and answered (FAQ matching + the database round trips).

Run with ``make bench``. Figures only; no pass/fail. Uses a throw-away SQLite file unless
``DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intents.conversation import Conversation
from intents.types import Inbound
from knowledge.faq import FaqIndex, load_entries
from storage import Store, create_db_engine, database_url, migrate
from tests.helpers import evaluate, load_utterances


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    """Measure index build time, routing time (matcher only) and full turns."""
    tracemalloc.start()
    t0 = time.perf_counter()
    entries = load_entries()
    index = FaqIndex(entries)
    build_ms = (time.perf_counter() - t0) * 1000
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    utterances = load_utterances("faq_devset.tsv") + load_utterances("faq_heldout.tsv")
    texts = [u.text for u in utterances]
    for text in texts:  # warm the reading cache the way a running server would be
        index.rank(text)

    match_ms, repeat_ms = [], []
    for _ in range(3):
        for text in texts:
            t = time.perf_counter()
            index.rank(text)  # the matcher itself: a question never seen before
            match_ms.append((time.perf_counter() - t) * 1000)
    for text in texts * 2:  # the same questions again: answered from the result cache
        t = time.perf_counter()
        index.search(text)
        repeat_ms.append((time.perf_counter() - t) * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        url = database_url() if os.environ.get("DATABASE_URL") else f"sqlite:///{tmp}/bench.db"
        engine = create_db_engine(url)
        migrate(engine)
        conversation = Conversation(Store(engine), faq_index=index)
        turn_ms = []
        for i, text in enumerate(texts * 2):  # the second time round, the FAQ result is cached
            t = time.perf_counter()
            conversation.handle(Inbound("bench", f"user-{i % 50}", text=text))
            turn_ms.append((time.perf_counter() - t) * 1000)
        dev = evaluate(conversation, load_utterances("faq_devset.tsv"))
        held = evaluate(conversation, load_utterances("faq_heldout.tsv"))
        conversation.store.close()

    print(
        f"FAQ entries: {len(entries)}; phrasings indexed: {sum(len(e.questions) for e in entries)}"
    )
    print(
        f"index build: {build_ms:.0f} ms, peak Python memory while building {peak / 2**20:.1f} MiB"
    )
    print(
        f"match only, new question ({len(match_ms)} messages): "
        f"median {statistics.median(match_ms):.2f} ms, p99 {_percentile(match_ms, 99):.2f} ms; "
        f"a repeated question: median {statistics.median(repeat_ms) * 1000:.1f} µs"
    )
    print(
        f"full turn incl. database ({len(turn_ms)} messages, {url.split(':')[0]}): "
        f"median {statistics.median(turn_ms):.2f} ms, p99 {_percentile(turn_ms, 99):.2f} ms"
    )
    print(f"dev set top-1: {dev.correct}/{dev.total} = {dev.accuracy:.1%}")
    print(f"held-out top-1: {held.correct}/{held.total} = {held.accuracy:.1%}")


if __name__ == "__main__":
    main()
