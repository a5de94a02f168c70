"""One lane per user: a user's events run in the order they arrived, a few users at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class UserLanes:
    """Orders work per user and bounds how many turns run at once.

    A burst of webhooks must not become hundreds of threads fighting for the database, and a
    user who sends 「/start」 and a question must get the answers in that order.
    """

    def __init__(self, concurrent: int) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def turn(self, user_key: str) -> AsyncIterator[None]:
        """Wait for this user's earlier events (asyncio locks are first come, first served)
        and for a free slot."""
        lock = self._locks.setdefault(user_key, asyncio.Lock())
        try:
            async with lock, self._slots:
                yield
        finally:
            if not lock.locked() and self._locks.get(user_key) is lock:
                del self._locks[user_key]
