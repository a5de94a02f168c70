"""The console's words, from ``knowledge/console.toml`` (no user-facing text in code)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import knowledge

CONSOLE_FILE = Path(knowledge.__file__).with_name("console.toml")


@cache
def _data() -> dict[str, Any]:
    with CONSOLE_FILE.open("rb") as fh:
        return tomllib.load(fh)


def w(section: str, key: str, /, **values: object) -> str:
    """The console's sentence ``section.key`` with ``values`` filled in."""
    text = str(_data()[section][key])
    return text.format(**values) if values else text


def section(name: str, /) -> dict[str, str]:
    """Every sentence of one section of ``knowledge/console.toml``, in the file's order."""
    return {str(k): str(v) for k, v in _data()[name].items()}
