"""The posting form's date, time and capacity steps (intents/recruit.py): read a day and a time
as a representative writes them, say back what was understood, and ask for what is missing.

Values they leave in the form: ``date`` (ISO), ``time`` ([start, end] as HH:MM), ``capacity``,
and while the form runs ``time_start`` (a start given without an end: the time step asks for
the end), ``when_heard`` (the next prompt says back the day and time) and ``date_options``
(the two readings of a date whose weekday disagrees, offered as buttons).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from intents import forms
from intents.forms import Parsed, value_choice
from intents.turn import Turn
from intents.types import Choice
from knowledge.clock import ClockReading, read_clock
from knowledge.numerals import read_count
from knowledge.when import TOKYO, DayReading, read_day, today_in_tokyo

MAX_CAPACITY = 500
MAX_DAYS_AHEAD = 366
OPTIONS = "date_options"
PENDING = "date_pending"  # [day, start] while the end is asked for, fixing from the preview


# --- the date -------------------------------------------------------------------------------


def parse_date(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    """The day, and the time too when the message has one (「来週の土曜 10時から」)."""
    # A mismatch's buttons are for the answer right after it; the parser is the only place
    # that may leave choices for the form to show with an error (forms.Parsed carries none).
    values.pop(OPTIONS, None)
    today = today_in_tokyo(turn.now)
    reading = read_day(raw, today)
    pending = values.pop(PENDING, None)
    if reading.day is None and reading.problem == "unknown" and pending:
        # Fixing the date from the preview, a start came without an end and the end was
        # asked for: 「11時半まで」 finishes the day and start already given.
        return _finish_pending(turn, raw, pending) or Parsed(error="recruit_bad_date")
    problem = _day_problem(turn, reading, today)
    if problem is not None or reading.day is None:
        return problem or Parsed(error="recruit_bad_date")
    day = reading.day
    clock = read_clock(reading.rest)
    if reading.problem == "weekday" and reading.other is not None:
        values[OPTIONS] = [_option(d, clock) for d in (day, reading.other)]
        names = turn.messages.items("recruit_weekday_names", turn.locale)
        return Parsed(
            error="recruit_weekday_mismatch",
            error_values={
                "said": names[reading.weekday or 0],
                "day": day_label(turn, day),
                "actual": names[day.weekday()],
            },
        )
    extra: dict[str, Any] = {"when_heard": True, "time_start": None}
    if clock.kind in ("range", "overnight"):
        times = _checked_range(turn, day, clock)
        if isinstance(times, Parsed):
            return times
        extra["time"] = times
    elif clock.kind == "start" and clock.start is not None:
        start = clock.start
        if datetime.combine(day, start, TOKYO) <= turn.now:
            return Parsed(error="recruit_past_time")
        if _returning_to_preview(turn):  # no time step comes: the end must come now
            values[PENDING] = [day.isoformat(), _hm(start)]
            return Parsed(error="recruit_need_end_here", error_values={"start": _hm(start)})
        extra.update(time=None, time_start=_hm(start))
    elif clock.kind in ("vague", "end", "duration"):
        # 「午後」「12時まで」 with the day: never keep an old time in their place.
        if _returning_to_preview(turn):
            key = f"recruit_vague_{clock.part}" if clock.kind == "vague" else "recruit_need_start"
            return Parsed(error=key)
        extra.update(time=None)
    return Parsed(day.isoformat(), extra=extra)


def _finish_pending(turn: Turn, raw: str, pending: list[str]) -> Parsed | None:
    day, start = date.fromisoformat(pending[0]), _parse_hm(pending[1])
    clock = read_clock(raw)
    if clock.kind == "duration":
        clock = _with_duration(start, clock.minutes)
    elif clock.kind in ("start", "end"):
        clock = ClockReading("range", start, clock.start or clock.end)
    if clock.kind not in ("range", "overnight"):
        return None
    times = _checked_range(turn, day, clock)
    if isinstance(times, Parsed):
        return times
    return Parsed(day.isoformat(), extra={"time": times, "time_start": None, "when_heard": True})


def date_choices(turn: Turn, values: dict[str, Any]) -> list[Choice]:
    """After a weekday mismatch: the date as written and the nearest one with that weekday."""
    options = values.get(OPTIONS) or []
    return [value_choice(day_label(turn, date.fromisoformat(o[:10])), o) for o in options]


def _day_problem(turn: Turn, reading: DayReading, today: date) -> Parsed | None:
    if reading.problem == "unknown":
        return Parsed(error="recruit_bad_date")
    months = turn.messages.items("recruit_months", turn.locale)
    if reading.problem == "impossible":
        month = reading.month or today.month
        month_name = months[month - 1] if 1 <= month <= 12 else str(month)
        if reading.ordinal is not None and reading.weekday is not None:
            names = turn.messages.items("recruit_weekday_names", turn.locale)
            weekday = names[reading.weekday]
            return Parsed(
                error="recruit_no_such_weekday",
                error_values={
                    "month": month,
                    "month_name": month_name,
                    "n": reading.ordinal,
                    "weekday": weekday,
                },
            )
        return Parsed(
            error="recruit_impossible_date",
            error_values={"month": month, "month_name": month_name, "mday": reading.mday},
        )
    day = reading.day
    if day is None:
        return Parsed(error="recruit_bad_date")
    if reading.problem == "past":
        return Parsed(error="recruit_past_date", error_values={"day": day_label(turn, day)})
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        return Parsed(error="recruit_far_date")
    return None


def _option(day: date, clock: ClockReading) -> str:
    """A button's answer: the ISO day, with the time as read (the parser reads it back)."""
    if clock.kind == "range" and clock.start and clock.end:
        return f"{day.isoformat()} {_hm(clock.start)}-{_hm(clock.end)}"
    if clock.kind == "start" and clock.start:
        return f"{day.isoformat()} {_hm(clock.start)}~"
    return day.isoformat()


def _returning_to_preview(turn: Turn) -> bool:
    current = forms.active(turn)
    return bool(current and current[1].get("return_to"))


# --- the time -------------------------------------------------------------------------------


def parse_time(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    """A start and an end. A start alone is kept and the end asked for: 「10時から」, then
    「12時」 or 「2時間」."""
    day = date.fromisoformat(values["date"])
    clock = read_clock(read_day(raw, day).rest)  # a day typed again is not a time
    kept = values.get("time_start")
    if kept and clock.kind in ("start", "end", "duration"):
        start = _parse_hm(kept)
        if clock.kind == "duration":
            clock = _with_duration(start, clock.minutes)
        else:  # after a start, a lone time is the end: 「12時」 as well as 「12時まで」
            clock = ClockReading("range", start, clock.start or clock.end)
    if clock.kind in ("range", "overnight"):
        times = _checked_range(turn, day, clock)
        if isinstance(times, Parsed):
            return times
        return Parsed(times, extra={"time_start": None, "when_heard": True})
    if clock.kind == "start" and clock.start is not None:
        if datetime.combine(day, clock.start, TOKYO) <= turn.now:
            return Parsed(error="recruit_past_time")
        # Stay at this question with the start kept; its prompt now asks for the end.
        values["time_start"] = _hm(clock.start)
        return Parsed(error="recruit_need_end")
    if clock.kind in ("end", "duration"):
        return Parsed(error="recruit_need_start")
    if clock.kind == "vague":
        return Parsed(error=f"recruit_vague_{clock.part}")
    return Parsed(error="recruit_bad_time")


def ask_time(turn: Turn, values: dict[str, Any]) -> str:
    """「12月12日(土)ですね。」 and the question: the times, or the end when the start is known."""
    if not values.get("date"):
        return turn.say("recruit_ask_time")
    day = day_label(turn, date.fromisoformat(values["date"]))
    start = values.get("time_start")
    if start:
        heard = turn.say("recruit_heard_start", day=day, start=start)
        return heard + "\n" + turn.say("recruit_ask_end")
    return turn.say("recruit_heard_day", day=day) + "\n" + turn.say("recruit_ask_time")


def _checked_range(turn: Turn, day: date, clock: ClockReading) -> list[str] | Parsed:
    if clock.kind == "overnight" or clock.start is None or clock.end is None:
        return Parsed(error="recruit_overnight")
    if clock.end <= clock.start:
        return Parsed(error="recruit_end_before_start")
    if datetime.combine(day, clock.start, TOKYO) <= turn.now:
        return Parsed(error="recruit_past_time")
    return [_hm(clock.start), _hm(clock.end)]


def _with_duration(start: time, minutes: int) -> ClockReading:
    end = start.hour * 60 + start.minute + minutes
    if end > 24 * 60:
        return ClockReading("overnight", start)
    return ClockReading("range", start, time(23, 59) if end == 24 * 60 else time(*divmod(end, 60)))


# --- the capacity -----------------------------------------------------------------------------


def parse_capacity(turn: Turn, raw: str, values: dict[str, Any]) -> Parsed:
    """How many people: 「10」「十人」「二十名」「3人」."""
    number = read_count(raw)
    if number is None or not 1 <= number <= MAX_CAPACITY:
        return Parsed(error="recruit_bad_capacity", error_values={"max": MAX_CAPACITY})
    if values.get("edit_call_id"):  # an edit: not below the places already taken
        call = turn.store.own_call(turn.user.id, int(values["edit_call_id"]))
        if call is not None and number < call.taken:
            return Parsed(error="recruit_below_taken_here", error_values={"taken": call.taken})
    return Parsed(number, extra={"when_heard": None})


def ask_capacity(turn: Turn, values: dict[str, Any]) -> str:
    """The capacity question, after 「12月12日(土) 10:00〜12:00 ですね。」 when the day and
    time were just given."""
    ask = turn.say("recruit_ask_capacity")
    if not (values.get("when_heard") and values.get("date") and values.get("time")):
        return ask
    start, end = values["time"]
    day = day_label(turn, date.fromisoformat(values["date"]))
    return turn.say("recruit_heard_when", day=day, start=start, end=end) + "\n" + ask


# --- common -----------------------------------------------------------------------------------


def day_label(turn: Turn, day: date) -> str:
    """「12月5日(土)」 ("Sat 5 Dec")."""
    weekdays = turn.messages.items("recruit_weekdays", turn.locale)
    months = turn.messages.items("recruit_months", turn.locale)
    return turn.say(
        "recruit_day_label",
        month=day.month,
        mday=day.day,
        month_name=months[day.month - 1],
        weekday=weekdays[day.weekday()],
    )


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def _parse_hm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))
