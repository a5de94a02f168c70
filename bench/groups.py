"""Prints how fast ``find_groups`` answers with 20,000 groups, on SQLite and PostgreSQL.

End to end: routing (field and place matching) + the ranked database query + rendering, through
``Conversation.handle``. Run with ``make bench``; figures only, no pass/fail. PostgreSQL is used
when ``TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test) answers.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intents.conversation import Conversation
from intents.types import Inbound
from knowledge.fields import FieldIndex
from storage import Store, create_db_engine, migrate
from storage.store import GroupRecord
from tests.helpers import throwaway_postgres

GROUPS = 20_000
QUERIES = [
    "大船駅の近くで子ども関係の団体",
    "由比ヶ浜でごみ拾いしてる団体を探してます",
    "北鎌倉でお祭りを手伝える団体",
    "腰越で国際交流のグループある？",
    "湘南深沢駅のあたりで高齢者の見守りの団体",
    "玉縄で防災の団体",
    "ｵｵﾌﾅで介護のボランティア団体",
    "鎌倉山で環境の団体を紹介して",
    "七里ヶ浜でビーチクリーンの団体",
    "材木座で子ども食堂をやってる団体",
]
AREAS = ["kamakura", "koshigoe", "fukasawa", "ofuna", "tamanawa"]


def _directory(fields: list[str]) -> list[GroupRecord]:
    rng = random.Random(2019)
    weights = [rng.random() ** 2 + 0.05 for _ in fields]
    records = []
    for i in range(GROUPS):
        areas = () if rng.random() < 0.1 else tuple(rng.sample(AREAS, rng.choice((1, 1, 2))))
        records.append(
            GroupRecord(
                key=f"bench-{i:05d}",
                name=f"ベンチ団体{i:05d}",
                description="ベンチマーク用に生成した団体です。" * 3,
                fields=tuple(set(rng.choices(fields, weights, k=rng.choice((1, 2, 3))))),
                areas=areas,
                contact=f"bench-{i}@example.jp",
                welcomes_newcomers=rng.random() < 0.7,
                welcomes_young=rng.random() < 0.3,
                verified=rng.random() < 0.95,
            )
        )
    return records


@contextmanager
def _postgres() -> Iterator[str | None]:
    admin = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError:
        yield None
        return
    with throwaway_postgres(admin, prefix="tsunagaru_bench") as url:
        yield url


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(url: str, label: str, records: list[GroupRecord]) -> None:
    """Load the directory into ``url`` and time queries."""
    engine = create_db_engine(url)
    migrate(engine)
    store = Store(engine)
    t = time.perf_counter()
    store.import_groups(records)
    load_s = time.perf_counter() - t
    conversation = Conversation(store)
    for i, q in enumerate(QUERIES):  # warm caches and connections
        conversation.handle(Inbound("bench", f"warm-{i}", text=q))
    turn_ms: list[float] = []
    query_ms: list[float] = []
    for i in range(60):
        for j, q in enumerate(QUERIES):
            t = time.perf_counter()
            reply = conversation.handle(Inbound("bench", f"user-{j}", text=q))
            turn_ms.append((time.perf_counter() - t) * 1000)
            if reply.intent != "find_groups":
                raise SystemExit(f"{q!r} routed to {reply.intent}, not find_groups")
        area = AREAS[i % 5]
        t = time.perf_counter()
        store.find_groups("children", area, (AREAS[(i + 1) % 5],), limit=5)
        query_ms.append((time.perf_counter() - t) * 1000)
    print(
        f"{label}: {GROUPS:,} groups loaded in {load_s:.1f} s; "
        f"find_groups end to end ({len(turn_ms)} messages): "
        f"median {statistics.median(turn_ms):.1f} ms, p99 {_pct(turn_ms, 99):.1f} ms; "
        f"ranked query alone: median {statistics.median(query_ms):.1f} ms, "
        f"p99 {_pct(query_ms, 99):.1f} ms"
    )
    store.close()


def main() -> None:
    """Both backends, the same generated directory."""
    records = _directory([f.code for f in FieldIndex.load().fields])
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "SQLite", records)
    with _postgres() as url:
        if url is None:
            print("PostgreSQL: not reachable, skipped")
        else:
            run(url, "PostgreSQL", records)


if __name__ == "__main__":
    main()
