"""The console's 募集 page: recruitment calls by state and date (upcoming ones by default,
past ones and a single month on request), 50 a page, the ones waiting for review first; each
links to its own page (``bot.admin.call_page``). Staff hide a call when it breaks the rules
and show it again when it is fixed. Both go through storage's rule "a call changes →
everyone on it is told" (``storage.call_changes``): the group and every participant get a
notice."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from aiohttp import web

from bot.admin import call_page, common, labels
from bot.admin.call_page import call_actions
from bot.admin.html import e, options, table
from bot.admin.words import w
from intents.notices import teller
from knowledge.when import TOKYO
from storage.calls import CALL_STATES, CallQuery
from storage.models import utcnow

WHEN = ("upcoming", "past", "all", "month")  # the first is the default
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def _month_span(text: str) -> tuple[datetime, datetime] | None:
    """The first moment of a month (``2026-12``, Japan time) and of the next one."""
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    start = datetime(year, month, 1, tzinfo=TOKYO)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=TOKYO)
    return start, end


def _filters(state: str, when: str, month: str) -> str:
    states = [("", w("call_list", "state_any")), *((s, w("call_status", s)) for s in CALL_STATES)]
    whens = [(x, w("call_list", f"when_{x}")) for x in WHEN]
    return (
        '<form method="get" class="filters">'
        f'<label>{e(w("call_list", "state"))}<select name="state">{options(states, state)}</select></label>'
        f'<label>{e(w("call_list", "when"))}<select name="when">{options(whens, when)}</select></label>'
        f'<label>{e(w("call_list", "month"))}<input type="month" name="month" value="{e(month)}"></label>'
        f'<button type="submit">{e(w("call_list", "filter"))}</button></form>'
    )  # fmt: skip


async def calls(request: web.Request) -> web.Response:
    """``GET /admin/calls``: one page of calls (``state``, ``when`` = upcoming | past | all |
    month with ``month=YYYY-MM``), those waiting for review first, with the total."""
    store = common.conversation(request).store
    q = request.query
    state = q.get("state", "") if q.get("state", "") in CALL_STATES else ""
    when = q.get("when", "") if q.get("when", "") in WHEN else WHEN[0]
    month = q.get("month", "").strip()[:7]
    span = _month_span(month) if month else None
    if month and span is None:
        body = f'<p class="error" role="alert">{e(w("call_list", "bad_month"))}</p>'
        return common.render(request, w("calls", "title"), _filters(state, when, "") + body, 400)
    if span is not None:
        when = "month"
    elif when == "month":  # a month asked for without one: this month
        now = utcnow().astimezone(TOKYO)
        month = f"{now.year:04d}-{now.month:02d}"
        span = _month_span(month)
    query = CallQuery(
        state=state,
        upcoming={"upcoming": True, "past": False}.get(when),
        starts_from=span[0] if span else None,
        starts_before=span[1] if span else None,
    )
    page = labels.requested_page(request)
    now = utcnow()
    found, total = await asyncio.to_thread(
        store.list_calls, query, now, limit=labels.PER_PAGE,
        offset=(page - 1) * labels.PER_PAGE,
    )  # fmt: skip
    token = common.csrf(request)
    back = request.path_qs
    rows = [
        [
            f'<a href="/admin/calls/{view.id}">{e(view.title)}</a>',
            f'<a href="/admin/groups/{view.group_id}">{e(view.group_name)}</a>',
            e(labels.span(view.starts_at, view.ends_at)),
            e(w("calls", "places", taken=view.taken, capacity=view.capacity, waiting=view.waiting)),
            e(labels.call_state(view, now)),
            call_actions(view, token, back),
        ]
        for view in found
    ]  # fmt: skip
    headers = [w("calls", k) for k in ("col_title", "col_group", "col_when", "col_places",
                                        "col_status", "col_action")]  # fmt: skip
    first = (page - 1) * labels.PER_PAGE + 1
    count = (
        w("call_list", "count", n=total, first=first, last=first + len(found) - 1)
        if found
        else w("call_list", "none")
    )
    params = {"state": state, "when": when if when != WHEN[0] else "",
              "month": month if when == "month" else ""}  # fmt: skip
    body = (
        _filters(state, when, month if when == "month" else "")
        + f'<p role="status">{e(count)}</p>'
        + (table(headers, rows) if rows else "")
        + labels.paging("/admin/calls", params, page, labels.page_count(total))
    )
    return common.render(request, w("calls", "title"), body)


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
    raise web.HTTPSeeOther(labels.back_in(form.get("back"), "/admin/calls"))


async def unhide(request: web.Request) -> web.StreamResponse:
    """``POST /admin/calls/{id}/unhide``: show a hidden or fixed call again; free places go to
    its waiting list first and everyone on it is told."""
    conv = common.conversation(request)
    call_id = int(request.match_info["id"])
    form = await request.post()
    view = await asyncio.to_thread(conv.store.get_call, call_id)
    tell = teller(conv.messages)
    if view is None or not await asyncio.to_thread(conv.store.unhide_call, call_id, None, tell):
        raise web.HTTPNotFound()
    await common.audit(request, "call_unhidden", f"{call_id} {view.title}")
    raise web.HTTPSeeOther(labels.back_in(form.get("back"), "/admin/calls"))


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    app.router.add_get("/admin/calls", calls)
    app.router.add_post(r"/admin/calls/{id:\d+}/hide", hide)
    app.router.add_post(r"/admin/calls/{id:\d+}/unhide", unhide)
    call_page.add_routes(app)
