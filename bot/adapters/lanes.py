"""One lane per user, and the threads that answer the messages in batches.

A user's events run in the order they arrived, many users at a time. Answering is blocking
code (the database), so it runs off the event loop, on a thread. The thread takes every
message waiting when it comes free and answers them together (``Conversation.handle_many``:
one transaction to begin them and one to end them), then hands all the replies back with one
wake-up of the loop. Under load that is what keeps up: ``asyncio.to_thread`` costs an
executor hand-off and a wake-up per message, and a commit per message cost more on SQLite
than answering the question.

One thread by default, on both databases: SQLite runs one transaction at a time anyway, and
on PostgreSQL one thread makes the biggest batches (the most messages per statement) and
measured faster than two or four (the GIL runs one thread's Python at a time). A statement
that waits holds up this process's conversations: the turn pool's statement_timeout bounds
that (storage.db.create_turn_engine).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 64  # messages answered together; a bigger batch only delays its first reply


class BatchThread(Generic[T, R]):
    """Answers items on a thread (or threads) of its own, in batches: a thread that comes
    free takes every item waiting (up to ``max_batch``) and hands all the results back with
    one wake-up of the event loop.

    ``answer_many`` gets the waiting items in order and returns one result per item: the
    answer, or the exception that item raised. If it raises, every item of the batch fails
    with that exception.
    """

    def __init__(
        self,
        answer_many: Callable[[list[T]], Sequence[R | Exception]],
        threads: int = 1,
        max_batch: int = MAX_BATCH,
        name: str = "batch",
    ) -> None:
        self._answer_many = answer_many
        self._threads = threads
        self._max_batch = max_batch
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[T, asyncio.Future[R]] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []

    async def run(self, item: T) -> R:
        """Answer ``item`` on one of the threads; raises what answering it raised."""
        # No semaphore in front: the threads are few and fixed, and a backlog waits in the
        # queue (asyncio.Semaphore scans its waiters on every acquire: slow under load).
        if not self._workers:
            self._start(asyncio.get_running_loop())
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._jobs.put((item, future))
        return await future

    def close(self) -> None:
        """Let the threads answer what is already queued, then stop."""
        for _ in self._workers:
            self._jobs.put(None)
        self._workers = []

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        for i in range(self._threads):
            worker = threading.Thread(
                target=self._serve, args=(loop,), name=f"{self._name}-{i}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        stop = False
        while not stop:
            job = self._jobs.get()
            batch: list[tuple[T, asyncio.Future[R]]] = []
            while job is not None:
                batch.append(job)
                if len(batch) == self._max_batch:
                    break
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
            stop = job is None
            if not batch:
                continue
            futures = [future for _, future in batch]
            results: Sequence[R | Exception]
            try:
                results = self._answer_many([item for item, _ in batch])
            except Exception as exc:  # handed to every waiting coroutine
                results = [exc] * len(batch)
            with suppress(RuntimeError):  # the loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, futures, results)


class UserLanes(BatchThread[T, R]):
    """Orders work per user (:meth:`turn`) and answers it on its thread, in batches."""

    def __init__(
        self,
        answer_many: Callable[[list[T]], Sequence[R | Exception]],
        threads: int = 1,
    ) -> None:
        super().__init__(answer_many, threads, name="turns")
        self._locks: dict[str, asyncio.Lock] = {}

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


def _settle(futures: list[asyncio.Future[R]], results: Sequence[R | Exception]) -> None:
    for future, result in zip(futures, results, strict=True):
        if future.cancelled():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)
