"""Commands said in the user's own words (``knowledge/commands.toml``), in Japanese and English:
cancel a sign-up, see them, delete my data, help, a person at the 市民活動センター, and how
personal data is handled. The last two are buttons too (``CommandPayloadRule``).

They also work while a form waits (the form stays where it was: a 「つづける」 button asks its
question again), except 「キャンセル」 itself, which inside a form means leave the form.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from intents import forms, my_sign_ups
from intents.menu import CONTACT_PAYLOAD, DELETE_PAYLOAD, MENU_PAYLOAD, PRIVACY_PAYLOAD, show_help
from intents.router import Handler, Match
from intents.turn import Turn
from intents.types import Choice, Reply
from knowledge.kana_words import read_as_words
from knowledge.text import Reading, segmented_reading, word_forms

COMMANDS_FILE = Path(__file__).parents[1] / "knowledge" / "commands.toml"
# Above a form's free-text answer (0.97): 「データ削除」 typed in a form is the command.
COMMAND_SCORE = 0.98
# A command word in a long message is one signal among others (「キャンセルの仕方は？」 still is).
COMMAND_IN_SENTENCE = 0.9
# ... except for one's own sign-ups and data: 「土曜のごみ拾い、行けなくなったからキャンセル
# したい」 names a call, but is no search for one (above a sure search, 0.96).
OWN_RECORDS = {"cancel_sign_up", "my_sign_ups", "delete_data"}
OWN_RECORDS_IN_SENTENCE = 0.965
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
    this bot does not know (never an invented address or number); then the links to the
    ordinance's and the guideline's texts, when they are set."""
    contact = turn.center_contact()
    text = turn.say("contact_center", contact=contact) if contact else turn.say("contact_unknown")
    texts = turn.center_texts()
    if texts:
        text += "\n\n" + texts
    choices = [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]
    return Reply(text, "contact_center", choices=choices, locale=turn.locale)


def privacy_notice(turn: Turn, match: Match) -> Reply:
    """「個人情報の扱い」: what this bot keeps, for how long (RETENTION_DAYS), and how to
    delete it, with the 「データ削除」 button."""
    label = turn.messages.label
    choices = [
        Choice(label("delete_data", turn.locale), DELETE_PAYLOAD),
        Choice(label("menu", turn.locale), MENU_PAYLOAD),
    ]
    text = turn.say("privacy_notice", days=turn.retention_days)
    return Reply(text, "privacy", choices=choices, locale=turn.locale)


_HANDLERS: dict[str, Handler] = {
    "cancel_sign_up": cancel_sign_up,
    "my_sign_ups": my_sign_ups.my_sign_ups,
    "delete_data": my_sign_ups.ask_delete,
    "help": show_help,
    "contact_center": contact_center,
    "privacy": privacy_notice,
}
_PAYLOADS: dict[str, tuple[str, Handler]] = {
    CONTACT_PAYLOAD: ("contact_center", contact_center),
    PRIVACY_PAYLOAD: ("privacy", privacy_notice),
}


def _forms(words: list[str]) -> re.Pattern[str] | None:
    folded = {f for w in words for f in word_forms(w)} - {""}
    if not folded:
        return None
    ordered = sorted(folded, key=len, reverse=True)
    return re.compile(
        "|".join(rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w) for w in ordered)
    )


@dataclass(frozen=True, slots=True)
class _Command:
    """One command's words: a phrase that says it, or a thing and an action said together
    (「申し込みの一覧を確認」: 申し込み + 確認), unless a ``not`` word makes it something else."""

    intent: str
    words: re.Pattern[str] | None
    pairs: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]
    unless: re.Pattern[str] | None
    spoken: re.Pattern[str] | None  # its phrases of four kana or more

    def said_in(self, hay: str, aloud: Reading | None = None) -> bool:
        """Whether ``hay`` (the message's forms) says this command, or ``aloud`` (the message
        read aloud: an input method's slip sounds right, 鳥消し is とりけし) says one of its
        long kana phrases (a short one turns up inside other words' readings)."""
        if self.unless is not None and self.unless.search(hay):
            return False
        if self.words is not None and self.words.search(hay):
            return True
        if self.spoken is not None and aloud and _slip(self.spoken, aloud):
            return True
        return any(_apart(thing, action, hay) for thing, action in self.pairs)


def _slip(phrase: re.Pattern[str], aloud: Reading) -> bool:
    """A phrase heard in the reading across words Sudachi split it into: 鳥|消し sounds like
    とりけし, but 大会 (たいかい), one word, is not 退会."""
    for found in phrase.finditer(aloud.text):
        if any(found.start() < cut < found.end() for cut in aloud.cuts):
            return True
    return False


def _apart(thing: re.Pattern[str], action: re.Pattern[str], hay: str) -> bool:
    """A thing and an action said side by side, neither inside the other: 「もうしこみたい」
    holds 「もうしこみ」 and 「みたい」 (to see) only by sharing its み."""
    for form in hay.split(FORMS_APART):  # both in one form of the message
        for found in thing.finditer(form):
            if action.search(form, 0, found.start()) or action.search(form, found.end()):
                return True
    return False


@cache
def _commands(path: Path = COMMANDS_FILE) -> tuple[_Command, ...]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out = []
    for intent, spec in data.items():
        pairs = tuple(
            (thing, action)
            for things, actions in spec.get("pairs", [])
            if (thing := _forms(things)) is not None and (action := _forms(actions)) is not None
        )
        unless = _forms(spec.get("not", []))
        spoken = _forms([w for w in spec["words"] if _KANA.fullmatch(w) and len(w) >= SPOKEN_MIN])
        out.append(_Command(intent, _forms(spec["words"]), pairs, unless, spoken))
    return tuple(out)


FORMS_APART = "\x00"  # between the forms of one message a command is looked for in
SPOKEN_MIN = 4  # kana: a command's phrase this long is also looked for in the reading
_KANA = re.compile(r"[\u3041-\u309fー]+")


class CommandRule:
    """A command in the user's words; see the module docstring."""

    def match(self, turn: Turn) -> Match | None:
        if turn.payload is not None or not turn.folded:
            return None
        text = unicodedata.normalize("NFKC", turn.text).lower()
        # A message typed in kana is read with our words too (わたしのもうしこみ → 申し込み).
        forms_of_it = [turn.folded, read_as_words(turn.folded), text]
        hay = FORMS_APART.join(dict.fromkeys(forms_of_it))
        aloud = segmented_reading(turn.folded)
        in_form = forms.active(turn) is not None
        for command in _commands():
            if not command.said_in(hay, aloud):
                continue
            intent = command.intent
            if in_form and intent == "cancel_sign_up":
                return None  # inside a form, 「キャンセル」 leaves the form (intents/forms.py)
            in_sentence = OWN_RECORDS_IN_SENTENCE if intent in OWN_RECORDS else COMMAND_IN_SENTENCE
            score = COMMAND_SCORE if len(turn.folded) <= SHORT else in_sentence
            # In a form the reply gets 「入力にもどる」 (intents/conversation.py, for any reply).
            return Match(intent, score, _HANDLERS[intent])
        return None


class CommandPayloadRule:
    """The buttons of two commands: the center's contact details and the privacy notice."""

    def match(self, turn: Turn) -> Match | None:
        found = _PAYLOADS.get(turn.payload or "")
        if found is None:
            return None
        intent, handler = found
        return Match(intent, 1.0, handler)
