"""Masking e-mail addresses and phone numbers in what residents typed, before it is stored.

Residents sometimes type their phone number or e-mail into a question; the center does not
need it. Both are found on the NFKC form of the text, so full-width ones are found too
(０９０－１２３４－５６７８, ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ), and masked in the text as it was
typed. Phone numbers in every Japanese way of writing them: 090-1234-5678, 0467-23-1234,
(0467)23-1234, 09012345678, +81 90-1234-5678, with ー or spaces between the groups. Any run
of ten digits or more with such separators counts: masking a long number that was not a
phone costs the center nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

EMAIL_MASK = "[メール]"
PHONE_MASK = "[電話番号]"
# ASCII only (after NFKC): 「メールはtaro@example.jp」 keeps its メールは.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+?\(?\d[\d\s().\-‐‑–—―−ー]{8,}\d")
_PHONE_DIGITS = 10  # the fewest digits of a Japanese number with its area code
_FOLDED = re.compile(r"[^0-9a-z]")


def redact(text: str, source: str | None = None) -> str:
    """``text`` with every e-mail address and phone number masked.

    ``source`` is the text that ``text`` was made from, when making it dropped what finds an
    address (the matcher's folded form has no ``@`` and no dots: ``taroexamplejp``): what
    ``source`` holds is masked in ``text`` in that folded spelling too."""
    if source is not None:
        for found, mask in _personal(source):
            folded = _FOLDED.sub("", unicodedata.normalize("NFKC", found).lower())
            if folded:
                text = text.replace(folded, mask)
    for found, mask in _personal(text):
        text = text.replace(found, mask)
    return text


def _personal(text: str) -> Iterator[tuple[str, str]]:
    """Each e-mail address, then each phone number, as typed in ``text``, with its mask
    (longest first, so that a number inside another is not masked half)."""
    emails = sorted(_spans(text, _EMAIL), key=len, reverse=True)
    yield from ((e, EMAIL_MASK) for e in emails)
    rest = text
    for email in emails:
        rest = rest.replace(email, EMAIL_MASK)
    phones = [p for p in _spans(rest, _PHONE) if sum(ch.isdigit() for ch in p) >= _PHONE_DIGITS]
    yield from ((p, PHONE_MASK) for p in sorted(phones, key=len, reverse=True))


def _spans(text: str, pattern: re.Pattern[str]) -> list[str]:
    """The pieces of ``text`` (as typed) whose NFKC form ``pattern`` matches."""
    flat: list[str] = []
    origin: list[int] = []  # the index in ``text`` of each character of ``flat``
    for i, ch in enumerate(text):
        normal = unicodedata.normalize("NFKC", ch)
        flat.append(normal)
        origin.extend([i] * len(normal))
    return [
        text[origin[m.start()] : origin[m.end() - 1] + 1] for m in pattern.finditer("".join(flat))
    ]
