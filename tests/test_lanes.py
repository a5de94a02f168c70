"""The lanes that order a user's events and answer them in batches (bot/adapters/lanes.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from bot.adapters.lanes import UserLanes

Job = Callable[[], object]


def each(jobs: list[Job]) -> list[object | Exception]:
    """An ``answer_many`` that runs each job, keeping what it raised in its place."""
    out: list[object | Exception] = []
    for job in jobs:
        try:
            out.append(job())
        except Exception as exc:
            out.append(exc)
    return out


async def test_work_runs_off_the_event_loop_and_its_result_comes_back() -> None:
    lanes: UserLanes[Job, object] = UserLanes(each)
    try:
        assert await lanes.run(threading.get_ident) != threading.get_ident()
        assert await lanes.run(lambda: 6 * 7) == 42
    finally:
        lanes.close()


async def test_an_exception_reaches_only_its_caller() -> None:
    lanes: UserLanes[Job, object] = UserLanes(each)

    def fail() -> None:
        raise LookupError("no such call")

    try:
        outcomes = await asyncio.gather(
            lanes.run(fail), lanes.run(lambda: "fine"), return_exceptions=True
        )
        assert isinstance(outcomes[0], LookupError)
        assert outcomes[1] == "fine"
        assert await lanes.run(lambda: "still here") == "still here"
    finally:
        lanes.close()


async def test_a_failing_batch_fails_each_of_its_callers() -> None:
    def broken(_jobs: list[Job]) -> list[object | Exception]:
        raise ConnectionError("database gone")

    lanes: UserLanes[Job, object] = UserLanes(broken)
    try:
        outcomes = await asyncio.gather(
            *(lanes.run(lambda: None) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(o, ConnectionError) for o in outcomes)
    finally:
        lanes.close()


async def test_what_waits_while_the_thread_is_busy_is_answered_in_one_batch() -> None:
    gate = threading.Event()
    batches: list[list[int]] = []

    def answer_many(items: list[int]) -> list[int | Exception]:
        if items == [0]:
            gate.wait(5)  # hold the thread until everything else is queued
        batches.append(items)
        return [i * 10 for i in items]

    lanes: UserLanes[int, int] = UserLanes(answer_many)
    try:
        first = asyncio.ensure_future(lanes.run(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(lanes.run(i)) for i in range(1, 50)]
        await asyncio.sleep(0.05)
        gate.set()
        assert await asyncio.gather(first, *rest) == [i * 10 for i in range(50)]
        assert batches == [[0], list(range(1, 50))]
    finally:
        lanes.close()


async def test_one_users_events_run_in_arrival_order() -> None:
    lanes: UserLanes[Job, object] = UserLanes(each, threads=2)
    seen: list[tuple[str, int]] = []

    async def event(user: str, n: int, work_s: float) -> None:
        async with lanes.turn(user):
            await lanes.run(lambda: time.sleep(work_s))
            seen.append((user, n))

    try:
        # The first event of U1 is slow; its second must still come after it.
        await asyncio.gather(
            event("U1", 1, 0.1), event("U1", 2, 0.0), event("U2", 1, 0.0), event("U1", 3, 0.0)
        )
        assert [n for u, n in seen if u == "U1"] == [1, 2, 3]
        assert ("U2", 1) in seen
    finally:
        lanes.close()


async def test_close_stops_the_threads() -> None:
    lanes: UserLanes[Job, object] = UserLanes(each, threads=2)
    await lanes.run(lambda: None)
    workers = [t for t in threading.enumerate() if t.name.startswith("turns-")]
    lanes.close()
    for worker in workers:
        worker.join(timeout=5)
    assert not any(t.is_alive() for t in workers)


@pytest.mark.parametrize("threads", [1, 3])
async def test_every_item_gets_its_own_answer(threads: int) -> None:
    lanes: UserLanes[int, int] = UserLanes(lambda xs: [x + 1 for x in xs], threads)
    try:
        assert await asyncio.gather(*(lanes.run(i) for i in range(500))) == list(range(1, 501))
    finally:
        lanes.close()
