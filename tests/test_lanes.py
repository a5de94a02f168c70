"""The lanes that order a user's events and run turns on threads (bot/adapters/lanes.py)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.adapters.lanes import UserLanes


async def test_work_runs_off_the_event_loop_and_its_result_comes_back() -> None:
    lanes = UserLanes(concurrent=4, threads=1)
    loop_thread = threading.get_ident()
    try:
        worker_thread = await lanes.run(threading.get_ident)
        assert worker_thread != loop_thread
        assert await lanes.run(lambda: 6 * 7) == 42
    finally:
        lanes.close()


async def test_an_exception_reaches_the_caller_and_the_thread_goes_on() -> None:
    lanes = UserLanes(concurrent=4, threads=1)

    def fail() -> None:
        raise LookupError("no such call")

    try:
        with pytest.raises(LookupError, match="no such call"):
            await lanes.run(fail)
        assert await lanes.run(lambda: "still here") == "still here"
    finally:
        lanes.close()


async def test_a_burst_is_settled_in_batches_in_order() -> None:
    """Jobs queued while the thread is busy are run together and handed back together."""
    lanes = UserLanes(concurrent=64, threads=1)
    gate = threading.Event()
    done: list[int] = []

    def job(i: int) -> int:
        if i == 0:
            gate.wait(5)  # hold the thread until everything else is queued
        done.append(i)
        return i

    try:
        first = asyncio.ensure_future(lanes.run(lambda: job(0)))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(lanes.run(lambda i=i: job(i))) for i in range(1, 50)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(first, *rest)
        assert results == list(range(50))
        assert done == list(range(50))
    finally:
        lanes.close()


async def test_one_users_events_run_in_arrival_order() -> None:
    lanes = UserLanes(concurrent=8, threads=2)
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
        assert seen.index(("U2", 1)) < seen.index(("U1", 1))  # other users do not wait
    finally:
        lanes.close()


async def test_close_stops_the_threads() -> None:
    lanes = UserLanes(concurrent=2, threads=2)
    await lanes.run(lambda: None)
    workers = [t for t in threading.enumerate() if t.name.startswith("turns-")]
    lanes.close()
    for worker in workers:
        worker.join(timeout=5)
    assert not any(t.is_alive() for t in workers)
