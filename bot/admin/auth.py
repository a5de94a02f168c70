"""Staff sign-in for the console: signed session cookies, CSRF tokens, and the guard that
sends the unauthenticated to the sign-in page.

Cookies: ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when served over https, signed with
HMAC-SHA256 by a key every process shares (``app_secrets`` in the database). A session lasts
8 hours. Every POST carries a CSRF token derived from the session (or, before sign-in, a
double-submit cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

SESSION_COOKIE = "tsunagaru_staff"
PRE_CSRF_COOKIE = "tsunagaru_csrf"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class StaffSession:
    """Who is signed in, and the session's CSRF token."""

    user_id: int
    username: str
    nonce: str


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def make_cookie(key: str, user_id: int, username: str) -> str:
    """A signed session value."""
    data = {"u": user_id, "n": username, "exp": int(time.time()) + SESSION_SECONDS,
            "nonce": secrets.token_hex(16)}  # fmt: skip
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    return f"{payload}.{_sign(key, payload)}"


def read_cookie(key: str, value: str | None) -> StaffSession | None:
    """The session in a cookie, if its signature and expiry are good."""
    if not value or "." not in value:
        return None
    payload, signature = value.rsplit(".", 1)
    if not hmac.compare_digest(_sign(key, payload), signature):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    if int(data.get("exp", 0)) < time.time():
        return None
    return StaffSession(int(data["u"]), str(data["n"]), str(data["nonce"]))


def csrf_token(key: str, session: StaffSession) -> str:
    """The token every form of this session carries."""
    return _sign(key, "csrf:" + session.nonce)


def check_csrf(key: str, session: StaffSession, given: str) -> bool:
    """Constant-time check of a submitted token."""
    return hmac.compare_digest(csrf_token(key, session), given or "")


def set_session(response: web.StreamResponse, value: str, secure: bool) -> None:
    """Attach the session cookie."""
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
        secure=secure, path="/admin",
    )  # fmt: skip


def clear_session(response: web.StreamResponse) -> None:
    """Sign out."""
    response.del_cookie(SESSION_COOKIE, path="/admin")
