"""Judges the bot on question sets written blind (by people who never saw our phrasings).

FAQ sets (``faq_blind_*.tsv``: ``section  facts  style  question``) are judged by what a resident
gets: the reply must come from that section of the guideline (or a part of it) and contain the
asked figures; ``-`` means off-topic, which must not get an FAQ answer. A follow-up row holds two
turns joined by `` >> ``; the second is judged.

Search sets (``search_blind_*.tsv``: ``intent  area  field  style  message``) are judged by the
intent and the area and field the bot understood.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from intents.conversation import Conversation
from intents.types import Inbound, Reply

DATA = Path(__file__).with_name("data")
# The blind sets' intent labels → the intents of ours that satisfy them.
INTENTS = {
    "groups": {"find_groups"},
    "openings": {"find_openings"},
    "either": {"find_groups", "find_openings"},
    "outside": {"outside_city"},
    "my_signups": {"my_sign_ups"},
    "cancel": {"cancel_sign_up", "my_sign_ups"},
    "delete_data": {"delete_data"},
    "help": {"help"},
    "human": {"contact_center"},
    "faq": {"faq"},
    "decline": {"fallback"},
}
SEARCHES = {"find_groups", "find_openings"}


@dataclass
class Verdict:
    """One set's result: how many were right, and each miss with what the bot did."""

    name: str
    total: int = 0
    correct: int = 0
    false_answers: int = 0  # off-topic questions that got an FAQ answer
    misses: list[str] = field(default_factory=list)
    by_style: Counter[str] = field(default_factory=Counter)
    wrong_by_style: Counter[str] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def add(self, ok: bool, style: str, miss: str) -> None:
        self.total += 1
        self.by_style[style] += 1
        if ok:
            self.correct += 1
        else:
            self.wrong_by_style[style] += 1
            self.misses.append(miss)

    def summary(self) -> str:
        styles = ", ".join(
            f"{s} {n - self.wrong_by_style[s]}/{n}" for s, n in sorted(self.by_style.items())
        )
        return (
            f"{self.name}: {self.correct}/{self.total} = {self.accuracy:.1%}"
            f" (off-topic answered: {self.false_answers}); {styles}"
        )


def read_tsv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


# Dashes and tildes a reader takes for one another (【Ⅱ—ア】 and 【Ⅱ-ア】, ３～５年 and 3〜5年).
_SAME_MARK = str.maketrans({"—": "-", "–": "-", "‐": "-", "−": "-", "〜": "~"})


def _squash(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_SAME_MARK)
    return "".join(folded.split()).replace(",", "")


def _ask(conversation: Conversation, user: str, text: str) -> Reply:
    reply: Reply | None = None
    for turn in text.split(" >> "):
        reply = conversation.handle(Inbound("judge", user, text=turn.strip()))
    assert reply is not None
    return reply


def _section_fits(expected: str, got: str) -> bool:
    return any(got == e or got.startswith(e) or e.startswith(got) for e in expected.split("/"))


def judge_faq(conversation: Conversation, name: str) -> Verdict:
    """Every row of a blind FAQ set, each as a new user."""
    verdict = Verdict(name)
    for i, row in enumerate(read_tsv(name)):
        reply = _ask(conversation, f"{name}-{i}", row["question"])
        entry = (
            conversation.faq.get(reply.slots.get("faq_id", "")) if reply.intent == "faq" else None
        )
        got = entry.section if entry else reply.intent
        if row["section"] == "-":
            ok = entry is None and reply.intent not in SEARCHES
            verdict.false_answers += entry is not None
        else:
            text = _squash(reply.as_plain_text())
            facts = [f for f in row["facts"].split("|") if f.strip()]
            has_facts = all(any(_squash(a) in text for a in f.split("/")) for f in facts)
            ok = entry is not None and _section_fits(row["section"], entry.section) and has_facts
            if entry is not None and not has_facts:
                got += f" without {row['facts']}"
        miss = f"[{row['style']}] {row['question']!r}: want {row['section']}, got {got}"
        if entry is not None:
            miss += f" ({entry.id})"
        verdict.add(ok, row["style"], miss)
    return verdict


def judge_search(conversation: Conversation, name: str) -> Verdict:
    """Every row of a blind search set, each as a new user."""
    verdict = Verdict(name)
    for i, row in enumerate(read_tsv(name)):
        reply = _ask(conversation, f"{name}-{i}", row["message"])
        ok = reply.intent in INTENTS[row["intent"]]
        if reply.intent in SEARCHES:
            area = reply.slots.get("area", "-").removesuffix("地域")
            named = conversation.fields.lookup(reply.slots.get("field", ""))
            code = named.code if named else "-"
            ok = ok and area == row["area"] and code in row["field"].split("/")
        got = f"{reply.intent} {reply.slots}"
        want = f"{row['intent']} {row['area']} {row['field']}"
        miss = f"[{row['style']}] {row['message']!r}: want {want}, got {got}"
        verdict.add(ok, row["style"], miss)
    return verdict
