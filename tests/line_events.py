"""Schema-complete LINE webhook events (every field the real platform sends) and signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from typing import Any

_ids = itertools.count(1)


def sign(body: bytes, secret: str) -> str:
    """``x-line-signature``: base64(HMAC-SHA256(channel secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _base(
    kind: str, user: str, *, event_id: str | None = None, redelivery: bool = False
) -> dict[str, Any]:
    n = next(_ids)
    return {
        "type": kind,
        "timestamp": 1764039600000 + n,
        "mode": "active",
        "webhookEventId": event_id or f"01HTEST{n:019d}",
        "deliveryContext": {"isRedelivery": redelivery},
        "source": {"type": "user", "userId": user},
    }


def text(user: str, words: str, token: str | None = None, **kw: Any) -> dict[str, Any]:
    event = _base("message", user, **kw)
    n = next(_ids)
    event["replyToken"] = token or f"reply-token-{n}"
    event["message"] = {
        "type": "text",
        "id": str(10**17 + n),
        "quoteToken": f"q{n}",
        "text": words,
    }
    return event


def sticker(user: str) -> dict[str, Any]:
    event = _base("message", user)
    n = next(_ids)
    event["replyToken"] = f"reply-token-{n}"
    event["message"] = {
        "type": "sticker", "id": str(10**17 + n), "quoteToken": f"q{n}", "packageId": "446",
        "stickerId": "1988", "stickerResourceType": "STATIC", "keywords": ["happy"],
    }  # fmt: skip
    return event


def postback(user: str, data: str, token: str | None = None) -> dict[str, Any]:
    event = _base("postback", user)
    event["replyToken"] = token or f"reply-token-{next(_ids)}"
    event["postback"] = {"data": data}
    return event


def follow(user: str) -> dict[str, Any]:
    event = _base("follow", user)
    event["replyToken"] = f"reply-token-{next(_ids)}"
    event["follow"] = {"isUnblocked": False}
    return event


def unfollow(user: str) -> dict[str, Any]:
    return _base("unfollow", user)


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps(
        {"destination": "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "events": list(events)},
        ensure_ascii=False,
    ).encode()
