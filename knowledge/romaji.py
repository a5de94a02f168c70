"""Hiragana readings to the romaji people type for place names (Ofuna, Yuigahama, Kita-Kamakura).

Hepburn without macrons, the way signs and maps spell them: おお → o, おう → o, うう → u; ん
before b/m/p stays n (Shinbashi style is what residents type too). Both the long (oo) and the
short (o) spelling are produced, since visitors write Oofuna as often as Ofuna.
"""

from __future__ import annotations

_DIGRAPHS = {
    "きゃ": "kya", "きゅ": "kyu", "きょ": "kyo", "しゃ": "sha", "しゅ": "shu", "しょ": "sho",
    "ちゃ": "cha", "ちゅ": "chu", "ちょ": "cho", "にゃ": "nya", "にゅ": "nyu", "にょ": "nyo",
    "ひゃ": "hya", "ひゅ": "hyu", "ひょ": "hyo", "みゃ": "mya", "みゅ": "myu", "みょ": "myo",
    "りゃ": "rya", "りゅ": "ryu", "りょ": "ryo", "ぎゃ": "gya", "ぎゅ": "gyu", "ぎょ": "gyo",
    "じゃ": "ja", "じゅ": "ju", "じょ": "jo", "びゃ": "bya", "びゅ": "byu", "びょ": "byo",
    "ぴゃ": "pya", "ぴゅ": "pyu", "ぴょ": "pyo",
}  # fmt: skip
_SINGLE = dict(
    zip(
        "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
        "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽ",
        [
            "a",
            "i",
            "u",
            "e",
            "o",
            "ka",
            "ki",
            "ku",
            "ke",
            "ko",
            "sa",
            "shi",
            "su",
            "se",
            "so",
            "ta",
            "chi",
            "tsu",
            "te",
            "to",
            "na",
            "ni",
            "nu",
            "ne",
            "no",
            "ha",
            "hi",
            "fu",
            "he",
            "ho",
            "ma",
            "mi",
            "mu",
            "me",
            "mo",
            "ya",
            "yu",
            "yo",
            "ra",
            "ri",
            "ru",
            "re",
            "ro",
            "wa",
            "o",
            "n",
            "ga",
            "gi",
            "gu",
            "ge",
            "go",
            "za",
            "ji",
            "zu",
            "ze",
            "zo",
            "da",
            "ji",
            "zu",
            "de",
            "do",
            "ba",
            "bi",
            "bu",
            "be",
            "bo",
            "pa",
            "pi",
            "pu",
            "pe",
            "po",
        ],
        strict=True,
    )
)


def romanize(reading: str) -> str:
    """Hepburn romaji of a hiragana reading, long vowels kept as written (おおふな → oofuna)."""
    out, i = [], 0
    while i < len(reading):
        pair = reading[i : i + 2]
        if pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
            continue
        ch = reading[i]
        if ch == "っ" and i + 1 < len(reading):
            nxt = _DIGRAPHS.get(reading[i + 1 : i + 3]) or _SINGLE.get(reading[i + 1], "")
            out.append("t" if nxt.startswith("ch") else nxt[:1])
        elif ch == "ー":
            pass
        else:
            out.append(_SINGLE.get(ch, ""))
        i += 1
    return "".join(out)


def spellings(reading: str) -> set[str]:
    """The ways a place's name is written in romaji: oofuna and ofuna, yuigahama …"""
    long = romanize(reading)
    short = long.replace("ou", "o").replace("oo", "o").replace("uu", "u")
    return {s for s in (long, short) if s}


def romanized_name(reading: str) -> str:
    """A place's name as English text writes it: ふじさわ → Fujisawa, おおふな → Ofuna."""
    return min(spellings(reading), key=len, default="").capitalize()
