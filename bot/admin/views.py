"""The 市民活動センター's console under ``/admin/``: the guard (with the error pages), sign-in,
the dashboard and sign-up exports; the other pages have their own modules (``groups``,
``calls``, ``unanswered``, ``broadcast``, ``deliveries``, ``staff``, ``audit``). Every change is
written to the audit log; every word comes from ``knowledge/console.toml``
(``bot.admin.words``)."""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from bot.admin import (
    audit,
    auth,
    broadcast,
    calls,
    common,
    deliveries,
    groups,
    staff,
    unanswered,
)
from bot.admin.html import back_to, bar_chart, e, error_body, page, table
from bot.admin.words import w
from bot.config import Settings
from bot.csv_cells import GuardedWriter
from intents.signup import AGE_GROUPS
from knowledge.when import TOKYO, today_in_tokyo
from storage.staff_accounts import ACCOUNT_LIMIT, WINDOW

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MINUTES = int(WINDOW.total_seconds() // 60)  # how long a sign-in lock lasts
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:",
}


_conv = common.conversation
_session = common.session
_csrf = common.csrf
_page = common.render
_audit = common.audit
secret_key = common.secret_key
session_key = common.session_key


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign-in required under /admin (except the sign-in page), CSRF on every POST, no stack
    traces to the browser, security headers on every console page."""
    if not request.path.startswith("/admin"):
        return await handler(request)
    try:
        if request.path not in ("/admin/login",):
            key = request.app[secret_key]
            token = request.cookies.get(auth.SESSION_COOKIE, "")
            signed_in = await asyncio.to_thread(
                _conv(request).store.staff_session, token, datetime.now(UTC)
            )
            if signed_in is None:
                to_login = web.HTTPSeeOther("/admin/login")
                if token:
                    auth.clear_session(to_login)
                raise to_login
            session = auth.StaffSession(signed_in.user_id, signed_in.username, token)
            request[session_key] = session
            if request.method == "POST":
                form = await request.post()
                if not auth.check_csrf(key, session, str(form.get("csrf", ""))):
                    return web.Response(
                        status=403, text=w("layout", "csrf"), content_type="text/plain"
                    )
        response = await handler(request)
    except web.HTTPException as refused:
        if refused.status < 400 or refused.content_type != "text/plain":
            raise
        response = _error_page(request, refused.status, _refusal(refused))
        for name, value in refused.headers.items():  # Allow on a 405, Retry-After …
            if name not in ("Content-Type", "Content-Length"):
                response.headers.setdefault(name, value)
    except Exception:
        log.exception("console error on %s", request.path)
        response = _error_page(request, 500, w("layout", "error"))
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _refusal(refused: web.HTTPException) -> str:
    """What a refused request is told: the words it was raised with, else the status's."""
    if refused.text and refused.text != f"{refused.status}: {refused.reason}":
        return refused.text
    return w("layout", "not_found" if refused.status == 404 else "refused")


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    """An error as a console page, with a 「戻る」 that works under the console's CSP: a
    plain link to the console page the browser came from, or the dashboard."""
    back = back_to(request.headers.get("Referer", ""), request.host, request.path_qs)
    signed_in = request.get(session_key)
    user = signed_in.username if signed_in else None
    token = auth.csrf_token(request.app[secret_key], signed_in) if signed_in else ""
    html = page(w("layout", "error_title"), error_body(message, back), user=user, csrf=token)
    return web.Response(text=html, content_type="text/html", status=status)


# --- sign in / out -------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    """The sign-in form (with a double-submit CSRF cookie)."""
    return _login_form(request, "")


def settings(request: web.Request) -> Settings:
    """The app's settings."""
    from bot.server import settings_key  # bot.server imports this module

    return request.app[settings_key]


def _login_form(request: web.Request, message: str, status: int = 200) -> web.Response:
    token = request.cookies.get(auth.PRE_CSRF_COOKIE) or secrets.token_hex(16)
    note = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
    body = (
        f'{note}<form method="post" action="/admin/login" class="card">'
        f'<input type="hidden" name="csrf" value="{e(token)}">'
        f'<label>{e(w("login", "username"))}<input name="username" autocomplete="username" required></label>'
        f'<label>{e(w("login", "password"))}<input name="password" type="password" autocomplete="current-password" required></label>'
        f'<button type="submit">{e(w("login", "submit"))}</button></form>'
    )
    html = page(w("login", "title"), body)
    response = web.Response(text=html, content_type="text/html", status=status)
    response.set_cookie(
        auth.PRE_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/admin",
        secure=auth.is_https(request, settings(request)),
    )  # fmt: skip
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password (``storage.staff_accounts`` explains the lock-out), then start a
    session. A wrong password, an unknown name, a disabled account and one locked for this
    client get the same answer; a client that failed too often gets 429 whatever the name."""
    form = await request.post()
    pre = request.cookies.get(auth.PRE_CSRF_COOKIE, "")
    if not pre or form.get("csrf") != pre:
        return _login_form(request, w("login", "expired"), 403)
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:200]
    store = _conv(request).store
    address = auth.client_address(request, settings(request))
    result = await asyncio.to_thread(store.login, username, password, address, datetime.now(UTC))
    if result.outcome == "throttled":
        detail = w("login", "audit_throttled", address=address)
        await asyncio.to_thread(store.audit, username or "?", "login_throttled", detail)
        refused = _login_form(request, w("login", "throttled", minutes=_MINUTES), 429)
        refused.headers["Retry-After"] = str(int(WINDOW.total_seconds()))
        return refused
    if result.outcome != "ok" or result.user_id is None or result.session is None:
        detail = w("login", "audit_failed", address=address)
        await asyncio.to_thread(store.audit, username or "?", "login_failed", detail)
        return _login_form(request, w("login", "wrong", n=ACCOUNT_LIMIT, minutes=_MINUTES), 401)
    detail = w("login", "audit_login", address=address)
    await asyncio.to_thread(store.audit, username, "login", detail)
    response = web.HTTPSeeOther("/admin/")
    auth.set_session(response, result.session, secure=auth.is_https(request, settings(request)))
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session, in the database (every process refuses its cookie from now on)."""
    store = _conv(request).store
    await asyncio.to_thread(store.end_staff_session, _session(request).nonce, datetime.now(UTC))
    await _audit(request, "logout")
    response = web.HTTPSeeOther("/admin/login")
    auth.clear_session(response)
    raise response


# --- dashboard -----------------------------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    """Figures and charts."""
    conv = _conv(request)
    d = await asyncio.to_thread(conv.store.dashboard, today_in_tokyo(datetime.now(UTC)))
    tiles = [
        (w("dashboard", "users"), d.users),
        (w("dashboard", "groups"), w("dashboard", "groups_value", n=d.groups, verified=d.verified_groups)),
        (w("dashboard", "open_calls"), d.open_calls),
        (w("dashboard", "active_sign_ups"), d.active_sign_ups),
        (w("dashboard", "open_questions"), d.open_questions),
        (w("deliveries", "dashboard_tile"),
         await asyncio.to_thread(conv.store.count_failed_deliveries)),
    ]  # fmt: skip
    cards = "".join(f'<div class="tile"><span>{e(k)}</span><b>{e(v)}</b></div>' for k, v in tiles)
    faq = conv.faq
    top = [((en.label if (en := faq.get(i)) else i), n) for i, n in d.top_questions]
    fields = [((f.short if (f := conv.fields.get(c)) else c), n) for c, n in d.sign_ups_by_field]
    areas = [((a.full_name if (a := conv.places.get(c)) else c), n) for c, n in d.sign_ups_by_area]
    days = [(w("dashboard", "day", month=int(day[5:7]), day=int(day[8:10])), n)
            for day, n in d.per_day]  # fmt: skip
    filling = table(
        [w("dashboard", "col_call"), w("dashboard", "col_taken")],
        [[e(title), f"{taken}/{cap}"] for _, title, taken, cap in d.filling_up],
    ) if d.filling_up else f"<p>{e(w('dashboard', 'none_filling'))}</p>"  # fmt: skip
    body = (
        f'<div class="tiles">{cards}</div>'
        + bar_chart(days, w("dashboard", "per_day"))
        + bar_chart(top, w("dashboard", "top_questions_chart"))
        + bar_chart(fields, w("dashboard", "by_field"))
        + bar_chart(areas, w("dashboard", "by_area"))
        + f"<h2>{e(w('dashboard', 'filling_up'))}</h2>"
        + filling
    )
    return _page(request, w("dashboard", "title"), body)


# --- calls -------------------------------------------------------------------------------------------


async def call_signups(request: web.Request) -> web.Response:
    """A call's sign-ups as CSV (UTF-8 with BOM so Excel opens it)."""
    conv = _conv(request)
    call_id = int(request.match_info["id"])
    view = await asyncio.to_thread(conv.store.get_call, call_id)
    if view is None:
        raise web.HTTPNotFound()
    people = await asyncio.to_thread(conv.store.all_volunteers, call_id)
    out = io.StringIO()
    writer = GuardedWriter(out)  # what a volunteer typed stays text in Excel
    writer.writerow([w("signups_csv", k) for k in
                     ("col_status", "col_name", "col_contact", "col_age", "col_at")])  # fmt: skip
    for p in people:
        state = w("signups_csv", "confirmed" if p.status == "confirmed" else "waiting")
        writer.writerow([state, p.name, p.contact, AGE_GROUPS.get(p.age_group, p.age_group),
                         p.created_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")])  # fmt: skip
    await _audit(request, "signups_exported", f"{call_id} {view.title}")
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="signups-{call_id}.csv"'},
    )


def add_routes(app: web.Application) -> None:
    """Mount the console."""
    r = app.router
    r.add_get("/admin/login", login_page)
    r.add_post("/admin/login", login)
    r.add_post("/admin/logout", logout)
    r.add_get("/admin/", dashboard)
    r.add_get("/admin", _to_dashboard)
    groups.add_routes(app)
    r.add_get(r"/admin/calls/{id:\d+}/signups.csv", call_signups)
    unanswered.add_routes(app)
    broadcast.add_routes(app)
    audit.add_routes(app)
    deliveries.add_routes(app)
    calls.add_routes(app)
    staff.add_routes(app)


async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/admin/")
