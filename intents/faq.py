"""Questions about the ordinance and the guideline, answered from the FAQ with their source."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from intents.menu import CONTACT_PAYLOAD, MENU_PAYLOAD
from intents.router import Match
from intents.turn import Turn
from intents.types import Choice, Reply
from knowledge.facts import Fact
from knowledge.faq import FaqEntry, FaqHit, load_domain
from knowledge.text import fold

FAQ_PAYLOAD = "faq:"
FEEDBACK_PAYLOAD = "fb:"
MAX_RELATED = 4
# An entry's ``actions`` as buttons: the label key and the payload of what they start.
ACTION_BUTTONS = {
    "find_openings": ("openings_find", "ol"),  # intents.openings
    "find_groups": ("groups_find", "gs"),  # intents.groups
    "contact_center": ("contact_center", CONTACT_PAYLOAD),  # intents.commands
}
# An answer that sends residents to the official information ends with what the operator
# set: the center's details, the texts' links (knowledge/center.py).
_OFFICIAL = re.compile(r"公式情報|official information", re.IGNORECASE)

# A message without any domain word is about something else (「鎌倉の天気」) unless it is
# nearly verbatim one of our phrasings (rescaled fuzz 0.7 = a rapidfuzz ratio of 85).
VERBATIM = 0.7
FACT_SCORE = 0.8
# Below a form's answer (0.97) and a command (0.98): text typed in a form is its answer.
FAQ_MAX = 0.95
FAQ_FLOOR = 0.2  # measured: a higher floor declines more right answers than wrong ones
# In a message of several sentences, the questions are answered (the surest one; the others
# that score at least PART_SCORE are offered as buttons) and the rest is their context.
PART_SCORE = 0.4
MAIN_MARGIN = 0.15
_QUESTION = re.compile(
    r"[?？]|(か|の|かな|ですか|ますか|でしょうか|ください|下さい|教えて|知りたい|いい|ある|ない|る)$"
    r"|どう|何|なに|なん|いつ|どこ|誰|だれ|どれ|いくつ|いくら|どの|どんな"
)
MAX_ALSO = 2
MIN_PART = 4  # folded characters
_SENTENCE_END = re.compile(
    r"[。？?！!\n]+|(?<=[、,\s])(?=あと|それと|それから|ちなみに|また)"
)  # a message that names a row of a chart (「高齢化は何%」) asks for its figure
OFF_TOPIC_DISCOUNT = 0.15
# A short message shaped like a follow-up: 「市のほうは？」「それは何%？」「じゃあ未回答は」.
FOLLOW_UP_TURNS = 3
FOLLOW_UP_LENGTH = 16  # folded characters
_FOLLOW_UP = re.compile(
    r"^(それ|その|じゃあ|じゃ|では|なら|あと|ちなみに|で、|and|what about|how about)"
    r"|(は|って|のほう|の方|のほうは|だと|では|なら)[?？]?$|[?？]$",
    re.IGNORECASE,
)
# 「2つ目は？」「3番目をもう少し詳しく」「the second one?」 after an answer that lists the parts
# of a section (the four principles ア〜エ, the center's four functions ①〜④): that part.
_ORDINAL = re.compile(
    r"^(?:その|じゃあ|じゃ|では|で)?[\s、,]*([1-9]|[一二三四五六七八九])\s*(?:つ目|つめ|番目|ばんめ|個目|こめ)"
    r"|^(?:and|what about|how about|the|[\s,])*(first|second|third|fourth|fifth|sixth|1st|2nd|3rd"
    r"|4th|5th|6th|last)\b(?:\s*one)?"
    r"|^(?:その|じゃあ|じゃ|では|で)?[\s、,]*(最後|さいご)",  # the last part
    re.IGNORECASE,
)
# What may follow the ordinal in a follow-up: 「は？」「をもう少し詳しく」「ってどういう意味？」;
# anything else (「2番目の分野は？」「2つ目のイベントに申し込みたい」) is a question of its own.
_ORDINAL_TAIL = re.compile(
    r"^(?:の(?:もの|やつ|こと)?)?(?:は|って|を|について|の意味)?\s*(?:もう少し|もうすこし|もっと)?"
    r"(?:詳しく|くわしく)?(?:教えて|おしえて|知りたい)?(?:ください|下さい)?"
    r"(?:どういう意味|どういうこと|なに|何)?(?:ですか|でしょうか|なの)?"
    r"(?:\s*(?:please|in detail|in more detail|mean|means))*[\s?？。.!！]*$",
    re.IGNORECASE,
)
LAST = -1  # 「最後のは？」: the last part, however many there are
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6,
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "last": LAST, "最後": LAST, "さいご": LAST,
}  # fmt: skip
# After a place outside: that city's own rule (「藤沢市の条例」「横浜市の市民協働条例」).
_THEIR_OWN = r"(?:市|町)?(?:の|では|で)[^。？?！!、,]{0,8}?(?:%s)"
PART_MARKS = "アイウエオカキクケコ①②③④⑤⑥⑦⑧⑨"  # how the guideline numbers a section's parts
ORDINAL_LENGTH = 24  # folded characters: a follow-up, not a question of its own
ORDINAL_SCORE = 0.9
# The guideline quotes only article 9 of the ordinance; 「第3条には何が」 is not ours to answer.
_OTHER_ARTICLE = re.compile(r"第?([0-9０-９一二三四五六七八十]+)条")


def faq_confidence(hit: FaqHit, anchored: bool, text: str) -> float:
    """The router score of an FAQ hit: its score, discounted when the words are not ours."""
    article = _OTHER_ARTICLE.search(text)
    if article and article.group(1) not in ("9", "９", "九"):
        return hit.score * OFF_TOPIC_DISCOUNT
    if hit.fuzz >= VERBATIM:
        return min(FAQ_MAX, max(hit.score, hit.fuzz))
    if not anchored:
        return hit.score * OFF_TOPIC_DISCOUNT
    return min(FAQ_MAX, hit.score)


def followed_question(turn: Turn) -> str:
    """The last question, when this message is a short follow-up to it (「市のほうは？」
    「それは何%？」「Ⅲは？」); empty otherwise. A follow-up expires after a few turns."""
    last = turn.state.get("last_faq")
    if not isinstance(last, dict) or int(last.get("age", 0)) >= FOLLOW_UP_TURNS:
        return ""
    if len(turn.folded) > FOLLOW_UP_LENGTH or not _FOLLOW_UP.search(turn.text.strip()):
        return ""
    if not turn.faq.knows_words_of(turn.text):
        return ""  # 「鎌倉の天気は？」 after a question is still about the weather
    return str(last.get("question") or "")[:200]


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one text (a whole message or one of its questions) is best answered by."""

    score: float
    entry: FaqEntry
    facts: tuple[Fact, ...] = ()


def _best_answer(
    turn: Turn, text: str, context: str = "", background: bool = False
) -> _Answer | None:
    result = turn.faq.search(text, context=context, background=background)
    best = result.best
    if best is None:
        return None
    score = faq_confidence(best, result.anchored, text)
    if result.facts and result.anchored:
        # Rows of one of the guideline's charts, named: lead with their figures. The best
        # entry, if it is of that chart's section and states the figure, is more focused.
        fact = result.facts[0]
        # (Or an entry of another section that leads with this very figure: 「全部でいくつ」
        # is the count's own entry, 3(1)イ, not the chart of the years, 3(1)ア, whose last
        # row it is.)
        lead = best.entry.answer.strip().split("。", 1)[0]
        whole = re.compile(rf"(?<![\d.]){re.escape(fact.value)}")  # 3団体 is not 103団体
        focused = fact.value in best.entry.answer and (
            best.entry.section == fact.chart.section or bool(whole.search(lead))
        )
        entry = best.entry if focused else turn.faq.get(fact.chart.entry)
        if entry is not None:
            return _Answer(max(score, FACT_SCORE), entry, result.facts)
    return _Answer(score, best.entry)


def questions_in(text: str) -> list[str]:
    """The questions of a long or multi-part message: its sentences, and clauses that begin
    with 「あと」「それと」「それから」「ちなみに」."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    return [p for p in parts if len(fold(p)) >= MIN_PART] if len(parts) > 1 else []


class FaqRule:
    """Matches free text against the FAQ phrasings, keywords and readings.

    A message of several sentences is answered by its best-answered question (the main one);
    the others' answers are offered as buttons (``slots["also"]``)."""

    def match(self, turn: Turn) -> Match | None:
        if turn.payload is not None or not turn.folded:
            return None
        if _another_citys(turn):
            return None  # 「藤沢市の条例は？」: the guideline is Kamakura's; the fallback says so
        part = _nth_part_asked(turn)
        if part is not None:
            return Match("faq", ORDINAL_SCORE, answer, {"faq_id": part.id}, part)
        parts = questions_in(turn.text)
        asked = [p for p in parts if _QUESTION.search(p)]
        if asked:
            # What is said around the questions (「自治会の役員です」) is their context.
            said = " ".join(p for p in parts if p not in asked)
            answers = [
                a for q in asked if (a := _best_answer(turn, q, said, bool(said))) is not None
            ]
        else:
            answers = []
        whole = _best_answer(turn, turn.text, "" if parts else followed_question(turn))
        if not answers:
            if whole is None:
                return None
            answers = [whole]
        # The first question asked is the main one, unless another is clearly surer.
        main = answers[0]
        for other in answers[1:]:
            if other.score > main.score + MAIN_MARGIN:
                main = other
        others = [a for a in answers if a.score >= PART_SCORE and a.entry.id != main.entry.id]
        slots = {"faq_id": main.entry.id}
        if main.facts:
            slots["fact"] = "・".join(f.item for f in main.facts)
        also = list(dict.fromkeys(a.entry.id for a in others))[:MAX_ALSO]
        if also:
            slots["also"] = ",".join(also)
        if main.score < FAQ_FLOOR:
            return None  # too little of the message is explained by any entry
        return Match("faq", main.score, answer, slots, (main.entry, main.facts))


def _another_citys(turn: Turn) -> bool:
    """Whether the message asks about another city's own rules (「藤沢市の条例」); not one
    that only names a place outside (「藤沢から通勤していても参加できる？」)."""
    text = unicodedata.normalize("NFKC", turn.text)
    rules = _city_rules()
    if not rules.search(text):
        return False
    outside = turn.places.outside_named(text)
    if outside is None:
        return False
    return re.search(re.escape(outside.name) + _THEIR_OWN % rules.pattern, text) is not None


@cache
def _city_rules() -> re.Pattern[str]:
    """``domain.toml``'s city_rules as one pattern."""
    return re.compile("|".join(map(re.escape, load_domain()["city_rules"])))


def _nth_part_asked(turn: Turn) -> FaqEntry | None:
    """The entry of the part 「2つ目」 names, of the section the last answer was about (or
    whose part it was): None when this is not such a follow-up, or there is no such part."""
    last = turn.state.get("last_faq")
    if not isinstance(last, dict) or int(last.get("age", 0)) >= FOLLOW_UP_TURNS:
        return None
    if len(turn.folded) > ORDINAL_LENGTH:
        return None
    said_text = unicodedata.normalize("NFKC", turn.text).strip()
    found = _ORDINAL.search(said_text)
    entry = turn.faq.get(str(last.get("id") or ""))
    if found is None or entry is None or not _ORDINAL_TAIL.match(said_text[found.end() :]):
        return None
    if "most" in turn.faq.asked_kinds(str(last.get("question") or "")):
        return None  # after 「一番多いのは？」, 「2番目は？」 is the next of the ranking
    said = (found.group(1) or found.group(2) or found.group(3) or "").lower()
    n = int(said) if said.isascii() and said.isdigit() else _ORDINAL_WORDS.get(said, 0)
    section = entry.section
    parent = section[:-1] if section and section[-1] in PART_MARKS else section
    parts: dict[str, FaqEntry] = {}
    for e in turn.faq.entries:  # in the files' order: a part's first entry is its own
        mark = e.section[len(parent) :]
        if e.section.startswith(parent) and len(mark) == 1 and mark in PART_MARKS:
            parts.setdefault(mark, e)
    ordered = [parts[m] for m in sorted(parts, key=PART_MARKS.index)]
    if n == LAST:
        n = len(ordered)
    return ordered[n - 1] if 0 < n <= len(ordered) else None


class FaqPayloadRule:
    """A tap on an FAQ button (menu item or related question)."""

    def match(self, turn: Turn) -> Match | None:
        if not turn.payload or not turn.payload.startswith(FAQ_PAYLOAD):
            return None
        entry = turn.faq.get(turn.payload.removeprefix(FAQ_PAYLOAD))
        if entry is None:
            return None
        return Match("faq", 1.0, answer, {"faq_id": entry.id}, entry)


class FeedbackRule:
    """A tap on 「役に立った」 or 「ちがう」 under an answer."""

    def match(self, turn: Turn) -> Match | None:
        if not turn.payload or not turn.payload.startswith(FEEDBACK_PAYLOAD):
            return None
        entry_id, _, verdict = turn.payload.removeprefix(FEEDBACK_PAYLOAD).rpartition(":")
        if turn.faq.get(entry_id) is None or verdict not in ("0", "1"):
            return None
        return Match("faq_feedback", 1.0, feedback, {"faq_id": entry_id, "helpful": verdict})


def answer(turn: Turn, match: Match) -> Reply:
    """The entry's answer, its source, related questions and the feedback buttons."""
    entry, facts = match.data if isinstance(match.data, tuple) else (match.data, ())
    text = entry.answer_for(turn.locale) + "\n" + turn.say("source_format", source=entry.source)
    if facts:
        text = "\n".join(f.lead(turn.locale) for f in facts) + "\n\n" + text
    also = [e for i in match.slots.get("also", "").split(",") if i and (e := turn.faq.get(i))]
    text += _official_details(turn, entry.answer_for(turn.locale))
    if also:
        text += "\n\n" + turn.say("faq_also")
    related = [e for rid in entry.related[:MAX_RELATED] if (e := turn.faq.get(rid)) is not None]
    choices = _actions(turn, entry)
    choices += [
        Choice(e.label, FAQ_PAYLOAD + e.id)
        for e in dict.fromkeys([*also, *related])
        if e.id != entry.id
    ][: MAX_RELATED + MAX_ALSO]
    choices += [
        Choice(turn.messages.label("helpful", turn.locale), f"{FEEDBACK_PAYLOAD}{entry.id}:1"),
        Choice(turn.messages.label("not_helpful", turn.locale), f"{FEEDBACK_PAYLOAD}{entry.id}:0"),
        Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD),
    ]
    # The question a follow-up will be read against: a follow-up keeps the one it followed.
    context = followed_question(turn)
    question = f"{context} {turn.text}" if context else turn.text
    turn.state["last_faq"] = {"id": entry.id, "question": question[:500], "age": 0}
    return Reply(
        text,
        "faq",
        choices=choices,
        slots=dict(match.slots),
        source=entry.source,
        locale=turn.locale,
    )


def _actions(turn: Turn, entry: FaqEntry) -> list[Choice]:
    """The entry's action buttons; the center's only when the operator set how to reach it
    (a button to 「分かりません」 would be no help)."""
    label = turn.messages.label
    return [
        Choice(label(ACTION_BUTTONS[a][0], turn.locale), ACTION_BUTTONS[a][1])
        for a in entry.actions
        if a != "contact_center" or turn.center.reachable
    ]


def _official_details(turn: Turn, answer: str) -> str:
    """What to add to an answer that says to check the official information: the center's
    details and the texts' links as the operator set them; nothing when none is set (the
    answer already says where to look)."""
    if not _OFFICIAL.search(answer):
        return ""
    contact, texts = turn.center_contact(), turn.center_texts()
    if not contact and not texts:
        return ""
    parts = [turn.say("faq_center_details", contact=contact)] if contact else []
    return "\n\n" + "\n\n".join([*parts, *([texts] if texts else [])])


def feedback(turn: Turn, match: Match) -> Reply:
    """Count the tap once per answer; on 「ちがう」, pass the question on to the center."""
    entry_id = match.slots["faq_id"]
    helpful = match.slots["helpful"] == "1"
    last = turn.state.get("last_faq") or {}
    if last.get("id") == entry_id and not last.get("rated"):
        turn.store.record_feedback(entry_id, helpful)
        last["rated"] = True
        turn.state["last_faq"] = last
        question = str(last.get("question") or "")
        if not helpful and question:
            turn.store.record_unanswered(question, fold(question), turn.locale)
    text = turn.say("feedback_up" if helpful else "feedback_down")
    choices = [Choice(turn.messages.label("menu", turn.locale), MENU_PAYLOAD)]
    return Reply(
        text, "faq_feedback", choices=choices, slots=dict(match.slots), locale=turn.locale
    )
