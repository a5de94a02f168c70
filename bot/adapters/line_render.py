"""LINE's messages from our platform-neutral replies: texts split at LINE's limit (in UTF-16
units), cards as a Flex carousel, choices as quick replies; nothing blank (LINE refuses it).
Used by ``bot.adapters.line`` for replies and by the worker's kept and pushed messages."""

from __future__ import annotations

from typing import Any

from intents.types import Card, Choice, Reply

MAX_MESSAGES = 5
MAX_TEXT_UNITS = 5000  # UTF-16 code units
MAX_QUICK_REPLIES = 13
MAX_BUBBLES = 12
MAX_ALT_TEXT = 1500


def utf16_units(text: str) -> int:
    """Length as LINE counts it (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Split at line breaks where possible so that each part fits ``limit`` UTF-16 units."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while utf16_units(line) > limit:  # one enormous line: cut it by characters
            cut = len(line)
            while utf16_units(line[:cut]) > limit:
                cut = cut * 3 // 4
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        if utf16_units(current + line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return [p.rstrip("\n") or " " for p in parts]


# Messages are built as the Messaging API's JSON, not as the SDK's pydantic models: building
# and serialising a carousel of models cost about 1 ms per reply, more than everything else
# the echo bot does. tests/test_line.py checks that every shape below round-trips through the
# SDK's own models unchanged, and the fake LINE API parses each request with them.
LineMessage = dict[str, Any]


def _action(choice: Choice) -> dict[str, str]:
    if choice.url:  # a link opens in LINE's browser (a uri action: quick replies allow it too)
        return {"type": "uri", "label": choice.label, "uri": choice.url}
    return {
        "type": "postback",
        "label": choice.label,
        "data": choice.payload,
        "displayText": choice.label,
    }


def _bubble(card: Card) -> dict[str, Any]:
    bubble: dict[str, Any] = {
        "type": "bubble",
        "size": "kilo",
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {"type": "text", "text": card.title, "weight": "bold", "size": "md", "wrap": True},
                {
                    "type": "text",
                    "text": card.body or " ",
                    "size": "sm",
                    "wrap": True,
                    "color": "#444444",
                },
            ],
        },
    }
    if card.buttons:
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {
                    "type": "button",
                    "action": _action(b),
                    "style": "primary" if i == 0 else "secondary",
                    "height": "sm",
                }
                for i, b in enumerate(card.buttons)
            ],
        }
    return bubble


def render(reply: Reply) -> list[LineMessage]:
    """A platform-neutral reply as at most 5 LINE messages (text parts, then a Flex carousel),
    the quick replies on the last one."""
    text = "\n\n".join([*reply.notices, reply.text]) if reply.notices else reply.text
    cards = reply.cards[:MAX_BUBBLES]
    room_for_text = MAX_MESSAGES - (1 if cards else 0)
    parts = split_text(text)
    if len(parts) > room_for_text:  # keep within 5 messages; say that the rest was cut
        parts = [
            *parts[: room_for_text - 1],
            parts[room_for_text - 1][: MAX_TEXT_UNITS - 20] + "…",
        ]
    messages: list[LineMessage] = [{"type": "text", "text": p} for p in parts if p.strip()]
    if cards:
        alt = " / ".join(c.title for c in cards)
        if len(alt) > MAX_ALT_TEXT:
            alt = alt[: MAX_ALT_TEXT - 1] + "…"
        carousel = {"type": "carousel", "contents": [_bubble(c) for c in cards]}
        alt = alt.strip() or reply.text.strip()[: MAX_ALT_TEXT - 1] or "…"  # never blank
        messages.append({"type": "flex", "altText": alt, "contents": carousel})
    if not messages:
        return []  # nothing to say (LINE refuses blank texts): the caller sends nothing
    if reply.choices:
        messages[-1]["quickReply"] = {
            "items": [
                {"type": "action", "action": _action(c)} for c in reply.choices[:MAX_QUICK_REPLIES]
            ]
        }
    return messages


def render_body(body: dict[str, Any]) -> list[LineMessage]:
    """An outbox body as LINE messages: a kept reply's own stored messages
    (``{"line_messages"}``), or a notice's ``{"text", "choices"}`` rendered."""
    if "line_messages" in body:
        return list(body["line_messages"])
    choices = [Choice.from_dict(c) for c in body.get("choices", [])]
    return render(Reply(str(body.get("text", "")), "notice", choices=choices))
