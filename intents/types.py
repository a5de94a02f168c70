"""Platform-neutral conversation types.

An adapter turns a platform event into an :class:`Inbound`, hands it to the conversation core
(:mod:`intents.conversation`) and renders the :class:`Reply` it gets back. Nothing here knows
about LINE, Telegram or the web.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# LINE allows 13 quick-reply items and 20-character labels; Telegram is looser. The core keeps
# to the stricter limits so every adapter can render a reply unchanged.
MAX_CHOICES = 13
MAX_LABEL = 20
MAX_PAYLOAD_BYTES = 64  # Telegram callback_data is 1-64 bytes; LINE allows 300.
MAX_URL = 1000  # a LINE uri action's uri: at most 1,000 characters


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def whole_characters(text: str) -> str:
    """``text`` with every lone UTF-16 surrogate (JSON can carry ``"\\ud800"``; no database
    or encoder takes one) replaced by U+FFFD, so the message is kept, not refused with a 500."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a user: text they typed or the payload of a button they tapped.
    Lone surrogates in either become U+FFFD (:func:`whole_characters`)."""

    platform: str
    user_id: str
    text: str | None = None
    payload: str | None = None
    locale: str = "ja"
    # The platform's id for this event (LINE webhookEventId). When set, the turn runs only the
    # first time: a redelivery raises storage.store.AlreadyHandled instead.
    event_id: str | None = None
    # Asked at the moment a sign-up would be stored (the web chat's rate limit, where anyone
    # can be a new person): False stores nothing and the form waits at its preview. None: no
    # limit (a LINE or Telegram account is the platform's to create, not a script's).
    allow_sign_up: Callable[[], bool] | None = field(default=None, compare=False, repr=False)
    # The name the platform shows for the person, when its events carry one (Telegram's
    # first/last name and username; LINE's needs a profile request). The core does not use
    # it; an adapter keeps it for the console when the person becomes a representative.
    display_name: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("text", "payload", "display_name"):
            value = getattr(self, name)
            if value is not None and _LONE_SURROGATE.search(value):
                object.__setattr__(self, name, whole_characters(value))


@dataclass(frozen=True, slots=True)
class Choice:
    """A quick-reply choice or card button: a short label and the payload sent back on tap.

    With a ``url`` it is a link instead (LINE uri action, Telegram url button, a link in the
    web chat): tapping opens the page, nothing is sent back; its payload then only names what
    it links to (an adapter may link elsewhere for it: ``intents.calendar_links``).
    """

    label: str
    payload: str
    url: str = ""

    def __post_init__(self) -> None:
        if not self.label or len(self.label) > MAX_LABEL:
            raise ValueError(f"choice label must be 1-{MAX_LABEL} characters: {self.label!r}")
        if not self.payload or len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload must be 1-{MAX_PAYLOAD_BYTES} bytes: {self.payload!r}")
        if self.url and (not self.url.startswith("https://") or len(self.url) > MAX_URL):
            raise ValueError(f"a link must be https, at most {MAX_URL} characters: {self.url!r}")

    def as_dict(self) -> dict[str, str]:
        """``{"label", "payload"}``, and ``"url"`` for a link (JSON, kept notices)."""
        found = {"label": self.label, "payload": self.payload}
        return {**found, "url": self.url} if self.url else found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choice:
        """The choice :meth:`as_dict` wrote."""
        return cls(str(data["label"]), str(data["payload"]), str(data.get("url") or ""))


@dataclass(frozen=True, slots=True)
class Card:
    """A card (LINE Flex bubble, Telegram message with an inline keyboard, HTML box)."""

    title: str
    body: str
    buttons: tuple[Choice, ...] = ()


@dataclass(slots=True)
class Reply:
    """What the core answers: text, optional cards, up to 13 choices, and routing facts."""

    text: str
    intent: str
    choices: list[Choice] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    slots: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    locale: str = "ja"
    # Notices that waited for this user (reminders, waiting-list moves) on channels without push.
    notices: list[str] = field(default_factory=list)
    # The persistent menu the user should see from now on ("representative" | "resident"):
    # set when someone becomes or stops being a group's representative; LINE switches its
    # rich menu, the other platforms show the same entries in their quick menu.
    rich_menu: str | None = None

    def __post_init__(self) -> None:
        if len(self.choices) > MAX_CHOICES:
            raise ValueError(f"at most {MAX_CHOICES} choices, got {len(self.choices)}")

    def buttons(self, *, links: bool = False) -> list[Choice]:
        """Every button in display order (card buttons, then choices): what [n] refers to.
        Links send nothing back: they are left out unless ``links``."""
        every = [b for card in self.cards for b in card.buttons] + list(self.choices)
        return every if links else [b for b in every if not b.url]

    def as_plain_text(self) -> str:
        """The reply for a text-only channel: cards and numbered buttons written out."""
        parts = [*self.notices, self.text]
        n = 0

        def shown(choice: Choice) -> str:  # a link is written out, not numbered
            nonlocal n
            if choice.url:
                return f"{choice.label}: {choice.url}"
            n += 1
            return f"[{n}] {choice.label}"

        for card in self.cards:
            lines = [f"■ {card.title}", card.body]
            lines += [f"  → {shown(b)}" for b in card.buttons]
            parts.append("\n".join(lines))
        if self.choices:
            parts.append("\n".join(shown(c) for c in self.choices))
        return "\n\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, used by the CLI's --json mode and the web chat API."""
        return {
            "text": self.as_plain_text(),
            "message": self.text,
            "intent": self.intent,
            "slots": dict(self.slots),
            "source": self.source,
            "locale": self.locale,
            "notices": list(self.notices),
            "choices": [c.as_dict() for c in self.choices],
            "cards": [
                {
                    "title": card.title,
                    "body": card.body,
                    "buttons": [b.as_dict() for b in card.buttons],
                }
                for card in self.cards
            ],
        }

    def kept(self) -> list[Any]:
        """A compact copy to keep with the conversation's state, so that a reply lost in a
        crash (its turn committed, the process gone before it was sent) can be sent again."""
        return [
            self.text, self.intent, self.locale, list(self.notices),
            [_kept_choice(c) for c in self.choices],
            [[k.title, k.body, [_kept_choice(b) for b in k.buttons]] for k in self.cards],
        ]  # fmt: skip

    @classmethod
    def from_kept(cls, kept: list[Any]) -> Reply:
        """The reply :meth:`kept` saved."""
        text, intent, locale, notices, choices, cards = kept
        return cls(
            str(text), str(intent),
            choices=[Choice(*map(str, c)) for c in choices],
            cards=[Card(str(t), str(b), tuple(Choice(*map(str, x)) for x in buttons))
                   for t, b, buttons in cards],
            locale=str(locale), notices=[str(n) for n in notices],
        )  # fmt: skip


def _kept_choice(choice: Choice) -> list[str]:
    """[label, payload], and the url of a link."""
    return [choice.label, choice.payload, *([choice.url] if choice.url else [])]
