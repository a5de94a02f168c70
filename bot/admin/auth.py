"""Staff sign-in for the console, at the HTTP edge: the session cookie, CSRF tokens, who the
client is and whether the connection is https.

The session itself lives in the database (``storage.staff_accounts``): the cookie carries only
a random id, so signing out, a new password or a disabled account ends it in every process at
once. Cookies: ``HttpOnly``, ``SameSite=Strict``, ``Path=/admin``, and ``Secure`` when the
console is served over https (``is_https``). Every POST carries a CSRF token derived from the
session's id with a key every process shares (``app_secrets``); before sign-in, a
double-submit cookie.

``X-Forwarded-Proto`` and ``X-Forwarded-For`` are believed only with ``TRUSTED_PROXY=1``:
without a proxy of ours in front, a client can send both.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web

from bot.config import Settings
from bot.security import Edge

SESSION_COOKIE = "tsunagaru_staff"
PRE_CSRF_COOKIE = "tsunagaru_csrf"
SESSION_SECONDS = 8 * 3600  # the cookie's life; the server ends the session itself


@dataclass(frozen=True, slots=True)
class StaffSession:
    """Who is signed in, and the session's id (the cookie's value; never stored as is)."""

    user_id: int
    username: str
    nonce: str


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def csrf_token(key: str, session: StaffSession) -> str:
    """The token every form of this session carries."""
    return _sign(key, "csrf:" + session.nonce)


def signed(key: str, session: StaffSession, what: str) -> str:
    """A signature of ``what`` for this session (a form's hidden list that must come back
    as it was sent: the questions one 「対応不要」 changed)."""
    return _sign(key, f"signed:{session.nonce}:{what}")


def check_signed(key: str, session: StaffSession, what: str, given: str) -> bool:
    """Constant-time check of :func:`signed`."""
    return hmac.compare_digest(signed(key, session, what), given or "")


def check_csrf(key: str, session: StaffSession, given: str) -> bool:
    """Constant-time check of a submitted token."""
    return hmac.compare_digest(csrf_token(key, session), given or "")


def is_https(request: web.Request, settings: Settings) -> bool:
    """Whether the browser reached us over https (``bot.security.Edge``)."""
    return Edge.of(settings).is_https(request)


def client_address(request: web.Request, settings: Settings) -> str:
    """The client's address, as ``bot.security.Edge`` sees it (at most 64 characters)."""
    return Edge.of(settings).client_address(request)[:64]


def set_session(response: web.StreamResponse, value: str, secure: bool) -> None:
    """Attach the session cookie."""
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
        secure=secure, path="/admin",
    )  # fmt: skip


def clear_session(response: web.StreamResponse) -> None:
    """Drop the session cookie from the browser."""
    response.del_cookie(SESSION_COOKIE, path="/admin")
