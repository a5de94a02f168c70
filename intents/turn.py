"""One turn of a conversation: the inbound message plus everything a handler may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intents.types import Inbound
from knowledge.center import CenterDetails
from knowledge.faq import FaqIndex
from knowledge.fields import FieldIndex
from knowledge.messages import Messages
from knowledge.places import PlaceIndex
from storage.retention import DEFAULT_RETENTION_DAYS
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
    # How to reach the center and where the texts are, as the operator set them (or unknown).
    center: CenterDetails = field(default_factory=CenterDetails)
    retention_days: int = DEFAULT_RETENTION_DAYS  # what the privacy notice says (RETENTION_DAYS)

    def say(self, key: str, **values: object) -> str:
        """A sentence from the messages file in this turn's language."""
        return self.messages.get(key, self.locale, **values)

    def center_contact(self) -> str:
        """The center's details as lines (each site, the web page, the operator's note); empty
        when none is set. Never more than the operator wrote."""
        lines: list[str] = []
        for site in self.center.sites:
            parts = [
                self.say(key, value=value)
                for key, value in (
                    ("center_site", site.name),
                    ("center_address", site.address),
                    ("center_phone", site.phone),
                    ("center_hours", site.hours),
                )
                if value
            ]
            lines += parts
        if self.center.web:
            lines.append(self.say("center_web", value=self.center.web))
        if self.center.note:
            lines.append(self.center.note)
        return "\n".join(lines)

    def center_texts(self) -> str:
        """The links to the ordinance's and the guideline's texts, as lines; empty when unset."""
        return "\n".join(
            self.say(key, value=value)
            for key, value in (
                ("center_ordinance", self.center.ordinance_url),
                ("center_guideline", self.center.guideline_url),
            )
            if value
        )
