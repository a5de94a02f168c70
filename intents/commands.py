"""Commands said in the user's own words (``knowledge/commands.toml``), in Japanese and English:
cancel a sign-up, see them, delete my data, help, and a person at the 市民活動センター.

They also work while a form waits (the form stays where it was: a 「つづける」 button asks its
question again), except 「キャンセル」 itself, which inside a form means leave the form.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache
from pathlib import Path

from intents import forms, my_sign_ups
from intents.menu import MENU_PAYLOAD, show_help
from intents.router import Handler, Match
from intents.turn import Turn
from intents.types import MAX_CHOICES, Choice, Reply
from knowledge.text import fold

COMMANDS_FILE = Path(__file__).parents[1] / "knowledge" / "commands.toml"
# Above a form's free-text answer (0.97): 「データ削除」 typed in a form is the command.
COMMAND_SCORE = 0.98
# A command word in a long message is one signal among others (「キャンセルの仕方は？」 still is).
COMMAND_IN_SENTENCE = 0.9
SHORT = 24  # folded characters: a message this short is the command itself


def cancel_sign_up(turn: Turn, match: Match) -> Reply:
    """「キャンセルしたい」: the sign-ups, each with its cancel button."""
    reply = my_sign_ups.my_sign_ups(turn, match)
    if reply.cards:
        reply.text = turn.say("cancel_pick") + "\n" + reply.text
    reply.intent = "cancel_sign_up"
    return reply


def contact_center(turn: Turn, match: Match) -> Reply:
    """「担当者と話したい」: how to reach the center (from the operator's settings), or that
    this bot does not know (never an invented address or number)."""
    contact = turn.center_contact
    text = turn.say("contact_center", contact=contact) if contact else turn.say("contact_unknown")
    choices = [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]
    return Reply(text, "contact_center", choices=choices, locale=turn.locale)


_HANDLERS: dict[str, Handler] = {
    "cancel_sign_up": cancel_sign_up,
    "my_sign_ups": my_sign_ups.my_sign_ups,
    "delete_data": my_sign_ups.ask_delete,
    "help": show_help,
    "contact_center": contact_center,
}


def _forms(words: list[str]) -> re.Pattern[str] | None:
    folded = {fold(w) if not w.isascii() else w.lower() for w in words} - {""}
    if not folded:
        return None
    ordered = sorted(folded, key=len, reverse=True)
    return re.compile(
        "|".join(rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w) for w in ordered)
    )


@cache
def _commands(
    path: Path = COMMANDS_FILE,
) -> tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out = []
    for intent, spec in data.items():
        pattern = _forms(spec["words"])
        if pattern is not None:
            out.append((intent, pattern, _forms(spec.get("not", []))))
    return tuple(out)


class CommandRule:
    """A command in the user's words; see the module docstring."""

    def match(self, turn: Turn) -> Match | None:
        if turn.payload is not None or not turn.folded:
            return None
        hay = turn.folded + " " + unicodedata.normalize("NFKC", turn.text).lower()
        in_form = forms.active(turn) is not None
        for intent, pattern, unless in _commands():
            if not pattern.search(hay) or (unless is not None and unless.search(hay)):
                continue
            if in_form and intent == "cancel_sign_up":
                return None  # inside a form, 「キャンセル」 leaves the form (intents/forms.py)
            score = COMMAND_SCORE if len(turn.folded) <= SHORT else COMMAND_IN_SENTENCE
            handler = _resuming(_HANDLERS[intent]) if in_form else _HANDLERS[intent]
            return Match(intent, score, handler)
        return None


def _resuming(handler: Handler) -> Handler:
    """The command's reply with a button that goes back to the waiting form's question."""

    def run(turn: Turn, match: Match) -> Reply:
        reply = handler(turn, match)
        resume = Choice(turn.messages.label("form_resume", turn.locale), forms.RESUME_PAYLOAD)
        reply.choices = [resume, *reply.choices][:MAX_CHOICES]
        return reply

    return run
