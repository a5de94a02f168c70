"""「カレンダーに追加」: what a confirmed sign-up's calendar entry says, and the link that adds it.

Every platform gets the same choice, a link (``Choice.url``) to Google Calendar's template
page with the call's title, times, place and a short note filled in: it opens in LINE's and
Telegram's in-app browsers, and we keep nothing for it. The choice's payload (``cal:<sign-up
id>``) names the sign-up, so the web chat can link to its own ``.ics`` download instead
(``bot/calendar.py``, ``GET /calendar/<token>.ics``), which any calendar program opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from intents.turn import Turn
from intents.types import MAX_URL, Choice
from knowledge.messages import Messages
from storage.openings import CallView

CALENDAR_PAYLOAD = "cal:"
GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
TIME_ZONE = "Asia/Tokyo"  # how Google shows the times; the times themselves are in UTC


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """A call as an event in someone's calendar."""

    title: str
    starts_at: datetime
    ends_at: datetime
    location: str  # the call's place; empty when it has none
    description: str  # the group, the meeting point, what to bring, and where it came from


def calendar_entry(messages: Messages, locale: str, call: CallView) -> CalendarEntry:
    """The calendar entry of ``call``, its note in ``locale``."""
    note = messages.get(
        "calendar_details", locale,
        group=call.group_name, meeting_point=call.meeting_point or "—", bring=call.bring or "—",
    )  # fmt: skip
    return CalendarEntry(call.title, call.starts_at, call.ends_at, call.place.strip(), note)


def utc_stamp(moment: datetime) -> str:
    """``20261205T010000Z``: an aware time in UTC, as iCalendar and Google write it."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_calendar_url(entry: CalendarEntry, limit: int = MAX_URL) -> str:
    """Google Calendar's "add event" page for ``entry``, at most ``limit`` characters (LINE's
    uri limit: Japanese takes 9 characters a letter once percent-encoded, so the note, then
    the place, then the title are shortened until it fits)."""
    texts = {"text": entry.title, "details": entry.description, "location": entry.location}
    dates = f"{utc_stamp(entry.starts_at)}/{utc_stamp(entry.ends_at)}"

    def url() -> str:
        params = {"action": "TEMPLATE", "text": texts["text"], "dates": dates}
        params |= {k: texts[k] for k in ("details", "location") if texts[k]}
        params["ctz"] = TIME_ZONE
        return f"{GOOGLE_TEMPLATE}?{urlencode(params, safe='/', quote_via=quote)}"

    for key in ("details", "location", "text"):
        while len(url()) > limit and texts[key]:
            texts[key] = _shorter(texts[key])
    return url()


def _shorter(text: str) -> str:
    """``text`` a little shorter, ending in 「…」 (empty once nothing is left)."""
    kept = text.removesuffix("…")[: max(0, len(text.removesuffix("…")) - 4)].rstrip()
    return kept + "…" if kept else ""


def calendar_choice(turn: Turn, sign_up_id: int, call: CallView) -> Choice:
    """「カレンダーに追加」 for one confirmed sign-up."""
    return calendar_button(turn.messages, turn.locale, sign_up_id, call)


def calendar_button(messages: Messages, locale: str, sign_up_id: int, call: CallView) -> Choice:
    """:func:`calendar_choice` outside a turn (a notice: moved up from the waiting list)."""
    return Choice(
        messages.label("calendar_add", locale),
        f"{CALENDAR_PAYLOAD}{sign_up_id}",
        url=google_calendar_url(calendar_entry(messages, locale, call)),
    )


def calendar_sign_up(choice: Choice) -> int | None:
    """The sign-up a 「カレンダーに追加」 link is for (None for any other choice)."""
    number = choice.payload.removeprefix(CALENDAR_PAYLOAD)
    if not choice.url or number == choice.payload or not (number.isascii() and number.isdigit()):
        return None
    return int(number)
