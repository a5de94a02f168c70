"""Answering webhook events from the durable inbox (storage/inbox.py), for LINE and Telegram.

A webhook hands its events to :meth:`InboxDrainer.accept`, which stores them (one committed
insert) before the webhook answers 200. While this process has room, the stored events come
back leased to it and are answered at once, without another round trip; past
``MAX_IN_FLIGHT`` they are stored unleased and wait in the table, not in memory, and the
drainer takes them in order as room frees up. The drainer also takes what an earlier process
left: events of a process that died (their lease runs out), events whose turn failed.

Answered events are marked done in bulk, a moment later (one statement for all that finished
meanwhile). A crash before that loses nothing: the event is taken again and its turn finds
its id already claimed (``processed_events``), so nobody is answered twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress

from bot.adapters.lanes import BatchThread
from storage import database_unavailable
from storage.inbox import StoredEvent
from storage.store import Store

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 400  # events held in memory at once (about a second of work)
IDLE_CHECK = 5.0  # seconds between looks for events left by others (a crashed process)
MAX_ATTEMPTS = 5  # a turn that failed this often is given up (and logged)
RETRY_AFTER = 1.0  # seconds before a failed turn is taken again
MAX_PUTS = 256  # webhooks stored in one transaction

Put = tuple[str, Sequence[tuple[str, str]], bool]


class InboxDrainer:
    """Stores the events of one platform and answers them with ``answer``."""

    def __init__(
        self,
        store: Store,
        platform: str,
        answer: Callable[[StoredEvent], Awaitable[None]],
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._store = store
        # Every webhook waiting when the writer comes free is stored in one transaction (one
        # commit, one wake-up of the loop): under load, a commit per batch, not per webhook.
        self._writer: BatchThread[Put, list[StoredEvent]] = BatchThread(
            lambda puts: self._store.put_inbox_many(puts), max_batch=MAX_PUTS, name="inbox-writer"
        )
        self._platform = platform
        self._answer = answer
        self._max = max_in_flight
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        # Room promised but not yet filled: the drainer's take and the webhooks' leased
        # stores run in threads, and what one reckoned free the other may not take too.
        self._reserved = 0
        self._done: list[int] = []
        self._released: list[int] = []
        self._flushing: asyncio.Task[None] | None = None
        # Events stored unleased wait for the drainer; while any may, new events wait too,
        # or a user's newer message could be answered before their older one.
        self._backlog = False
        self._closing = False
        self._unleased_puts = 0  # stores of unleased events in progress
        self._unleased_generation = 0  # stores of unleased events begun, ever

    @property
    def in_flight(self) -> int:
        """Events held in memory now."""
        return len(self._in_flight)

    def start(self) -> None:
        """Begin draining (also what an earlier process left unfinished)."""
        self._closing = False
        self._task = asyncio.create_task(self._run())
        self._wake.set()

    async def accept(self, events: Sequence[tuple[str, str]]) -> None:
        """Store ``(event_id, body)`` pairs, committed, and answer them when there is room.

        Raises what the database raised: the caller answers non-2xx (nothing was stored)."""
        if not events:
            return
        lease = not self._backlog and len(self._in_flight) + self._reserved < self._max
        if lease:
            self._reserved += len(events)
        else:
            self._backlog = True
            self._unleased_puts += 1
            self._unleased_generation += 1
        try:
            taken = await self._writer.run((self._platform, events, lease))
        finally:
            if lease:
                self._reserved -= len(events)
            else:
                self._unleased_puts -= 1
        if lease:
            for event in taken:
                self._begin(event)
        else:
            self._wake.set()

    async def close(self, grace: float = 10.0) -> None:
        """Stop taking events, let those in hand finish (up to ``grace`` seconds), give back
        the rest and note what is done. Events not taken stay in the table."""
        # A flag as well as the cancel: on Python 3.11, asyncio.wait_for can swallow a
        # cancel that arrives as its inner wait ends (gh-86296), and the loop would run on.
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=grace)
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace)
        for task in list(self._in_flight.values()):
            task.cancel()
        with suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*self._in_flight.values(), return_exceptions=True), grace
            )
        # Bounded: a shutdown never hangs on the database. What is not noted as finished
        # here keeps its lease and is taken again (the turn's claim makes that harmless).
        if self._flushing is not None:
            with suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._flushing), grace)
        with suppress(TimeoutError):
            await asyncio.wait_for(self._flush(), grace)
        self._writer.close()

    async def drain_once(self) -> int:
        """Take every due event there is room for and answer it; returns how many were
        taken. (The drainer's loop does this when woken; tests call it.)"""
        taken = 0
        while True:
            room = self._max - len(self._in_flight) - self._reserved
            if room <= 0:
                return taken  # an event that finishes (or is stored) wakes the drainer
            quiet = self._unleased_puts == 0
            generation = self._unleased_generation
            self._reserved += room
            try:
                events = await asyncio.to_thread(self._store.take_inbox, self._platform, room)
            finally:
                self._reserved -= room
            for event in events:
                self._begin(event)
            taken += len(events)
            if len(events) < room:
                if quiet and generation == self._unleased_generation:
                    self._backlog = False  # nothing left behind: new events go straight in
                return taken

    async def settle(self) -> None:
        """Wait until the events in hand are answered and noted (tests, benchmarks)."""
        while self._in_flight or self._flushing is not None:
            if self._in_flight:
                await asyncio.wait(list(self._in_flight.values()))
            if self._flushing is not None:
                await self._flushing

    def _begin(self, event: StoredEvent) -> None:
        self._in_flight[event.id] = asyncio.create_task(self._answer_one(event))

    async def _answer_one(self, event: StoredEvent) -> None:
        try:
            await self._answer(event)
        except asyncio.CancelledError:  # closing: give it back for the next start
            self._released.append(event.id)
            raise
        except Exception as exc:
            # A database that is away (a full disk, a failover) is waited out, however long;
            # only an event that fails by itself (a bug it triggers) is given up.
            if event.attempts >= MAX_ATTEMPTS and not database_unavailable(exc):
                log.error("giving up on %s event %s", self._platform, event.event_id,
                          exc_info=exc)  # fmt: skip
                self._done.append(event.id)
            else:
                log.warning("%s event %s failed; it will be tried again", self._platform,
                            event.event_id, exc_info=exc)  # fmt: skip
                self._released.append(event.id)
                self._backlog = True  # it is due again: later events of its user wait
                asyncio.get_running_loop().call_later(RETRY_AFTER, self._wake.set)
        else:
            self._done.append(event.id)
        finally:
            self._in_flight.pop(event.id, None)
            if self._flushing is None:
                self._flushing = asyncio.create_task(self._flush_soon())
            if self._backlog and len(self._in_flight) <= self._max // 2:
                self._wake.set()

    async def _flush_soon(self) -> None:
        try:
            await asyncio.sleep(0)  # let the other turns that finish now join this one
            await self._flush()
        finally:
            self._flushing = None
        if self._done or self._released:  # they came while this flush ran
            self._flushing = asyncio.create_task(self._flush_soon())

    async def _flush(self) -> None:
        done, released = self._done, self._released
        self._done, self._released = [], []
        if not done and not released:
            return
        try:
            await asyncio.to_thread(self._store.finish_inbox, done, released)
        except Exception:
            # Not noted: the leases run out and the events are taken again; their turns are
            # claimed already, so nothing is answered twice.
            log.exception("%s inbox: could not note %d events", self._platform, len(done))

    async def _run(self) -> None:
        idle = True  # at start, and whenever IDLE_CHECK passes without a wake-up
        while not self._closing:
            if idle:
                await self._take_over_dead()
            idle = False
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=IDLE_CHECK)
            except TimeoutError:
                idle = True
            if self._closing:
                return
            self._wake.clear()
            try:
                await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: the events wait; look again soon
                log.exception("%s inbox: could not take events", self._platform)
                await asyncio.sleep(1.0)

    async def _take_over_dead(self) -> None:
        """Free the leases of processes on this machine that died (the others' run out)."""
        try:
            freed = await asyncio.to_thread(self._store.take_over_dead, self._platform)
        except Exception:  # the leases run out by themselves
            log.exception("%s inbox: could not look for dead processes", self._platform)
            return
        if freed:
            log.info("%s inbox: took over %d events of a process that died", self._platform,
                     freed)  # fmt: skip
            self._wake.set()
