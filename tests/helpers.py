"""Small helpers shared by tests."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
# The guideline's text is not part of the repository: the tests that compare the FAQ with it read
# it from this setting (README, Configuration) and are skipped without it.
GUIDELINE_SETTING = "TSUNAGARU_GUIDELINE"
SMALLTALK = {"greeting", "thanks", "help"}
# Labels naming another intent: 「高校生でもできるボランティアある？」 wants openings.
OTHER_INTENTS = {"find_openings", "find_groups"}


@dataclass(frozen=True)
class Utterance:
    expected: str
    style: str
    text: str


def load_utterances(name: str) -> list[Utterance]:
    """A TSV of ``expected<TAB>style<TAB>utterance`` rows under tests/data."""
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Utterance(r["expected"], r["style"], r["utterance"]) for r in rows]


@dataclass
class Evaluation:
    """How a set of utterances routed: correct count, misses and off-topic false answers."""

    total: int = 0
    correct: int = 0
    misses: list[tuple[Utterance, str]] | None = None
    false_answers: list[tuple[Utterance, str]] | None = None

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def report(self) -> str:
        lines = [f"top-1 {self.correct}/{self.total} = {self.accuracy:.1%}"]
        lines += [
            f"  MISS [{u.style}] {u.text!r}: expected {u.expected}, got {g}"
            for u, g in self.misses or []
        ]
        return "\n".join(lines)


def evaluate(conversation: object, utterances: list[Utterance]) -> Evaluation:
    """Route every utterance as a fresh user and compare with the expected label."""
    from intents.conversation import Conversation
    from intents.types import Inbound

    assert isinstance(conversation, Conversation)
    result = Evaluation(misses=[], false_answers=[])
    for i, u in enumerate(utterances):
        reply = conversation.handle(Inbound("test", f"eval-{i}", text=u.text))
        got = reply.slots.get("faq_id", reply.intent) if reply.intent == "faq" else reply.intent
        result.total += 1
        if got == u.expected:
            result.correct += 1
            continue
        assert result.misses is not None
        assert result.false_answers is not None
        result.misses.append((u, got))
        if u.expected == "fallback" and reply.intent == "faq":
            result.false_answers.append((u, got))
    return result


def in_threads(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in n threads released at the same instant (real concurrency)."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def open_call(
    store: Any,
    rep_user: tuple[str, str] = ("test", "rep"),
    *,
    title: str = "浜そうじ",
    capacity: int = 5,
    days_ahead: int = 3,
) -> tuple[int, int]:
    """A verified group 「海の会」 (key ``umi``), a representative linked by invite code, and
    one open call; returns (representative's user id, call id)."""
    from datetime import UTC, datetime, timedelta

    from storage.openings import CallDraft
    from storage.store import GroupRecord

    store.import_groups(
        [GroupRecord("umi", "海の会", fields=("environment",), areas=("kamakura",))]
    )
    rep = store.touch_user(*rep_user, "ja").id
    code, _ = store.issue_invite("umi")
    assert store.redeem_invite(rep, code)[0] == "linked"
    start = datetime.now(UTC) + timedelta(days=days_ahead)
    draft = CallDraft(title, "ごみ拾い", "environment", "kamakura", "由比ガ浜", "駅前",
                      start, start + timedelta(hours=2), capacity)  # fmt: skip
    call_id = store.create_call(rep, store.represented_groups(rep)[0][0], draft)
    assert call_id is not None
    return rep, call_id


@contextmanager
def throwaway_postgres(admin_url: str, prefix: str = "tsunagaru_test") -> Iterator[str]:
    """A new, empty PostgreSQL database on the server at ``admin_url``, dropped afterwards."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from storage import database_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(database_url({"DATABASE_URL": admin_url})).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def told(store: Any, user_id: int) -> list[str]:
    """The texts in the outbox for one user (delivered or not), oldest first."""
    import json

    from sqlmodel import col, select

    from storage.models import OutboxMessage

    with store.session() as s:
        rows = s.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.user_id) == user_id)
            .order_by(col(OutboxMessage.id))
        ).all()
        return [json.loads(r.body)["text"] for r in rows]


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, within: float = 60.0) -> None:
    """Until a server listens on the loopback port (a ``python -m bot serve`` starting)."""
    deadline = time.time() + within
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)


@contextmanager
def serving(database_url: str, **env: str) -> Iterator[str]:
    """``python -m bot serve`` on a free loopback port, as `make run` starts it (its base URL),
    stopped at the end; ``env`` adds settings (``SAMPLE_GROUPS="0"``)."""
    port = free_port()
    settings = {**os.environ, "DATABASE_URL": database_url, "NO_PROXY": "127.0.0.1,localhost",
                **env}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1], env=settings,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
