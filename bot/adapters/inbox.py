"""Answering webhook events from the durable inbox (storage/inbox.py), for LINE and Telegram.

A webhook stores its events and answers 200; one drainer per process then takes what is due
(its own new events, events another process left behind when it died, events whose turn
failed) in batches, answers them through the adapter, and marks them done. Work held in
memory is one batch: past it, events wait in the table, not in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

from storage.inbox import StoredEvent
from storage.store import Store

log = logging.getLogger(__name__)

BATCH = 200  # events taken at once: the bound on work held in memory
IDLE_CHECK = 5.0  # seconds between looks for events left by others (a crashed process)
MAX_ATTEMPTS = 5  # a turn that failed this often is given up (and logged)


class InboxDrainer:
    """Takes due events of one platform and answers them with ``answer``."""

    def __init__(
        self, store: Store, platform: str, answer: Callable[[StoredEvent], Awaitable[None]]
    ) -> None:
        self._store = store
        self._platform = platform
        self._answer = answer
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin draining (also what an earlier process left unfinished)."""
        self._task = asyncio.create_task(self._run())
        self._wake.set()

    def wake(self) -> None:
        """New events were stored."""
        self._wake.set()

    async def close(self, grace: float = 10.0) -> None:
        """Stop after the batch in hand (events not taken stay in the table)."""
        if self._task is None:
            return
        self._task.cancel()
        with suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._task, timeout=grace)

    async def drain_once(self) -> int:
        """Answer every due event, batch by batch; returns how many were taken."""
        taken = 0
        while True:
            events = await asyncio.to_thread(self._store.take_inbox, self._platform, None, BATCH)
            if not events:
                return taken
            taken += len(events)
            outcomes = await asyncio.gather(
                *(self._answer(e) for e in events), return_exceptions=True
            )
            done = []
            for event, outcome in zip(events, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    done.append(event.id)
                elif event.attempts >= MAX_ATTEMPTS:
                    log.error("giving up on %s event %s", self._platform, event.event_id,
                              exc_info=outcome)  # fmt: skip
                    done.append(event.id)
                else:
                    log.warning("%s event %s failed; it will be tried again", self._platform,
                                event.event_id, exc_info=outcome)  # fmt: skip
                    await asyncio.to_thread(self._store.release_inbox, event.id)
            await asyncio.to_thread(self._store.finish_inbox, done)

    async def _run(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=IDLE_CHECK)
            self._wake.clear()
            try:
                await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: the events wait; look again soon
                log.exception("%s inbox: could not take events", self._platform)
                await asyncio.sleep(1.0)
