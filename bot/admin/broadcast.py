"""The console's お知らせ配信 page: write an announcement, see how many people it reaches,
send it, and the broadcasts sent before.

Every broadcast has a key (STYLE: every side effect has a key): the form carries a one-time
token from the moment it is shown, through the preview, to 送る. The token is unique in the
``broadcasts`` table, so the same form sent again (Back and 送る, a double click, two
requests at once) sends nothing and shows the first send. A fresh form gets a new token."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from aiohttp import web

from bot.admin import common, labels
from bot.admin.html import csrf_field, e, options, sentence, table
from bot.admin.words import w
from intents.menu import MENU_PAYLOAD
from storage.models import Broadcast

MAX_TEXT = 500
HISTORY = 50  # past broadcasts listed
PREVIEW = 80  # characters of a past broadcast's text shown


def _valid(token: str) -> bool:
    """A token this page could have made (``secrets.token_urlsafe``), not any string."""
    return 16 <= len(token) <= 64 and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in token
    )


def _token(form: Any = None) -> str:
    """The form's one-time token: carried on from the form, or a new one."""
    token = str(form.get("token", "")) if form is not None else ""
    return token if _valid(token) else secrets.token_urlsafe(24)


def _form(
    request: web.Request, token: str, text: str = "", field: str = "", area: str = ""
) -> str:
    conv = common.conversation(request)
    field_choices = [
        ("", w("broadcast", "any_field")),
        *((f.code, f.short) for f in conv.fields.fields),
    ]
    area_choices = [
        ("", w("broadcast", "any_area")),
        *((a.code, a.full_name) for a in conv.places.areas),
    ]
    return (
        f'<form method="post" action="/admin/broadcast/preview" class="card">{csrf_field(common.csrf(request))}'
        f'<input type="hidden" name="token" value="{e(token)}">'
        f'<label>{e(w("broadcast", "text_label"))}<textarea name="text" maxlength="{MAX_TEXT}" required>{e(text)}</textarea></label>'
        f'<label>{e(w("broadcast", "field_label"))}<select name="field">{options(field_choices, field)}</select></label>'
        f'<label>{e(w("broadcast", "area_label"))}<select name="area">{options(area_choices, area)}</select></label>'
        f'<button type="submit">{e(w("broadcast", "preview"))}</button></form>'
    )  # fmt: skip


def _audience(request: web.Request, b: Broadcast) -> str:
    conv = common.conversation(request)
    parts = []
    if b.field:
        found = conv.fields.get(b.field)
        parts.append(w("broadcast", "audience_field", field=found.short if found else b.field))
    if b.area:
        place = conv.places.get(b.area)
        parts.append(w("broadcast", "audience_area", area=place.full_name if place else b.area))
    return w("broadcast", "audience_joiner").join(parts) or w("broadcast", "audience_everyone")


def _history(request: web.Request, sent: list[Broadcast]) -> str:
    title = f"<h2>{e(w('broadcast', 'history'))}</h2>"
    if not sent:
        return title + f"<p>{e(w('broadcast', 'history_none'))}</p>"
    rows = [
        [
            e(labels.at(b.created_at)),
            e(b.actor),
            e(_audience(request, b)),
            e(w("broadcast", "people", n=b.recipients)),
            e(b.text if len(b.text) <= PREVIEW else b.text[: PREVIEW - 1] + "…"),
        ]
        for b in sent
    ]
    headers = [w("broadcast", k) for k in
               ("col_when", "col_actor", "col_audience", "col_people", "col_text")]  # fmt: skip
    return title + table(headers, rows)


async def broadcast(request: web.Request) -> web.Response:
    """``GET /admin/broadcast``: the announcement form (with a new token) and past sends."""
    store = common.conversation(request).store
    sent = await asyncio.to_thread(store.broadcasts, HISTORY)
    body = _form(request, _token()) + _history(request, sent)
    return common.render(request, w("broadcast", "title"), body)


def _values(form: Any) -> tuple[str, str, str]:
    return (
        str(form.get("text", "")).strip()[:MAX_TEXT],
        str(form.get("field", ""))[:32],
        str(form.get("area", ""))[:16],
    )


async def broadcast_preview(request: web.Request) -> web.Response:
    """``POST /admin/broadcast/preview``: the text and how many people it reaches, then a
    button to send it (carrying the form's token)."""
    conv = common.conversation(request)
    form = await request.post()
    token = _token(form)
    text, field, area = _values(form)
    if not text:
        body = f'<p class="error" role="alert">{e(w("broadcast", "empty"))}</p>'
        return common.render(request, w("broadcast", "title"), body + _form(request, token), 400)
    people = await asyncio.to_thread(conv.store.audience, field or None, area or None)
    count = f"<b>{e(w('broadcast', 'people', n=len(people)))}</b>"
    body = (
        f'<div class="card preview"><p>{e(text)}</p></div>'
        f"<p>{sentence(w('broadcast', 'reach'), people=count)}</p>"
        f'<form method="post" action="/admin/broadcast/send">{csrf_field(common.csrf(request))}'
        f'<input type="hidden" name="token" value="{e(token)}">'
        f'<input type="hidden" name="text" value="{e(text)}"><input type="hidden" name="field" value="{e(field)}">'
        f'<input type="hidden" name="area" value="{e(area)}">'
        f'<button type="submit">{e(w("broadcast", "send", n=len(people)))}</button></form>'
        + _form(request, token, text, field, area)
    )  # fmt: skip
    return common.render(request, w("broadcast", "preview_title"), body)


async def broadcast_send(request: web.Request) -> web.Response:
    """``POST /admin/broadcast/send``: queue the announcement for each person (the worker
    delivers it), once per token; a token sent before shows that send instead."""
    conv = common.conversation(request)
    form = await request.post()
    text, field, area = _values(form)
    token = str(form.get("token", ""))
    if not text:
        raise web.HTTPBadRequest(text=w("broadcast", "no_text"))
    if not _valid(token):  # a form from before tokens, or a made-up one
        raise web.HTTPBadRequest(text=w("broadcast", "no_token"))
    body = json.dumps(
        {
            "text": conv.messages.get("broadcast", "ja", text=text),
            "choices": [{"label": conv.messages.label("menu", "ja"), "payload": MENU_PAYLOAD}],
        },
        ensure_ascii=False,
    )
    actor = common.session(request).username
    result = await asyncio.to_thread(
        conv.store.send_broadcast, token, text, body,
        field=field or None, area=area or None, actor=actor,
    )  # fmt: skip
    b = result.broadcast
    again = f'<p><a href="/admin/broadcast">{e(w("broadcast", "new"))}</a></p>'
    if not result.first:
        when = labels.at(b.created_at, seconds=True)
        note = w("broadcast", "already_sent", at=when, actor=b.actor, n=b.recipients)
        return common.render(
            request, w("broadcast", "already_sent_title"), f"<p>{e(note)}</p>" + again
        )
    await common.audit(
        request, "broadcast_sent",
        w("broadcast", "audit_sent", n=b.recipients, field=field, area=area, text=text[:100]),
    )  # fmt: skip
    sent = f"<p>{e(w('broadcast', 'sent', n=b.recipients))}</p>"
    return common.render(request, w("broadcast", "title"), sent + again)


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    app.router.add_get("/admin/broadcast", broadcast)
    app.router.add_post("/admin/broadcast/preview", broadcast_preview)
    app.router.add_post("/admin/broadcast/send", broadcast_send)
