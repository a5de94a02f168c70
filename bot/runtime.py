"""Builds the conversation core on a migrated database; shared by the CLI and the server."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.directory_csv import load_sample_calls, load_samples_if_empty
from intents.conversation import Conversation
from storage import Store, create_db_engine, migrate
from storage.models import utcnow
from storage.samples import keep_sample_calls_ahead

log = logging.getLogger(__name__)


def open_conversation(settings: Settings) -> Conversation:
    """Connect, apply migrations, load the demo (sample groups and their calls) into an empty
    directory, return the core."""
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    clock = settings.clock() or utcnow
    conversation = Conversation(
        Store(engine),
        clock=clock,
        center=settings.center(),
        retention_days=settings.retention_days,
    )
    # Phrasings the center's staff attached to FAQ entries from unanswered questions.
    conversation.faq.add_phrasings(conversation.store.phrasings())
    if settings.sample_groups:
        store, fields, places = conversation.store, conversation.fields, conversation.places
        loaded = load_samples_if_empty(store, fields, places)
        if loaded:
            log.info("loaded %d sample groups（サンプル） into the empty directory", loaded)
            # Only with groups just loaded: a directory that had groups gets no demo calls.
            calls = load_sample_calls(store, clock(), fields, places)
            log.info("posted %d sample calls（サンプル） for them", calls)
    # A demo started again weeks later still shows openings from today on (the worker does
    # the same each hour while it runs).
    moved = keep_sample_calls_ahead(conversation.store, clock())
    if moved:
        log.info("moved %d begun sample calls（サンプル） forward by whole weeks", moved)
    return conversation
