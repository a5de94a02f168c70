"""Guided forms: a conversation that asks one question at a time (posting a recruitment call,
signing up), with 「戻る」 and 「やめる」 at every step.

The form's progress lives in the user's conversation state (the database), so a half-filled
form survives a restart and any server process can continue it. Values are JSON-ready.

Payloads: ``f:v:<value>`` a choice, ``f:back``, ``f:quit``, ``f:skip``, ``f:goto:<key>`` (jump
to a question from the preview, then come back to it).
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
RESUME_PAYLOAD = "f:resume"  # back to the waiting question after a command (intents/commands.py)
FORM_SCORE = 0.97  # text typed while a form waits is the answer, unless it is a button
BACK_WORDS = {"戻る", "もどる", "戻って", "前に戻る", "back"}
QUIT_WORDS = {"やめる", "止める", "やめます", "キャンセル", "中止", "quit", "cancel", "stop"}
SKIP_WORDS = {"なし", "無し", "特になし", "とくになし", "スキップ", "skip", "none"}
ESCAPE_WORDS = {"メニュー", "めにゅー", "menu", "ヘルプ", "へるぷ", "help"}


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed answer, or the message key of what is wrong with it."""

    value: Any = None
    error: str | None = None
    error_values: dict[str, object] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other values set by this answer


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
    turn.state[STATE] = {"name": form.name, "step": 0, "values": dict(values or {})}
    if at is not None:
        turn.state[STATE]["step"] = form.index(at)
    return _advance(turn, form, 0)


def active(turn: Turn) -> tuple[Form, dict[str, Any]] | None:
    """The form in progress, if any."""
    data = turn.state.get(STATE)
    if not isinstance(data, dict) or data.get("name") not in FORMS:
        return None
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
    step = int(data.get("step", 0))
    values: dict[str, Any] = data.setdefault("values", {})
    question = form.questions[min(step, len(form.questions) - 1)]
    payload = turn.payload or ""
    text = turn.text.strip()
    if payload == "f:quit" or text.lower() in QUIT_WORDS:
        clear(turn)
        return Reply(
            turn.say("form_quit"), form.intent, choices=menu_choices(turn), locale=turn.locale
        )
    if payload == "f:back" or text.lower() in BACK_WORDS:
        return _advance(turn, form, -1)
    if payload == RESUME_PAYLOAD:
        return _ask(turn, form)
    if payload.startswith("f:goto:"):
        # The preview's 「直す」: back to a question answered before, then to the preview.
        # From anywhere else, or forward, it is ignored (a crafted jump skips nothing).
        key = payload.removeprefix("f:goto:")
        at_preview = question is form.questions[-1]
        if at_preview and key in values and key != question.key:
            data["step"] = form.index(key)
            data["return_to"] = question.key
        return _ask(turn, form)
    if (payload == "f:skip" or text.lower() in SKIP_WORDS) and question.optional:
        values[question.key] = None
    else:
        raw = payload.removeprefix("f:v:") if payload.startswith("f:v:") else text
        if not raw:
            return _ask(turn, form, error="form_empty")
        parsed = question.parse(turn, raw, values)
        if parsed.error:
            return _ask(turn, form, error=parsed.error, **parsed.error_values)
        if question is form.questions[-1]:
            missing = _first_missing(turn, form, values)
            if missing is not None:  # never finish a form with a required answer missing
                data["step"] = missing
                return _ask(turn, form)
            return form.finish(turn, values)
        values[question.key] = parsed.value
        values.update(parsed.extra)
    if data.get("return_to"):
        data["step"] = form.index(data.pop("return_to"))
        return _advance(turn, form, 0)
    return _advance(turn, form, +1)


def _first_missing(turn: Turn, form: Form, values: dict[str, Any]) -> int | None:
    """The step of the first question that applies, is required and has no answer."""
    for step, q in enumerate(form.questions[:-1]):
        if q.optional or q.skip(turn, values):
            continue
        if values.get(q.key) is None:
            return step
    return None


def _advance(turn: Turn, form: Form, direction: int) -> Reply:
    data = turn.state[STATE]
    values = data["values"]
    step = int(data.get("step", 0)) + direction
    # Skip questions that do not apply, in the direction of travel.
    while 0 <= step < len(form.questions) and form.questions[step].skip(turn, values):
        step += -1 if direction < 0 else 1
    if step < 0:
        step = 0
        while step < len(form.questions) - 1 and form.questions[step].skip(turn, values):
            step += 1
    data["step"] = min(step, len(form.questions) - 1)
    return _ask(turn, form)


def _ask(turn: Turn, form: Form, error: str | None = None, **error_values: object) -> Reply:
    data = turn.state[STATE]
    question = form.questions[int(data["step"])]
    values = data["values"]
    text = question.prompt(turn, values)
    if error:
        text = turn.say(error, **error_values) + "\n" + text
    choices = question.choices(turn, values)
    label = turn.messages.label
    controls = []
    if question.optional:
        controls.append(Choice(label("form_skip", turn.locale), "f:skip"))
    if int(data["step"]) > 0:
        controls.append(Choice(label("form_back", turn.locale), "f:back"))
    controls.append(Choice(label("form_quit", turn.locale), "f:quit"))
    choices = choices[: MAX_CHOICES - len(controls)] + controls
    return Reply(
        text, form.intent, choices=choices, slots={"step": question.key}, locale=turn.locale
    )


def value_choice(label: str, value: str) -> Choice:
    """A choice that answers the current question with ``value``."""
    return Choice(label, f"f:v:{value}")
