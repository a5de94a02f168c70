"""Greetings, thanks, help and the menu: whole-message small talk and the menu payloads."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from intents.menu import (
    HELP_PAYLOAD,
    MENU_PAYLOAD,
    show_help,
    show_menu,
    show_welcome,
    switch_language,
)
from intents.router import FALLBACK, Handler, Match
from intents.turn import Turn
from intents.types import Reply
from knowledge.messages import load_smalltalk
from knowledge.text import fold_keep_frames

SMALLTALK_SCORE = 0.9  # below a button payload (1.0), above any FAQ guess on a bare 「ありがとう」
HELP_CONTAINED_SCORE = 0.45  # 「このボットって何ができるの」: help, unless an FAQ entry fits well
_TYPO_CUTOFF = 88
_LEFTOVER = 2  # characters a small-talk message may have beyond its phrases


def _greet(turn: Turn, match: Match) -> Reply:
    text = turn.say("welcome") if turn.user.is_new else turn.say("greeting")
    reply = show_welcome(turn, match)
    reply.text = text
    return reply


def _thank(turn: Turn, match: Match) -> Reply:
    return Reply(turn.say("thanks"), match.intent, locale=turn.locale)


_HANDLERS: dict[str, Handler] = {"greeting": _greet, "thanks": _thank, "help": show_help}


class SmallTalkRule:
    """Claims a message that is, as a whole, a greeting, a thank-you or a call for help."""

    def __init__(self, phrases: dict[str, list[str]] | None = None) -> None:
        phrases = phrases or load_smalltalk()
        self._contains = [fold_keep_frames(w) for w in phrases.pop("help_contains", [])]
        self._lookup: dict[str, str] = {}
        for intent, words in phrases.items():
            for word in words:
                self._lookup[fold_keep_frames(word)] = intent
        self._keys = list(self._lookup)
        # Longest first, so 「ありがとうございます」 is removed before 「ありがとう」.
        self._by_length = sorted(self._keys, key=len, reverse=True)

    def match(self, turn: Turn) -> Match | None:
        if turn.payload is not None or not turn.text:
            return None
        text = fold_keep_frames(turn.text)
        if not text or len(text) > 30:
            return None
        intent = self._lookup.get(text) or self._made_of_phrases(text)
        if intent is None and any(phrase in text for phrase in self._contains):
            return Match("help", HELP_CONTAINED_SCORE, show_help)
        if intent is None and len(text) >= 4:
            found = process.extractOne(
                text, self._keys, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF
            )
            intent = self._lookup[found[0]] if found else None
        if intent is None:
            return None
        return Match(intent, SMALLTALK_SCORE, _HANDLERS[intent])

    def _made_of_phrases(self, text: str) -> str | None:
        """The intent when ``text`` is small-talk phrases of one kind and little else."""
        intents: list[str] = []
        rest = text
        for phrase in self._by_length:
            if phrase in rest:
                rest = rest.replace(phrase, "")
                intents.append(self._lookup[phrase])
        if not intents or len(rest) > _LEFTOVER:
            return None
        # 「こんにちは、ありがとう」 counts as thanks: the last kind said wins.
        order = {"help": 0, "greeting": 1, "thanks": 2}
        return max(intents, key=lambda i: order.get(i, 0))


class MenuPayloadRule:
    """The menu and help buttons."""

    def match(self, turn: Turn) -> Match | None:
        if turn.payload == MENU_PAYLOAD:
            return Match("menu", 1.0, show_menu)
        if turn.payload == HELP_PAYLOAD:
            return Match("help", 1.0, show_help)
        if turn.payload in ("lang:en", "lang:ja"):
            return Match("language", 1.0, switch_language)
        if turn.payload == "welcome":
            return Match("welcome", 1.0, show_welcome)
        if turn.payload == "nontext":  # a sticker or a photo: kindly ask for words
            return Match(FALLBACK, 1.0, _nontext, {"reason": "unreadable"})
        return None


def _nontext(turn: Turn, match: Match) -> Reply:
    reply = show_menu(turn, match)
    reply.text = turn.say("unreadable")
    reply.slots = dict(match.slots)
    return reply
