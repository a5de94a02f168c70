"""What the bot says when it did not understand, and the note it leaves for the center."""

from __future__ import annotations

from intents.menu import HELP_PAYLOAD, menu_choices
from intents.router import FALLBACK, Match
from intents.turn import Turn
from intents.types import Choice, Reply
from knowledge.faq import load_domain
from knowledge.text import fold

# Above any FAQ answer (at most 0.95): an FAQ entry about the center must not answer
# 「駐車場は？」; below a form's answer (0.97).
FACILITY_DETAIL_SCORE = 0.96


def fallback(turn: Turn, match: Match) -> Reply:
    """Say so kindly, offer the menu, and record the question (without who asked)."""
    if turn.text and turn.payload is None:
        turn.store.record_unanswered(turn.text, turn.folded, turn.locale)
    reason = match.slots.get("reason", "not_understood")
    key = reason if reason in ("facility_details", "procedure_details") else "fallback"
    choices = menu_choices(turn)
    choices.append(Choice(turn.messages.label("help", turn.locale), HELP_PAYLOAD))
    slots = {"reason": reason}
    return Reply(turn.say(key), FALLBACK, choices=choices[:13], slots=slots, locale=turn.locale)


class FacilityDetailsRule:
    """「センターの駐車場は？」: details we do not know. Say so honestly; tell the center."""

    def __init__(self, words: dict[str, list[str]] | None = None) -> None:
        words = words or load_domain()
        self._facilities = [fold(w) for w in words["facilities"]]
        self._details = [fold(w) for w in words["facility_details"]]
        self._procedures = [fold(w) for w in words["procedures"]]
        self._not_procedures = [fold(w) for w in words.get("procedures_not", [])]

    def match(self, turn: Turn) -> Match | None:
        text = turn.folded
        if turn.payload is not None or not text:
            return None
        if any(f in text for f in self._facilities) and any(d in text for d in self._details):
            return Match(FALLBACK, FACILITY_DETAIL_SCORE, fallback, {"reason": "facility_details"})
        if any(p in text for p in self._procedures) and not any(
            n in text for n in self._not_procedures
        ):
            return Match(
                FALLBACK, FACILITY_DETAIL_SCORE, fallback, {"reason": "procedure_details"}
            )
        return None


def stale_choice(turn: Turn, match: Match) -> Reply:
    """A button payload we no longer understand (an old message, a removed entry)."""
    return Reply(
        turn.say("unknown_choice"), "stale_choice", choices=menu_choices(turn), locale=turn.locale
    )
