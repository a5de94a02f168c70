"""The console's 募集 page: every recruitment call, hidden by staff when it breaks the rules,
and shown again when it is fixed. Both go through storage's rule "a call changes → everyone
on it is told" (``storage.call_changes``): the group and every participant get a notice."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.admin import common
from bot.admin.html import csrf_field, e, table
from bot.admin.words import w
from intents.notices import teller
from knowledge.when import format_span
from storage.openings import CallView

HIDDEN = ("hidden", "review")


def _actions(view: CallView, token: str) -> str:
    export = f'<a href="/admin/calls/{view.id}/signups.csv">{e(w("calls", "export"))}</a> '
    if view.status in HIDDEN:
        note = e(w("calls", "hidden_because", reason=view.hidden_reason or ""))
        return (
            export + note
            + f'<form method="post" action="/admin/calls/{view.id}/unhide" class="inline">'
            f'{csrf_field(token)}<button type="submit">{e(w("calls", "unhide"))}</button></form>'
        )  # fmt: skip
    if view.status == "cancelled":
        return export
    return (
        export
        + f'<form method="post" action="/admin/calls/{view.id}/hide" class="inline">'
        f'{csrf_field(token)}<input name="reason" placeholder="{e(w("calls", "reason"))}" '
        f'required maxlength="300" aria-label="{e(w("calls", "reason"))}">'
        f'<button type="submit">{e(w("calls", "hide"))}</button></form>'
    )  # fmt: skip


async def calls(request: web.Request) -> web.Response:
    """``GET /admin/calls``: every call with its state; the ones waiting for review first."""
    store = common.conversation(request).store
    everything = await asyncio.to_thread(store.all_calls)
    everything.sort(key=lambda v: v.status != "review")  # stable: newest first otherwise
    token = common.csrf(request)
    rows = [
        [
            e(view.title),
            e(view.group_name),
            e(format_span(view.starts_at, view.ends_at)),
            e(
                w(
                    "calls",
                    "places",
                    taken=view.taken,
                    capacity=view.capacity,
                    waiting=view.waiting,
                )
            ),
            e(w("call_status", view.status)),
            _actions(view, token),
        ]
        for view in everything
    ]
    headers = [w("calls", k) for k in ("col_title", "col_group", "col_when", "col_places",
                                        "col_status", "col_action")]  # fmt: skip
    return common.render(request, w("calls", "title"), table(headers, rows))


async def hide(request: web.Request) -> web.StreamResponse:
    """``POST /admin/calls/{id}/hide``: hide a call; its group hears why, its participants
    that it is paused (and their reminders stop)."""
    conv = common.conversation(request)
    call_id = int(request.match_info["id"])
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:300]
    if not reason:
        body = f"<p>{e(w('calls', 'reason_needed_why'))}</p>"
        return common.render(request, w("calls", "reason_needed"), body, 400)
    view = await asyncio.to_thread(conv.store.get_call, call_id)
    tell = teller(conv.messages)
    if view is None or not await asyncio.to_thread(
        conv.store.hide_call, call_id, reason, None, tell
    ):
        raise web.HTTPNotFound()
    await common.audit(request, "call_hidden", f"{call_id} {view.title}: {reason}")
    raise web.HTTPSeeOther("/admin/calls")


async def unhide(request: web.Request) -> web.StreamResponse:
    """``POST /admin/calls/{id}/unhide``: show a hidden or fixed call again; free places go to
    its waiting list first and everyone on it is told."""
    conv = common.conversation(request)
    call_id = int(request.match_info["id"])
    view = await asyncio.to_thread(conv.store.get_call, call_id)
    tell = teller(conv.messages)
    if view is None or not await asyncio.to_thread(conv.store.unhide_call, call_id, None, tell):
        raise web.HTTPNotFound()
    await common.audit(request, "call_unhidden", f"{call_id} {view.title}")
    raise web.HTTPSeeOther("/admin/calls")


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    app.router.add_get("/admin/calls", calls)
    app.router.add_post(r"/admin/calls/{id:\d+}/hide", hide)
    app.router.add_post(r"/admin/calls/{id:\d+}/unhide", unhide)
