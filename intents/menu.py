"""The main menu and the help reply, shared by several features."""

from __future__ import annotations

from intents.router import Match
from intents.turn import Turn
from intents.types import Choice, Reply

MENU_PAYLOAD = "menu"
HELP_PAYLOAD = "help"
PRIVACY_PAYLOAD = "privacy"  # the privacy notice (intents.commands)
CONTACT_PAYLOAD = "contact"  # how to reach the center (intents.commands)
DELETE_PAYLOAD = "del"  # 「データ削除」, asked once (intents.openings)
MAX_CHOICES = 13  # LINE's quick replies; the other platforms show the same set
REPRESENTATIVE_ITEMS = (("recruit_post", "rc:new"), ("recruit_mine", "rc:mine"))


def menu_choices(turn: Turn, first: tuple[Choice, ...] = ()) -> list[Choice]:
    """The main-menu buttons in the turn's language, and one to switch the language.

    A group's representative sees 募集する and 自分の募集 first; ``first`` goes before even
    those (the menu's last items give way to them).
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
    return [*[*first, *items][: MAX_CHOICES - 1], switch]


def back_to_menu(turn: Turn) -> list[Choice]:
    """One button back to the main menu."""
    return [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]


def switch_language(turn: Turn, match: Match) -> Reply:
    """The language button: from now on, answers in that language (conversation.py)."""
    text = turn.say("language_set") + "\n" + help_text(turn)
    return Reply(text, match.intent, choices=help_choices(turn), locale=turn.locale)


def show_menu(turn: Turn, match: Match) -> Reply:
    """「メニュー」: the topics to choose from."""
    return Reply(turn.say("menu"), match.intent, choices=menu_choices(turn), locale=turn.locale)


def show_help(turn: Turn, match: Match) -> Reply:
    """「ヘルプ」: what the bot can do and how to reach the center (when the operator set
    it), then 個人情報の扱い, データ削除 and the menu."""
    return Reply(help_text(turn), match.intent, choices=help_choices(turn), locale=turn.locale)


def help_text(turn: Turn) -> str:
    """The help, with the center's details and the texts' links when they are set."""
    text = turn.say("help")
    contact = turn.center_contact()
    if contact:
        text += "\n\n" + turn.say("help_center", contact=contact)
    texts = turn.center_texts()
    if texts:
        text += "\n\n" + texts
    return text


def help_choices(turn: Turn) -> list[Choice]:
    """The privacy notice and 「データ削除」 one tap away, then the menu."""
    label = turn.messages.label
    return menu_choices(
        turn,
        (
            Choice(label("privacy", turn.locale), PRIVACY_PAYLOAD),
            Choice(label("delete_data", turn.locale), DELETE_PAYLOAD),
        ),
    )


def show_welcome(turn: Turn, match: Match) -> Reply:
    """The first words to a new user (LINE follow, Telegram /start, a new web chat)."""
    return Reply(turn.say("welcome"), match.intent, choices=menu_choices(turn), locale=turn.locale)
