"""Cells of every CSV we hand to staff, safe to open in Excel (the one guard for all of them).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(…)`` sends whoever clicks it anywhere; tab and CR start one too, after a
spreadsheet trims them). What a volunteer or a group typed must stay text, so such a cell
is written with a ``'`` in front, which spreadsheets show as text. A cell that already
starts with ``'`` and then one of those characters gets one more, so :func:`restore` can
tell the two apart: ``restore(guard(x)) == x`` for every ``x``, and the directory export
imports back unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

STARTS_FORMULA = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def _needs_guard(value: str) -> bool:
    """``'``* followed by a formula character: what a spreadsheet could run, or what
    :func:`restore` would otherwise take for a guarded cell."""
    rest = value.lstrip(QUOTE)
    return rest[:1] in STARTS_FORMULA


_MAY_NEED_GUARD = frozenset((*STARTS_FORMULA, QUOTE))


def guard(value: str) -> str:
    """The cell as written: with a ``'`` in front when a spreadsheet could run it."""
    if value[:1] not in _MAY_NEED_GUARD:  # most cells: one look at the first character
        return value
    return QUOTE + value if _needs_guard(value) else value


def restore(value: str) -> str:
    """The value a guarded cell stands for (an unguarded cell is returned as it is)."""
    if value.startswith(QUOTE) and _needs_guard(value[1:]):
        return value[1:]
    return value


class GuardedWriter:
    """``csv.writer`` whose every cell goes through :func:`guard` (CRLF rows, as Excel
    writes them)."""

    def __init__(self, out: _Writable) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, cells: Iterable[object]) -> None:
        """Write one row; ``None`` is an empty cell, anything else its ``str``."""
        self._writer.writerow(["" if c is None else guard(str(c)) for c in cells])
