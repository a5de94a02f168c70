"""The rule-based intent router: every rule says whether and how well it matches; the best wins.

Match, then act: a rule's ``match`` only looks (and extracts slots); the handler it names acts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from intents.turn import Turn
    from intents.types import Reply

Handler = Callable[["Turn", "Match"], "Reply"]

FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Match:
    """A rule's verdict: the intent, a confidence in 0..1, what it extracted, who handles it."""

    intent: str
    score: float
    handler: Handler
    slots: dict[str, str] = field(default_factory=dict)
    data: Any = None


class Rule(Protocol):
    """Anything that can look at a turn and maybe claim it."""

    def match(self, turn: Turn) -> Match | None:
        """Return a match (with a score) or None when the rule does not apply."""
        ...


class Router:
    """Asks every rule; the highest score at or above ``threshold`` wins, else the fallback."""

    def __init__(self, rules: Sequence[Rule], fallback: Handler, threshold: float) -> None:
        self._rules = list(rules)
        self._fallback = fallback
        self._threshold = threshold

    def route(self, turn: Turn) -> Match:
        """Pick the intent for this turn."""
        best: Match | None = None
        for rule in self._rules:
            m = rule.match(turn)
            if m is not None and (best is None or m.score > best.score):
                best = m
        if best is None or best.score < self._threshold:
            candidates = {"best_guess": best.intent} if best else {}
            return Match(FALLBACK, best.score if best else 0.0, self._fallback, candidates)
        return best
