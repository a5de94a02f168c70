"""One turn of a conversation: the inbound message plus everything a handler may use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intents.types import Inbound
from knowledge.faq import FaqIndex
from knowledge.fields import FieldIndex
from knowledge.messages import Messages
from knowledge.places import PlaceIndex
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
    fields: FieldIndex
    places: PlaceIndex
    now: datetime  # the turn's clock (UTC, aware); tests and the worker set it
    awaiting: str | None = None  # what the previous reply asked for (e.g. "groups.field")
    center_contact: str = ""  # how to reach the center, as the operator set it (or unknown)

    def say(self, key: str, **values: object) -> str:
        """A sentence from the messages file in this turn's language."""
        return self.messages.get(key, self.locale, **values)
