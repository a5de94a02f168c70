"""What every HTTP answer carries and what every request body must respect.

- ``headers``: a middleware that puts the security headers on every response, error answers
  included (a 404, a 405, a redirect to the console's sign-in, an unexpected 500). A
  Content-Security-Policy a page already set (the console's) is kept and only completed with
  the directives it lacks: ours never loosens it.
- ``loads_json``: JSON with a depth limit, checked in one linear pass before parsing
  (Python's parser recurses; very deep input raises RecursionError deep inside it).
- ``Edge``: how the server sees its clients, directly or through one reverse proxy we run
  (``TRUSTED_PROXY``): the client's address and whether it came over https.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.config import Settings
from intents.types import whole_characters

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_JSON_DEPTH = 32  # our own and the platforms' payloads nest 6 levels at most

# The directives every page gets; a policy already set keeps its own value for each it names.
# frame-ancestors, base-uri and form-action do not fall back to default-src, so they are
# added to the console's policy too.
POLICY = {
    "default-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "no-referrer",
}


def _complete_policy(current: str | None) -> str:
    """``current`` with every directive of POLICY it does not name added."""
    parts = [p.strip() for p in (current or "").split(";") if p.strip()]
    named = {p.split()[0].lower() for p in parts}
    parts += [f"{name} {value}" for name, value in POLICY.items() if name not in named]
    return "; ".join(parts)


def add_headers(headers: MutableMapping[str, str]) -> None:
    """Put the security headers on a response's headers (those already set stay)."""
    headers["Content-Security-Policy"] = _complete_policy(headers.get("Content-Security-Policy"))
    for name, value in HEADERS.items():
        headers.setdefault(name, value)


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The security headers on every answer; an unexpected error is a plain 500 (logged),
    never a traceback."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        add_headers(exc.headers)
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        response = web.Response(status=500, text="500: Internal Server Error")
    add_headers(response.headers)
    return response


# --- JSON bodies ---------------------------------------------------------------------------------


class JsonTooDeep(ValueError):
    """A JSON text nests deeper than allowed."""


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str, stop_above: int | None = None) -> int:
    """How deeply ``text`` nests arrays and objects, in one pass without recursion (brackets
    inside strings do not count); stops counting once past ``stop_above``."""
    depth = deepest = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def check_json_depth(text: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonTooDeep (a ValueError) when ``text`` nests deeper than ``max_depth``."""
    if json_depth(text, stop_above=max_depth) > max_depth:
        raise JsonTooDeep(f"JSON nests deeper than {max_depth} levels")


def loads_json(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body (UTF-8) that nests at most ``max_depth`` levels.

    Raises:
        JsonTooDeep: it nests deeper (a ValueError, like every other malformed body).
        ValueError: it is not UTF-8 or not JSON.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    check_json_depth(text, max_depth)
    value = json.loads(text)
    # Only an escape can make a lone surrogate (UTF-8 itself cannot carry one).
    return _whole(value) if "\\u" in text else value


def _whole(value: Any) -> Any:
    """``value`` with lone surrogates in every string and key replaced (U+FFFD): stored and
    answered like any text, never a 500 (the depth is already bounded)."""
    if isinstance(value, str):
        return whole_characters(value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    if isinstance(value, dict):
        return {whole_characters(k): _whole(v) for k, v in value.items()}
    return value


# --- who is asking ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edge:
    """How this server sees its clients: directly, or through one reverse proxy we run.

    Only with ``trusted_proxy`` are ``X-Forwarded-For`` and ``X-Forwarded-Proto`` read (a
    client can send both); then the last hop is the proxy's own word (what it saw), the hops
    before it are what the client claimed.
    """

    trusted_proxy: bool = False
    public_https: bool = False  # PUBLIC_URL is https: the outside world reaches us over TLS

    @classmethod
    def of(cls, settings: Settings) -> Edge:
        """The edge the settings describe."""
        return cls(settings.trusted_proxy, settings.public_url.lower().startswith("https://"))

    def client_address(self, request: web.Request) -> str:
        """The client's address: the peer's, or the proxy's last ``X-Forwarded-For`` hop."""
        if self.trusted_proxy:
            hops = _last_hop(request, "X-Forwarded-For")
            if hops:
                return hops
        return request.remote or ""

    def is_https(self, request: web.Request) -> bool:
        """Whether the client reached us over https (cookies are then ``Secure``)."""
        if request.secure or self.public_https:
            return True
        return self.trusted_proxy and _last_hop(request, "X-Forwarded-Proto").lower() == "https"


def _last_hop(request: web.Request, header: str) -> str:
    hops = [h.strip() for value in request.headers.getall(header, []) for h in value.split(",")]
    return next((h for h in reversed(hops) if h), "")


edge_key = web.AppKey("edge", Edge)
