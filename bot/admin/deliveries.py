"""The console's 配信エラー page: messages a platform would not take (``storage.outbox``),
with why, and a way to send them again once the cause is fixed."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.admin import common, labels
from bot.admin.html import csrf_field, e, table
from bot.admin.words import w
from storage.outbox import FailedDelivery

SHOWN = 200  # failed messages listed at once
PREVIEW = 120  # characters of a message shown


def _preview(delivery: FailedDelivery) -> str:
    """What the message said, as plain text (a notice's text, or a kept reply's texts)."""
    try:
        body = json.loads(delivery.body)
    except ValueError:
        return ""
    if "line_messages" in body:
        text = " / ".join(
            str(m.get("text") or m.get("altText") or "") for m in body["line_messages"]
        )
    else:
        text = str(body.get("text", ""))
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


async def deliveries(request: web.Request) -> web.Response:
    """``GET /admin/deliveries``: the newest failed messages."""
    store = common.conversation(request).store
    failed = await asyncio.to_thread(store.failed_deliveries, SHOWN)
    total = await asyncio.to_thread(store.count_failed_deliveries)
    token = common.csrf(request)
    if not failed:
        return common.render(
            request, w("deliveries", "title"), f"<p>{e(w('deliveries', 'none'))}</p>"
        )
    rows = []
    for d in failed:
        retry = (
            f'<form method="post" action="/admin/deliveries/retry" class="inline">{csrf_field(token)}'
            f'<input type="hidden" name="ids" value="{d.id}">'
            f'<button type="submit">{e(w("deliveries", "retry"))}</button></form>'
        )
        rows.append([
            e(labels.at(d.failed_at)),
            e(w("platforms", d.platform) if d.platform in ("line", "telegram", "web", "cli") else d.platform),
            e(_preview(d)),
            e(d.attempts),
            e(d.error),
            retry,
        ])  # fmt: skip
    ids = ",".join(str(d.id) for d in failed)
    retry_all = (
        f'<form method="post" action="/admin/deliveries/retry">{csrf_field(token)}'
        f'<input type="hidden" name="ids" value="{ids}">'
        f'<button type="submit">{e(w("deliveries", "retry_all"))}</button></form>'
    )
    headers = [w("deliveries", k) for k in
               ("col_when", "col_platform", "col_text", "col_tries", "col_error", "col_action")]  # fmt: skip
    body = (
        f"<p>{e(w('deliveries', 'intro'))}</p>"
        f"<p>{e(w('deliveries', 'count', n=total))}</p>" + table(headers, rows) + retry_all
    )
    return common.render(request, w("deliveries", "title"), body)


async def retry(request: web.Request) -> web.StreamResponse:
    """``POST /admin/deliveries/retry``: the chosen messages are due again now."""
    form = await request.post()
    ids = [
        int(x)
        for x in str(form.get("ids", "")).split(",")
        if x.isascii() and x.strip().isdecimal()
    ][:SHOWN]
    store = common.conversation(request).store
    n = await asyncio.to_thread(store.retry_failed, ids)
    await common.audit(request, "deliveries_retried", w("deliveries", "audit_retried", n=n))
    raise web.HTTPSeeOther("/admin/deliveries")


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    app.router.add_get("/admin/deliveries", deliveries)
    app.router.add_post("/admin/deliveries/retry", retry)
