"""The main menu and the help reply, shared by several features."""

from __future__ import annotations

from intents.router import Match
from intents.turn import Turn
from intents.types import Choice, Reply

MENU_PAYLOAD = "menu"
HELP_PAYLOAD = "help"
MAX_CHOICES = 13  # LINE's quick replies; the other platforms show the same set
REPRESENTATIVE_ITEMS = (("recruit_post", "rc:new"), ("recruit_mine", "rc:mine"))


def menu_choices(turn: Turn) -> list[Choice]:
    """The main-menu buttons in the turn's language, and one to switch the language.

    A group's representative sees 募集する and 自分の募集 first.
    """
    lang = turn.messages.language(turn.locale)
    other = "ja" if lang == "en" else "en"
    switch = Choice(turn.messages.label("language_switch", lang), f"lang:{other}")
    items = [Choice(item.labels[lang], item.payload) for item in turn.messages.menu]
    if turn.store.is_representative(turn.user.id):
        items = [
            *(
                Choice(turn.messages.label(key, lang), payload)
                for key, payload in REPRESENTATIVE_ITEMS
            ),
            *items,
        ]
    return [*items[: MAX_CHOICES - 1], switch]


def back_to_menu(turn: Turn) -> list[Choice]:
    """One button back to the main menu."""
    return [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]


def switch_language(turn: Turn, match: Match) -> Reply:
    """The language button: from now on, answers in that language (conversation.py)."""
    text = turn.say("language_set") + "\n" + turn.say("help")
    return Reply(text, match.intent, choices=menu_choices(turn), locale=turn.locale)


def show_menu(turn: Turn, match: Match) -> Reply:
    """「メニュー」: the topics to choose from."""
    return Reply(turn.say("menu"), match.intent, choices=menu_choices(turn), locale=turn.locale)


def show_help(turn: Turn, match: Match) -> Reply:
    """「ヘルプ」: what the bot can do, then the menu."""
    return Reply(turn.say("help"), match.intent, choices=menu_choices(turn), locale=turn.locale)


def show_welcome(turn: Turn, match: Match) -> Reply:
    """The first words to a new user (LINE follow, Telegram /start, a new web chat)."""
    return Reply(turn.say("welcome"), match.intent, choices=menu_choices(turn), locale=turn.locale)
