"""One lane per user, and the threads that run the turns.

A user's events run in the order they arrived, a few users at a time. A turn is blocking code
(the database), so it runs off the event loop, on a few threads that hand their results back
in batches: under load one wake-up of the loop settles many turns, where ``asyncio.to_thread``
costs an executor hand-off and a wake-up for each.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[Callable[[], Any], asyncio.Future[Any]]
_STOP = None


class UserLanes:
    """Orders work per user, bounds how many turns wait for a thread, and runs them.

    A burst of webhooks must not become hundreds of threads fighting for the database, and a
    user who sends 「/start」 and a question must get the answers in that order.
    """

    def __init__(self, concurrent: int, threads: int = 1) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._locks: dict[str, asyncio.Lock] = {}
        self._threads = threads
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []

    @asynccontextmanager
    async def turn(self, user_key: str) -> AsyncIterator[None]:
        """Wait for this user's earlier events (asyncio locks are first come, first served):
        their replies go out in order."""
        lock = self._locks.setdefault(user_key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(user_key) is lock:
                del self._locks[user_key]

    async def run(self, work: Callable[[], T]) -> T:
        """Run blocking ``work`` on one of the lanes' threads and wait for its result."""
        if not self._workers:
            self._start(asyncio.get_running_loop())
        async with self._slots:  # a slot is held while the work waits or runs, not afterwards
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            self._jobs.put((work, future))
            return await future

    def close(self) -> None:
        """Let the threads finish the jobs already queued, then stop."""
        for _ in self._workers:
            self._jobs.put(_STOP)
        self._workers = []

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        for i in range(self._threads):
            worker = threading.Thread(
                target=self._serve, args=(loop,), name=f"turns-{i}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            job = self._jobs.get()
            batch: list[tuple[asyncio.Future[Any], bool, Any]] = []
            while job is not _STOP:
                work, future = job
                try:
                    batch.append((future, True, work()))
                except BaseException as exc:  # handed to the awaiting coroutine
                    batch.append((future, False, exc))
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
            if batch:
                with suppress(RuntimeError):  # the loop has closed: nobody is waiting
                    loop.call_soon_threadsafe(_settle, batch)
            if job is _STOP:
                return


def _settle(batch: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in batch:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
