"""Token buckets for the web chat: how often one person, and one address, may write and sign up.

In memory, per process (a second process has its own buckets: the limits hold per process,
which is what keeps one script from filling a call or the thread pool). The clock is
injectable, so tests move time instead of sleeping.

The web chat's identity is a cookie the server issues, and a client without one is a new
person: the per-person buckets slow down a browser, the per-address ones a script that
drops its cookies. Sign-ups have their own, much slower, buckets.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """A bucket of ``burst`` tokens refilled at ``per_second``."""

    burst: float
    per_second: float


# A person may type quickly for a while (a form's answers, a few taps) but not for long; an
# address carries a household or a school behind one router, so three people's worth.
MESSAGES_PER_PERSON = Rate(burst=20, per_second=1.0)
MESSAGES_PER_ADDRESS = Rate(burst=60, per_second=3.0)
# Sign-ups take places other people wait for: three at once, then one every five minutes.
SIGN_UPS_PER_PERSON = Rate(burst=3, per_second=1 / 300)
SIGN_UPS_PER_ADDRESS = Rate(burst=3, per_second=1 / 300)
MAX_BUCKETS = 100_000  # beyond this the least recently used go (a fresh bucket is full anyway)


class TokenBuckets:
    """Buckets by (rate name, key), each refilled at its rate's pace. Safe between threads."""

    def __init__(
        self,
        rates: Mapping[str, Rate],
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self._rates = dict(rates)
        self._clock = clock
        self._max = max_buckets
        self._lock = threading.Lock()
        # (rate name, key) -> (tokens, when counted); least recently used first
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def take(self, *wanted: tuple[str, str]) -> float:
        """One token from each ``(rate name, key)`` bucket, all or none.

        Returns:
            0.0 when taken; otherwise (nothing taken) the seconds until every one of them
            holds a token again.
        """
        with self._lock:
            now = self._clock()
            levels = [(bucket, self._level(bucket, now)) for bucket in wanted]
            wait = max(
                ((1 - level) / self._rates[bucket[0]].per_second for bucket, level in levels),
                default=0.0,
            )
            if wait > 0:
                return wait
            for bucket, level in levels:
                self._buckets[bucket] = (level - 1, now)
                self._buckets.move_to_end(bucket)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
            return 0.0

    def _level(self, bucket: tuple[str, str], now: float) -> float:
        rate = self._rates[bucket[0]]
        kept = self._buckets.get(bucket)
        if kept is None:
            return rate.burst
        tokens, then = kept
        return min(rate.burst, tokens + max(0.0, now - then) * rate.per_second)


class ChatLimits:
    """The web chat's limits: messages and sign-ups, per person and per address."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_buckets: int = MAX_BUCKETS
    ) -> None:
        self._buckets = TokenBuckets(
            {
                "message:person": MESSAGES_PER_PERSON,
                "message:address": MESSAGES_PER_ADDRESS,
                "sign_up:person": SIGN_UPS_PER_PERSON,
                "sign_up:address": SIGN_UPS_PER_ADDRESS,
            },
            clock,
            max_buckets,
        )

    def message(self, person: str, address: str) -> float:
        """Take a message's tokens: 0.0, or the seconds to wait (nothing taken)."""
        return self._buckets.take(("message:person", person), ("message:address", address))

    def sign_up(self, person: str, address: str) -> bool:
        """Whether a sign-up may be stored now (its tokens are taken if so)."""
        return self._buckets.take(("sign_up:person", person), ("sign_up:address", address)) == 0
