"""``python -m bot worker``: the day-before reminders, delivery of the outbox, and once an hour
the retention purge (``storage.retention``: delivered notices, webhook events, idle
conversations and unanswered questions older than ``RETENTION_DAYS``).

Safe to run twice: a reminder is enqueued under a unique key (``remind:<sign-up>:<start>``), and a
message is claimed with a conditional UPDATE before it is sent, so two workers never send the
same message. After downtime it catches up: every sign-up whose activity has not started and
whose reminder time has passed gets its reminder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from intents.conversation import Conversation
from intents.notices import remind_at, reminder_body
from intents.openings import PULL_PLATFORMS
from storage.call_changes import reminder_key
from storage.models import utcnow
from storage.outbox import Delivery
from storage.retention import DEFAULT_RETENTION_DAYS
from storage.samples import keep_sample_calls_ahead

log = logging.getLogger(__name__)

LOOK_AHEAD = timedelta(hours=36)  # reminders are due from 18:00 the day before
MAX_BACKOFF = timedelta(hours=1)
BACKOFF_BASE = 15.0  # seconds before the second try; doubled for each try after it
BACKOFF_JITTER = 5.0  # seconds, at most, added at random (workers do not retry in step)
MAX_ATTEMPTS = 12  # about four hours of tries (the backoff stops growing at an hour)
CLAIM_BATCH = 1000
PRUNE_EVERY = 3600.0  # seconds between prunes of the inbox and retention purges
MULTICAST_MAX = 500  # LINE's limit of recipients per multicast


class DeliveryError(Exception):
    """A platform refused or failed a push. ``retry`` says whether trying later may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Sender(Protocol):
    """Pushes one outbox message (a JSON body: text and choices) to one user on a platform."""

    async def push(self, platform_user_id: str, body: dict[str, Any], retry_key: str) -> None:
        """Deliver, or raise :class:`DeliveryError`."""
        ...


@dataclass
class Worker:
    """One worker process's loop; several may run against the same database."""

    conversation: Conversation
    senders: dict[str, Sender] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS)  # Settings.retention_days

    async def run_once(self) -> dict[str, int]:
        """Enqueue due reminders, then deliver due messages. Returns counts."""
        now = self.clock()
        queued = await asyncio.to_thread(self._enqueue_reminders, now)
        sent, failed = await self._deliver(now)
        return {"reminders_queued": queued, "sent": sent, "failed": failed}

    async def run_forever(self, interval: float = 30.0) -> None:
        """Loop until cancelled; once an hour, :meth:`prune`."""
        pruned_at = 0.0
        while True:
            try:
                counts = await self.run_once()
                if any(counts.values()):
                    log.info("worker: %s", counts)
                if time.monotonic() - pruned_at > PRUNE_EVERY:
                    pruned_at = time.monotonic()
                    await self.prune()
            except Exception:  # keep the worker alive; the next round retries
                log.exception("worker round failed")
            await asyncio.sleep(interval)

    async def prune(self) -> int:
        """Forget answered inbox events older than a week (storage.inbox.KEEP_DONE), and
        whatever the retention period has passed for (storage.retention); move begun sample
        calls forward (storage.samples). Returns how many rows went."""
        store, now = self.conversation.store, self.clock()
        answered = await asyncio.to_thread(store.prune_inbox, now)
        purged = await asyncio.to_thread(store.purge_expired, now, self.retention)
        moved = await asyncio.to_thread(keep_sample_calls_ahead, store, now)
        if moved:
            log.info("worker: moved %d begun sample calls forward by whole weeks", moved)
        if answered or purged.total:
            log.info("worker: forgot %d answered inbox events; retention: %s", answered, purged)
        return answered + purged.total

    def _enqueue_reminders(self, now: datetime) -> int:
        store, messages = self.conversation.store, self.conversation.messages
        queued = 0
        for sign_up_id, user_id, call, locale in store.reminders_due(now, now + LOOK_AHEAD):
            if now < remind_at(call.starts_at):
                continue
            body = reminder_body(messages, locale, call)
            # Keyed by the start too: a call moved after its reminder went out gets a new one.
            # Due from the worker's now, not the wall clock's (the same clock decides it is due).
            key = reminder_key(sign_up_id, call.starts_at)
            if store.enqueue(user_id, body, dedupe_key=key, deliver_after=now):
                queued += 1
        return queued

    async def _deliver(self, now: datetime) -> tuple[int, int]:
        platforms = tuple(p for p in self.senders if p not in PULL_PLATFORMS)
        if not platforms:
            return 0, 0
        store = self.conversation.store
        claimed = await asyncio.to_thread(store.claim_due, platforms, now, CLAIM_BATCH)
        # The same body to many people (a broadcast) goes out as one multicast per 500 where
        # the platform has it (LINE); everything else one push at a time. A chunk that failed
        # is retried as the same chunk (its messages have the same tries and the same next
        # time), so it is sent with the same retry key: LINE drops it if it had arrived.
        batches: dict[tuple[str, str, int], list[Delivery]] = {}
        for message in claimed:
            batches.setdefault((message.platform, message.body, message.attempts), []).append(
                message
            )
        sent = failed = 0
        for (platform, body, _), items in batches.items():
            sender = self.senders[platform]
            multicast = getattr(sender, "multicast", None)
            # A notice that changes someone's rich menu goes to each alone (push switches it).
            if multicast is not None and len(items) > 1 and not _switches_menu(body):
                for n in range(0, len(items), MULTICAST_MAX):
                    chunk = items[n : n + MULTICAST_MAX]
                    key = "outbox-" + ",".join(str(m.id) for m in chunk)
                    try:
                        await multicast([m.platform_user_id for m in chunk], json.loads(body), key)
                    except DeliveryError as exc:
                        failed += len(chunk)
                        await self._settle_failure(chunk, exc, now)
                        continue
                    sent += len(chunk)
                    await asyncio.to_thread(store.mark_delivered, [m.id for m in chunk], now)
                continue
            for message in items:
                try:
                    await sender.push(
                        message.platform_user_id, json.loads(message.body), f"outbox-{message.id}"
                    )
                except DeliveryError as exc:
                    failed += 1
                    await self._settle_failure([message], exc, now)
                    continue
                sent += 1
                await asyncio.to_thread(store.mark_delivered, [message.id], now)
        return sent, failed

    async def _settle_failure(
        self, messages: list[Delivery], exc: DeliveryError, now: datetime
    ) -> None:
        """A retryable failure: due again after a backoff (the same for the whole chunk);
        a permanent one (blocked, bad id, a message the platform refuses) or one too many:
        failed, kept for the console, never marked delivered."""
        store = self.conversation.store
        attempts = messages[0].attempts
        if exc.retry and attempts < MAX_ATTEMPTS:
            backoff = min(MAX_BACKOFF, timedelta(seconds=BACKOFF_BASE * 2 ** (attempts - 1)))
            jitter = timedelta(seconds=random.uniform(0, BACKOFF_JITTER))  # noqa: S311
            ids = [m.id for m in messages]
            await asyncio.to_thread(store.mark_failed, ids, str(exc), now + backoff + jitter)
            return
        log.warning("giving up on outbox %s: %s", [m.id for m in messages], exc)
        await asyncio.to_thread(store.give_up, [m.id for m in messages], str(exc), now)


def _switches_menu(body: str) -> bool:
    """Whether an outbox body also changes the person's rich menu (``{"rich_menu": …}``)."""
    return bool(json.loads(body).get("rich_menu"))
