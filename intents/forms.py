"""Guided forms: a conversation that asks one question at a time (posting a recruitment call,
signing up), with 「戻る」 and 「やめる」 at every step.

The form's progress lives in the user's conversation state (the database), so a half-filled
form survives a restart and any server process can continue it. Values are JSON-ready.

Payloads: ``f:v:<value>`` a choice, ``f:back``, ``f:quit``, ``f:skip``, ``f:goto:<key>`` (jump
to a question from the preview, then come back to it).

Whatever payloads arrive (crafted, stale, meant for another form), a question is asked only
when every required question before it is answered, and a form finishes only when all are:
``_ask`` and ``answer`` both check it. 「戻る」 goes to the question before, answered or not
(only those the form started with already answered are passed over); from a question reached
by 「直す」 it goes back to the preview.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intents.menu import menu_choices
from intents.router import Match
from intents.turn import Turn
from intents.types import MAX_CHOICES, Choice, Reply

STATE = "form"
FORM_PAYLOAD_PREFIX = "f:"  # every button of a form
RESUME_PAYLOAD = "f:resume"  # back to the waiting question after a command (intents/commands.py)
FORM_SCORE = 0.97  # text typed while a form waits is the answer, unless it is a button
BACK_WORDS = {"戻る", "もどる", "戻って", "前に戻る", "back"}
QUIT_WORDS = {
    "やめる", "止める", "やめます", "やめたい", "やめときます", "やめておきます", "もういい",
    "キャンセル", "中止", "quit", "cancel", "stop",
}  # fmt: skip
SKIP_WORDS = {"なし", "無し", "特になし", "とくになし", "スキップ", "skip", "none"}
ESCAPE_WORDS = {"メニュー", "めにゅー", "menu", "ヘルプ", "へるぷ", "help"}


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed answer, or the message key of what is wrong with it."""

    value: Any = None
    error: str | None = None
    error_values: dict[str, object] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other values set by this answer
    # Ways out offered with the error (「ほかの募集をさがす」 when the call is not for them).
    offer: tuple[Choice, ...] = ()


Prompt = Callable[[Turn, dict[str, Any]], str]
Parser = Callable[[Turn, str, dict[str, Any]], Parsed]
Choices = Callable[[Turn, dict[str, Any]], list[Choice]]


def _no_choices(_turn: Turn, _values: dict[str, Any]) -> list[Choice]:
    return []


def _never(_turn: Turn, _values: dict[str, Any]) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Question:
    """One step of a form."""

    key: str
    prompt: Prompt
    parse: Parser
    choices: Choices = _no_choices
    skip: Callable[[Turn, dict[str, Any]], bool] = _never
    optional: bool = False  # 「なし」 or the skip button leaves it empty


@dataclass(frozen=True, slots=True)
class Form:
    """A named list of questions and what to do once the last one (the confirmation) is
    answered: ``finish`` gets the values and returns the reply."""

    name: str
    intent: str
    questions: tuple[Question, ...]
    finish: Callable[[Turn, dict[str, Any]], Reply]

    def index(self, key: str) -> int:
        return next(i for i, q in enumerate(self.questions) if q.key == key)


FORMS: dict[str, Form] = {}


def register(form: Form) -> Form:
    """Make a form resumable by name."""
    FORMS[form.name] = form
    return form


def start(
    turn: Turn, form: Form, values: dict[str, Any] | None = None, at: str | None = None
) -> Reply:
    """Begin (or restart) a form, optionally prefilled and at a given question."""
    values = dict(values or {})
    # The questions passed over because their answer came with the form (a known name, the
    # only group): 「戻る」 does not lead back to them.
    prefilled = [q.key for q in form.questions if q.skip(turn, values)]
    turn.state[STATE] = {"name": form.name, "step": 0, "values": values, "prefilled": prefilled}
    if at is not None:
        turn.state[STATE]["step"] = form.index(at)
    return _advance(turn, form, 0)


def active(turn: Turn) -> tuple[Form, dict[str, Any]] | None:
    """The form in progress, if any."""
    data = turn.state.get(STATE)
    if not isinstance(data, dict) or data.get("name") not in FORMS:
        return None
    if not isinstance(data.get("values"), dict):
        data["values"] = {}
    return FORMS[data["name"]], data


def clear(turn: Turn) -> None:
    """Forget the form in progress."""
    turn.state.pop(STATE, None)


class FormRule:
    """While a form waits for an answer, typed text and the form's buttons go to it."""

    def match(self, turn: Turn) -> Match | None:
        current = active(turn)
        if current is None:
            return None
        form, _ = current
        if turn.payload is not None:
            if turn.payload.startswith("f:"):
                return Match(form.intent, 1.0, answer)
            return None
        if not turn.text or turn.text.strip().lower() in ESCAPE_WORDS:
            return None
        return Match(form.intent, FORM_SCORE, answer)


def answer(turn: Turn, match: Match) -> Reply:
    """Apply one answer (or 戻る / やめる) and ask the next question."""
    current = active(turn)
    if current is None:  # pragma: no cover - the rule checked
        return Reply(turn.say("unknown_choice"), "stale_choice", choices=menu_choices(turn))
    form, data = current
    step = _step(form, data)
    values: dict[str, Any] = data["values"]
    question = form.questions[step]
    last = len(form.questions) - 1
    payload = turn.payload or ""
    text = turn.text.strip()
    if payload == "f:quit" or text.lower() in QUIT_WORDS:
        clear(turn)
        return Reply(
            turn.say("form_quit"), form.intent, choices=menu_choices(turn), locale=turn.locale
        )
    if payload == "f:back" or text.lower() in BACK_WORDS:
        return _back(turn, form)
    if payload == RESUME_PAYLOAD:
        return _ask(turn, form)
    if payload.startswith("f:goto:"):
        # The preview's 「直す」: back to a question answered before, then to the preview.
        # From anywhere else, to a value that is not a question's answer, or to a question
        # not answered, it is ignored (a crafted jump skips nothing).
        target = _index(form, payload.removeprefix("f:goto:"))
        if (
            step == last
            and target is not None
            and target != step
            and _answered(form, values, target)
        ):
            data["step"] = target
            data["return_to"] = question.key
        return _ask(turn, form)
    if (payload == "f:skip" or text.lower() in SKIP_WORDS) and question.optional:
        values[question.key] = None
    else:
        raw = payload.removeprefix("f:v:") if payload.startswith("f:v:") else text
        if payload.startswith("f:v:") and payload not in {
            c.payload for c in question.choices(turn, values)
        }:  # a button of another question (戻る, then an old button): not this answer
            return _ask(turn, form, error="form_stale_choice")
        if not raw:
            return _ask(turn, form, error="form_empty")
        parsed = question.parse(turn, raw, values)
        if parsed.error:
            return _ask(turn, form, error=parsed.error, offer=parsed.offer, **parsed.error_values)
        if step == last:
            missing = _first_missing(turn, form, values)
            if missing is not None:  # never finish a form with a required answer missing
                data["step"] = missing
                return _ask(turn, form)
            return form.finish(turn, values)
        values[question.key] = parsed.value
        values.update(parsed.extra)
    back_to = _index(form, str(data.pop("return_to", "")))
    if back_to is not None:
        data["step"] = back_to
        return _advance(turn, form, 0)
    return _advance(turn, form, +1)


def _step(form: Form, data: dict[str, Any]) -> int:
    """The current step as saved, kept within the form (a saved state is not trusted)."""
    try:
        step = int(data.get("step", 0))
    except (TypeError, ValueError):
        step = 0
    return min(max(step, 0), len(form.questions) - 1)


def _index(form: Form, key: str) -> int | None:
    """The step of the question ``key``; None when the form has no such question."""
    return next((i for i, q in enumerate(form.questions) if q.key == key), None)


def _answered(form: Form, values: dict[str, Any], step: int) -> bool:
    question = form.questions[step]
    if question.optional:
        return question.key in values
    return values.get(question.key) not in (None, "")


def _first_missing(
    turn: Turn, form: Form, values: dict[str, Any], before: int | None = None
) -> int | None:
    """The step of the first question (before ``before``; by default, before the last one)
    that applies, is required and has no answer."""
    end = len(form.questions) - 1 if before is None else before
    for step, q in enumerate(form.questions[:end]):
        if q.optional or q.skip(turn, values):
            continue
        if values.get(q.key) in (None, ""):
            return step
    return None


def _back_step(turn: Turn, form: Form, data: dict[str, Any]) -> int | None:
    """Where 「戻る」 leads: the nearest question before this one that applies, answered or
    not, except those the form began with answered; None at the first question."""
    values = data["values"]
    prefilled = set(data.get("prefilled") or ())
    for step in range(_step(form, data) - 1, -1, -1):
        q = form.questions[step]
        if q.key in prefilled:
            continue
        if q.skip(turn, values) and not _answered(form, values, step):
            continue  # does not apply to this person
        return step
    if _step(form, data) == len(form.questions) - 1:
        # A preview whose every answer came with the form (a returning volunteer): 「戻る」
        # still leads somewhere, to the last answer given, so any of them can be changed.
        for step in range(len(form.questions) - 2, -1, -1):
            if _answered(form, values, step):
                return step
    return None


def _back(turn: Turn, form: Form) -> Reply:
    data = turn.state[STATE]
    back_to = _index(form, str(data.pop("return_to", "")))  # from a 「直す」: the preview
    if back_to is None:
        back_to = _back_step(turn, form, data)
    if back_to is not None:
        data["step"] = back_to
    return _ask(turn, form)


def _advance(turn: Turn, form: Form, direction: int) -> Reply:
    """Ask the question ``direction`` steps on (0: this one), passing over those that do not
    need asking."""
    data = turn.state[STATE]
    values = data["values"]
    step = _step(form, data) + direction
    while step < len(form.questions) - 1 and form.questions[step].skip(turn, values):
        step += 1
    data["step"] = min(step, len(form.questions) - 1)
    return _ask(turn, form)


def _ask(
    turn: Turn,
    form: Form,
    error: str | None = None,
    offer: tuple[Choice, ...] = (),
    **error_values: object,
) -> Reply:
    data = turn.state[STATE]
    values = data["values"]
    step = _step(form, data)
    missing = _first_missing(turn, form, values, before=step)
    if missing is not None:  # an earlier required answer is missing: that question first
        step, error = missing, None
        data.pop("return_to", None)
    data["step"] = step
    question = form.questions[step]
    text = question.prompt(turn, values)
    if error:
        text = turn.say(error, **error_values) + "\n" + text
    choices = question.choices(turn, values)
    label = turn.messages.label
    controls = []
    if question.optional:
        controls.append(Choice(label("form_skip", turn.locale), "f:skip"))
    if data.get("return_to") or _back_step(turn, form, data) is not None:
        controls.append(Choice(label("form_back", turn.locale), "f:back"))
    controls.append(Choice(label("form_quit", turn.locale), "f:quit"))
    controls = [*offer, *controls] if error else controls
    choices = choices[: MAX_CHOICES - len(controls)] + controls
    return Reply(
        text, form.intent, choices=choices, slots={"step": question.key}, locale=turn.locale
    )


def value_choice(label: str, value: str) -> Choice:
    """A choice that answers the current question with ``value``."""
    return Choice(label, f"f:v:{value}")
