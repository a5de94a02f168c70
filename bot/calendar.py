"""A confirmed sign-up as an iCalendar file, for the web chat's 「カレンダーに追加」.

``GET /calendar/<token>.ics`` (``bot/adapters/web.py``): the token names one sign-up and is
signed (HMAC-SHA256 with a key every process shares, ``store.shared_secret("calendar")``), so
nobody finds another person's sign-up by counting. What the event says comes from
``intents.calendar_links``, as on the other platforms' Google Calendar link.

A sign-up that was cancelled, or a call that was called off, answers 410 Gone rather than an
event with ``STATUS:CANCELLED``: a file opened by hand is imported as a new event by most
calendar programs, so a "cancelled" one would put back the very entry the person should remove;
410 says plainly that there is nothing to add (the page tells them to delete it). The person
was told of the change in the chat already.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from intents.calendar_links import CalendarEntry, utc_stamp

MAX_OCTETS = 75  # RFC 5545 3.1: a content line is folded after 75 octets
PRODUCT = "-//tsunagaru//Tsunagaru Kamakura guide bot//JA"
_TOKEN = re.compile(r"^([1-9][0-9]{0,17})-([0-9a-f]{32})$")


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def token(key: str, sign_up_id: int) -> str:
    """The signed name of a sign-up in its calendar link: ``<id>-<32 hex>``."""
    return f"{sign_up_id}-{_mac(key, f'calendar:{sign_up_id}')[:32]}"


def read_token(key: str, value: str) -> int | None:
    """The sign-up a token names, if the token is ours (compared in constant time)."""
    found = _TOKEN.match(value)
    if found is None or not hmac.compare_digest(token(key, int(found[1])), value):
        return None
    return int(found[1])


def uid(key: str, sign_up_id: int) -> str:
    """The event's UID: the same for a sign-up every time (a second download updates the
    event rather than adding one), unique across installations, and naming nobody."""
    return f"{_mac(key, f'uid:{sign_up_id}')[:32]}@tsunagaru"


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    for raw, escaped in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        value = value.replace(raw, escaped)
    return value


def fold(line: str) -> str:
    """One content line folded into lines of at most 75 octets (RFC 5545 3.1), never inside
    a UTF-8 character; a continuation line begins with one space."""
    pieces: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        if size + width > MAX_OCTETS:
            pieces.append(current)
            current, size = " ", 1
        current += char
        size += width
    pieces.append(current)
    return "\r\n".join(pieces)


def ics(entry: CalendarEntry, event_uid: str, stamp: datetime) -> str:
    """A VCALENDAR with one VEVENT (times in UTC), CRLF line ends, folded lines."""
    event = [
        ("UID", event_uid),
        ("DTSTAMP", utc_stamp(stamp)),
        ("DTSTART", utc_stamp(entry.starts_at)),
        ("DTEND", utc_stamp(entry.ends_at)),
        ("SUMMARY", escape_text(entry.title)),
        *([("LOCATION", escape_text(entry.location))] if entry.location else []),
        ("DESCRIPTION", escape_text(entry.description)),
        ("STATUS", "CONFIRMED"),
        ("TRANSP", "OPAQUE"),
    ]
    lines = [
        ("BEGIN", "VCALENDAR"),
        ("VERSION", "2.0"),
        ("PRODID", PRODUCT),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", "PUBLISH"),
        ("BEGIN", "VEVENT"),
        *event,
        ("END", "VEVENT"),
        ("END", "VCALENDAR"),
    ]
    return "".join(fold(f"{name}:{value}") + "\r\n" for name, value in lines)
