"""The bot's own words (everything that is not an FAQ answer), from ``messages.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MESSAGES_FILE = Path(__file__).with_name("messages.toml")
SMALLTALK_FILE = Path(__file__).with_name("smalltalk.toml")
CONFIRM_FILE = Path(__file__).with_name("confirm.toml")
LANGUAGES = ("ja", "en")


@dataclass(frozen=True, slots=True)
class MenuItem:
    """One main-menu button."""

    labels: dict[str, str]
    payload: str


class Messages:
    """Looks up sentences by key and language; Japanese when a language lacks the key."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.menu = [
            MenuItem({lang: item[lang] for lang in LANGUAGES}, item["payload"])
            for item in data.get("menu", [])
        ]
        missing = set(data["ja"]) ^ set(data["en"])
        if missing:
            raise ValueError(f"messages.toml: keys not in both languages: {sorted(missing)}")

    @classmethod
    def load(cls, path: Path = MESSAGES_FILE) -> Messages:
        """Read the messages file."""
        with path.open("rb") as fh:
            return cls(tomllib.load(fh))

    @staticmethod
    def language(locale: str) -> str:
        """Map a platform locale (``en-US``, ``ja``) to one of ours."""
        return "en" if locale.lower().startswith("en") else "ja"

    def get(self, key: str, locale: str, **values: object) -> str:
        """The sentence ``key`` in ``locale``, with ``{placeholders}`` filled."""
        table = self._data[self.language(locale)]
        text = str(table.get(key, self._data["ja"][key])).strip()
        return text.format(**values) if values else text

    def items(self, key: str, locale: str) -> list[str]:
        """A list of sentences (e.g. one per rank)."""
        return [str(x) for x in self._data[self.language(locale)][key]]

    def label(self, key: str, locale: str) -> str:
        """A button label."""
        return str(self._data[self.language(locale)]["labels"][key])


def load_yes_no(path: Path = CONFIRM_FILE) -> tuple[frozenset[str], frozenset[str]]:
    """The typed yeses and noes (folded) that answer a two-button question."""
    from knowledge.text import fold

    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return frozenset(fold(w) for w in data["yes"]), frozenset(fold(w) for w in data["no"])


def load_smalltalk(path: Path = SMALLTALK_FILE) -> dict[str, list[str]]:
    """Small-talk phrases by intent (greeting, thanks, help)."""
    with path.open("rb") as fh:
        return {k: list(v) for k, v in tomllib.load(fh).items()}
