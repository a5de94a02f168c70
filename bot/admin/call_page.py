"""One recruitment call's page in the console: everything its group wrote (description,
place, who may join, capacity, the dates with the year, its state) and who signed up, with
the waiting list in its order. Names and contacts are personal data: this page is for the
center's staff only (behind the console's sign-in, like the sign-ups CSV), and no browser or
proxy keeps a copy (``Cache-Control: no-store``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.admin import common, labels
from bot.admin.html import csrf_field, e, table
from bot.admin.words import w
from intents.signup import AGE_GROUPS
from storage.models import utcnow
from storage.openings import CallView, Volunteer, audience

HIDDEN = ("hidden", "review")


def call_actions(view: CallView, token: str, back: str) -> str:
    """The CSV link and hide / show again, returning to ``back`` after the action."""
    export = f'<a href="/admin/calls/{view.id}/signups.csv">{e(w("calls", "export"))}</a> '
    go_back = f'<input type="hidden" name="back" value="{e(back)}">'
    if view.status in HIDDEN:
        note = e(w("calls", "hidden_because", reason=view.hidden_reason or ""))
        return (
            export + note
            + f'<form method="post" action="/admin/calls/{view.id}/unhide" class="inline">'
            f'{csrf_field(token)}{go_back}<button type="submit">{e(w("calls", "unhide"))}</button></form>'
        )  # fmt: skip
    if view.status == "cancelled":
        return export
    return (
        export
        + f'<form method="post" action="/admin/calls/{view.id}/hide" class="inline">'
        f'{csrf_field(token)}{go_back}<input name="reason" placeholder="{e(w("calls", "reason"))}" '
        f'required maxlength="300" aria-label="{e(w("calls", "reason"))}">'
        f'<button type="submit">{e(w("calls", "hide"))}</button></form>'
    )  # fmt: skip


def _details(request: web.Request, view: CallView) -> str:
    conv = common.conversation(request)
    field = conv.fields.get(view.field)
    area = conv.places.get(view.area)
    capacity = w("call_page", "capacity_value", capacity=view.capacity, taken=view.taken,
                 left=view.places_left, waiting=view.waiting)  # fmt: skip
    rows = [
        ("group", f'<a href="/admin/groups/{view.group_id}">{e(view.group_name)}</a>'),
        ("status", e(labels.call_state(view, utcnow()))),
        ("when", e(labels.span(view.starts_at, view.ends_at))),
        ("place", e(view.place)),
        ("meeting_point", e(view.meeting_point)),
        ("area", e(area.full_name if area else view.area)),
        ("field", e(field.short if field else view.field)),
        ("audience", e(w("call_page", f"audience_{audience(view.high_school_ok, view.min_age)}"))),
        ("beginners", e(w("call_page", "beginners_yes" if view.beginners_welcome else "beginners_no"))),
        ("capacity", e(capacity)),
        ("bring", e(view.bring or w("call_page", "bring_none"))),
        ("description", e(view.description).replace("\n", "<br>")),
    ]  # fmt: skip
    if view.status in HIDDEN and view.hidden_reason:
        rows.append(("hidden_reason", e(view.hidden_reason)))
    items = "".join(f"<dt>{e(w('call_page', k))}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="details">{items}</dl>'


def _people(title: str, people: list[Volunteer], *, numbered: bool) -> str:
    heading = f"<h2>{e(title)}</h2>"
    if not people:
        return heading + f"<p>{e(w('call_page', 'nobody'))}</p>"
    keys = ["col_name", "col_contact", "col_age", "col_at"]
    rows = [
        [e(p.name), e(p.contact), e(AGE_GROUPS.get(p.age_group, p.age_group)), e(labels.at(p.created_at))]
        for p in people
    ]  # fmt: skip
    if numbered:
        keys.insert(0, "col_position")
        rows = [[str(n), *row] for n, row in enumerate(rows, 1)]
    return heading + table([w("call_page", k) for k in keys], rows)


async def call_detail(request: web.Request) -> web.Response:
    """``GET /admin/calls/{id}``: the call's details, its participants and its waiting list."""
    store = common.conversation(request).store
    call_id = int(request.match_info["id"])
    view, people = await asyncio.gather(
        asyncio.to_thread(store.get_call, call_id),
        asyncio.to_thread(store.all_volunteers, call_id),
    )
    if view is None:
        raise web.HTTPNotFound()
    confirmed = [p for p in people if p.status == "confirmed"]
    waiting = [p for p in people if p.status == "waiting"]  # in order: the first moves up first
    body = (
        f"<p>{call_actions(view, common.csrf(request), request.path)}</p>"
        + _details(request, view)
        + f"<p><small>{e(w('call_page', 'personal'))}</small></p>"
        + _people(w("call_page", "participants", n=len(confirmed)), confirmed, numbered=False)
        + _people(w("call_page", "waiting", n=len(waiting)), waiting, numbered=True)
        + f'<p><a href="/admin/calls">{e(w("call_page", "back"))}</a></p>'
    )
    if people:  # names and contacts were shown: who looked, like the CSV's export
        detail = w("call_page", "audit_viewed", call=f"{view.id} {view.title}", n=len(people))
        await common.audit(request, "call_participants_viewed", detail)
    response = common.render(request, view.title, body)
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    app.router.add_get(r"/admin/calls/{id:\d+}", call_detail)
