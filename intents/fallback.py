"""What the bot says when it did not understand, and the note it leaves for the center."""

from __future__ import annotations

from intents.menu import HELP_PAYLOAD, menu_choices
from intents.router import Match
from intents.turn import Turn
from intents.types import Choice, Reply


def fallback(turn: Turn, match: Match) -> Reply:
    """Say so kindly, offer the menu, and record the question (without who asked)."""
    if turn.text and turn.payload is None:
        turn.store.record_unanswered(turn.text, turn.folded, turn.locale)
    choices = menu_choices(turn)
    choices.append(Choice(turn.messages.label("help", turn.locale), HELP_PAYLOAD))
    return Reply(turn.say("fallback"), match.intent, choices=choices[:13], locale=turn.locale)


def stale_choice(turn: Turn, match: Match) -> Reply:
    """A button payload we no longer understand (an old message, a removed entry)."""
    return Reply(
        turn.say("unknown_choice"), "stale_choice", choices=menu_choices(turn), locale=turn.locale
    )
