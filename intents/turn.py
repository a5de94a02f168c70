"""One turn of a conversation: the inbound message plus everything a handler may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intents.types import Inbound
from knowledge.faq import FaqIndex
from knowledge.messages import Messages
from storage.store import Store, UserRef


@dataclass(slots=True)
class Turn:
    """What rules look at and handlers act on. ``state`` is saved after the turn."""

    inbound: Inbound
    user: UserRef
    locale: str
    text: str  # the raw text (or empty for a button tap)
    folded: str  # knowledge.text.fold(text)
    payload: str | None
    state: dict[str, Any]
    store: Store
    faq: FaqIndex
    messages: Messages
    slots: dict[str, str] = field(default_factory=dict)

    def say(self, key: str, **values: object) -> str:
        """A sentence from the messages file in this turn's language."""
        return self.messages.get(key, self.locale, **values)
