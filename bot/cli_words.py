"""What the command line says, from ``knowledge/cli.toml`` (no word of it in the code)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import knowledge

WORDS_FILE = Path(knowledge.__file__).with_name("cli.toml")


@cache
def _words() -> dict[str, Any]:
    with WORDS_FILE.open("rb") as fh:
        return tomllib.load(fh)


def say(section: str, key: str, /, **values: object) -> str:
    """One message of ``section``, its ``{values}`` filled in."""
    return str(_words()[section][key]).format(**values)


def words(section: str, key: str) -> list[str]:
    """A list of words of ``section`` (「終了」 and its kin)."""
    return [str(w) for w in _words()[section][key]]
