"""The console's 職員 page: every staff account with its last sign-in and whether it is locked
or disabled; a new password (generated and shown once, or typed), unlocking, disabling and
enabling. A new password or a disabled account ends that account's sessions at once
(``storage.staff_accounts``); nobody can disable their own account. Every action goes to the
audit log."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from aiohttp import web

from bot.admin import common, labels
from bot.admin.html import csrf_field, e, table
from bot.admin.words import w
from storage.staff_accounts import MIN_PASSWORD, StaffAccount

GENERATED_BYTES = 12  # secrets.token_urlsafe(12): 16 characters, 96 random bits


def _when(moment: datetime | None) -> str:
    if moment is None:
        return w("staff", "never")
    return labels.at(moment)


def _state(account: StaffAccount) -> str:
    states = [w("staff", "disabled")] if account.disabled else []
    if account.locked:
        states.append(w("staff", "locked"))
    return w("staff", "joiner").join(states) or w("staff", "active")


def _actions(account: StaffAccount, token: str, me: int) -> str:
    base = f"/admin/staff/{account.id}"
    label = w("staff", "password_label", user=account.username)
    forms = [
        f'<form method="post" action="{base}/password" class="inline">{csrf_field(token)}'
        f'<input name="password" type="password" autocomplete="new-password" '
        f'aria-label="{e(label)}" placeholder="{e(w("staff", "password_placeholder"))}">'
        f'<button type="submit">{e(w("staff", "reset"))}</button></form>'
    ]
    if account.locked:
        forms.append(
            f'<form method="post" action="{base}/unlock" class="inline">{csrf_field(token)}'
            f'<button type="submit">{e(w("staff", "unlock"))}</button></form>'
        )
    if account.id == me:
        forms.append(f"<span>{e(w('staff', 'yourself'))}</span>")
    else:
        verb = "enable" if account.disabled else "disable"
        forms.append(
            f'<form method="post" action="{base}/{verb}" class="inline">{csrf_field(token)}'
            f'<button type="submit">{e(w("staff", verb))}</button></form>'
        )
    return "".join(forms)


async def staff_page(request: web.Request) -> web.Response:
    """``GET /admin/staff``: the accounts."""
    store = common.conversation(request).store
    accounts = await asyncio.to_thread(store.staff_accounts, datetime.now(UTC))
    token, me = common.csrf(request), common.session(request).user_id
    rows = [
        [e(a.username), e(_when(a.last_login_at)), e(_state(a)), e(a.sessions),
         _actions(a, token, me)]
        for a in accounts
    ]  # fmt: skip
    headers = [w("staff", k) for k in
               ("col_user", "col_last_login", "col_state", "col_sessions", "col_action")]  # fmt: skip
    body = (
        f"<p>{e(w('staff', 'intro', n=MIN_PASSWORD))}</p>"
        + table(headers, rows)
        + f"<p>{e(w('staff', 'add_how'))}</p>"
    )
    return common.render(request, w("staff", "title"), body)


async def _account(request: web.Request) -> StaffAccount:
    store = common.conversation(request).store
    staff_id = int(request.match_info["id"])
    account = await asyncio.to_thread(store.get_staff, staff_id, datetime.now(UTC))
    if account is None:
        raise web.HTTPNotFound(text=w("staff", "no_such"))
    return account


def _refused(request: web.Request, message: str) -> web.Response:
    body = f'<p class="error" role="alert">{e(message)}</p><p><a href="/admin/staff">{e(w("staff", "back"))}</a></p>'
    return common.render(request, w("staff", "refused_title"), body, status=400)


async def reset_password(request: web.Request) -> web.Response:
    """``POST /admin/staff/{id}/password``: the typed password, or a generated one shown
    once; the account's sessions end."""
    account = await _account(request)
    typed = str((await request.post()).get("password", ""))[:200]
    if typed and len(typed) < MIN_PASSWORD:
        return _refused(request, w("staff", "too_short", n=MIN_PASSWORD))
    password = typed or secrets.token_urlsafe(GENERATED_BYTES)
    store = common.conversation(request).store
    await asyncio.to_thread(store.set_staff_password, account.id, password, datetime.now(UTC))
    how = "audit_password_typed" if typed else "audit_password_generated"
    await common.audit(request, "staff_password_reset", w("staff", how, user=account.username))
    shown = (
        f"<p>{e(w('staff', 'generated_for', user=account.username))}</p>"
        f'<p class="code">{e(password)}</p><p>{e(w("staff", "generated_how"))}</p>'
        if not typed
        else f"<p>{e(w('staff', 'typed_done', user=account.username))}</p>"
    )
    mine = account.id == common.session(request).user_id
    body = (
        f'<div class="card">{shown}<p>{e(w("staff", "sessions_ended"))}</p>'
        + (f"<p>{e(w('staff', 'sign_in_again'))}</p>" if mine else "")
        + f'<p><a href="/admin/staff">{e(w("staff", "back"))}</a></p></div>'
    )
    response = common.render(request, w("staff", "password_title"), body)
    response.headers["Cache-Control"] = "no-store"  # the password is shown once, not cached
    return response


async def unlock(request: web.Request) -> web.StreamResponse:
    """``POST /admin/staff/{id}/unlock``: forget the account's failed sign-ins."""
    account = await _account(request)
    await asyncio.to_thread(common.conversation(request).store.unlock_staff, account.id)
    await common.audit(
        request, "staff_unlocked", w("staff", "audit_unlocked", user=account.username)
    )
    raise web.HTTPSeeOther("/admin/staff")


async def disable(request: web.Request) -> web.StreamResponse:
    """``POST /admin/staff/{id}/disable``: no more sign-ins, and its sessions end now."""
    account = await _account(request)
    if account.id == common.session(request).user_id:
        return _refused(request, w("staff", "not_yourself"))
    store = common.conversation(request).store
    await asyncio.to_thread(store.set_staff_disabled, account.id, True, datetime.now(UTC))
    await common.audit(
        request, "staff_disabled", w("staff", "audit_disabled", user=account.username)
    )
    raise web.HTTPSeeOther("/admin/staff")


async def enable(request: web.Request) -> web.StreamResponse:
    """``POST /admin/staff/{id}/enable``: the account may sign in again."""
    account = await _account(request)
    store = common.conversation(request).store
    await asyncio.to_thread(store.set_staff_disabled, account.id, False, datetime.now(UTC))
    await common.audit(
        request, "staff_enabled", w("staff", "audit_enabled", user=account.username)
    )
    raise web.HTTPSeeOther("/admin/staff")


def add_routes(app: web.Application) -> None:
    """Mount the staff page."""
    r = app.router
    r.add_get("/admin/staff", staff_page)
    r.add_post(r"/admin/staff/{id:\d+}/password", reset_password)
    r.add_post(r"/admin/staff/{id:\d+}/unlock", unlock)
    r.add_post(r"/admin/staff/{id:\d+}/disable", disable)
    r.add_post(r"/admin/staff/{id:\d+}/enable", enable)
