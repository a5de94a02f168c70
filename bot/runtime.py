"""Builds the conversation core on a migrated database; shared by the CLI and the server."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.directory_csv import load_samples_if_empty
from intents.conversation import Conversation
from storage import Store, create_db_engine, migrate
from storage.models import utcnow

log = logging.getLogger(__name__)


def open_conversation(settings: Settings) -> Conversation:
    """Connect, apply migrations, load the demo directory if empty, return the core."""
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    conversation = Conversation(
        Store(engine), clock=settings.clock() or utcnow, center_contact=settings.center_contact
    )
    # Phrasings the center's staff attached to FAQ entries from unanswered questions.
    conversation.faq.add_phrasings(conversation.store.phrasings())
    if settings.sample_groups:
        loaded = load_samples_if_empty(
            conversation.store, conversation.fields, conversation.places
        )
        if loaded:
            log.info("loaded %d sample groups（サンプル） into the empty directory", loaded)
    return conversation
