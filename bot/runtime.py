"""Builds the conversation core on a migrated database; shared by the CLI and the server."""

from __future__ import annotations

from intents.conversation import Conversation
from storage import Store, create_db_engine, migrate


def open_conversation(url: str) -> Conversation:
    """Connect to ``url``, apply migrations and return a ready conversation core."""
    engine = create_db_engine(url)
    migrate(engine)
    return Conversation(Store(engine))
