"""One group's page in the console: its details (the form), its calls, its representatives
(by name, with the day they linked and a button to end the link) and its invite codes that
can still be used; and the actions on one group (save, verify, issue a code, unlink)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from aiohttp import web

from bot.admin import common, labels
from bot.admin.group_form import group_form, problems_page, read_record
from bot.admin.html import csrf_field, e, table
from bot.admin.words import w
from intents.menu import MENU_PAYLOAD
from storage.models import utcnow
from storage.openings import CallView
from storage.representatives import RepresentativeLink, UnlinkNotice
from storage.store import GroupRecord, GroupView

CALLS_SHOWN = 100  # a group's calls listed on its page, the latest first


async def group_or_404(request: web.Request) -> GroupView:
    """The group the path names (``{id}``), or 404."""
    store = common.conversation(request).store
    group = await asyncio.to_thread(store.get_group, int(request.match_info["id"]))
    if group is None:
        raise web.HTTPNotFound()
    return group


def verify_button(group: GroupView, token: str, back: str) -> str:
    """The form that marks a group verified (or takes the mark off), then returns to ``back``."""
    label = w("groups", "unverify" if group.verified else "verify")
    return (
        f'<form method="post" action="/admin/groups/{group.id}/verify" class="inline">'
        f'{csrf_field(token)}<input type="hidden" name="back" value="{e(back)}">'
        f'<button type="submit">{e(label)}</button></form>'
    )


def invite_button(group: GroupView, token: str) -> str:
    """The form that issues an invite code for the group."""
    return (
        f'<form method="post" action="/admin/groups/{group.id}/invite" class="inline">'
        f'{csrf_field(token)}<button type="submit">{e(w("groups", "invite"))}</button></form>'
    )


def _calls_section(calls: list[CallView], total: int, now: datetime) -> str:
    heading = f"<h2>{e(w('group_page', 'calls'))}</h2>"
    if not calls:
        return heading + f"<p>{e(w('group_page', 'no_calls'))}</p>"
    rows = [
        [
            f'<a href="/admin/calls/{c.id}">{e(c.title)}</a>',
            e(labels.span(c.starts_at, c.ends_at)),
            e(labels.call_state(c, now)),
            e(w("calls", "places", taken=c.taken, capacity=c.capacity, waiting=c.waiting)),
        ]
        for c in calls
    ]
    headers = [w("group_page", k) for k in ("col_title", "col_when", "col_status", "col_places")]
    note = (
        f"<p>{e(w('group_page', 'calls_shown', shown=len(calls), n=total))}</p>"
        if total > len(calls)
        else ""
    )
    return heading + note + table(headers, rows)


def _reps_section(group: GroupView, reps: list[RepresentativeLink], token: str) -> str:
    heading = f"<h2>{e(w('group_page', 'reps'))}</h2>"
    if not reps:
        return heading + f"<p>{e(w('group_page', 'no_reps'))}</p>"
    rows = [
        [
            e(labels.representative(r)),
            e(labels.at(r.linked_at)),
            f'<form method="post" action="/admin/groups/{group.id}/representatives/{r.user_id}/unlink" class="inline">'
            f'{csrf_field(token)}<button type="submit" aria-label="{e(w("group_page", "unlink_label", rep=labels.representative(r)))}">'
            f'{e(w("group_page", "unlink"))}</button></form>',
        ]
        for r in reps
    ]  # fmt: skip
    headers = [w("group_page", k) for k in ("col_rep", "col_linked", "col_action")]
    return heading + f"<p>{e(w('group_page', 'unlink_note'))}</p>" + table(headers, rows)


async def group_detail(request: web.Request) -> web.Response:
    """``GET /admin/groups/{id}``: the group's form, calls, representatives and the invite
    codes that can still be used."""
    conv = common.conversation(request)
    group = await group_or_404(request)
    store = conv.store
    reps, (calls, total), invites = await asyncio.gather(
        asyncio.to_thread(store.linked_representatives, group.id),
        asyncio.to_thread(store.group_calls, group.id, limit=CALLS_SHOWN),
        asyncio.to_thread(store.open_invites, group.id, utcnow()),
    )
    token = common.csrf(request)
    here = f"/admin/groups/{group.id}"
    state = w("group_page", "state_verified" if group.verified else "state_unverified")
    record = GroupRecord(group.key, group.name, group.description, group.fields, group.areas,
                         group.contact, group.welcomes_newcomers, group.welcomes_young,
                         group.verified)  # fmt: skip
    invite_rows = [[e(labels.at(i.issued_at)), e(labels.at(i.expires_at))] for i in invites]
    invite_list = (
        table([w("group_page", "col_issued"), w("group_page", "col_expires")], invite_rows)
        if invites
        else f"<p>{e(w('group_page', 'no_invites'))}</p>"
    )
    body = (
        f"<p>{e(state)} {verify_button(group, token, here)}</p>"
        + group_form(request, record, here, known=True)
        + _calls_section(calls, total, utcnow())
        + _reps_section(group, reps, token)
        + f"<h2>{e(w('group_page', 'invites'))}</h2>{invite_list}"
        + f"<p><small>{e(w('group_page', 'invites_note'))}</small></p>"
        + f"<p>{invite_button(group, token)}</p>"
    )
    return common.render(request, group.name, body)


async def group_update(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/{id}``: change this group's details (its key stays)."""
    conv = common.conversation(request)
    group = await group_or_404(request)
    record, problems = read_record(request, await request.post(), key=group.key)
    if problems:
        return problems_page(request, problems)
    if not await asyncio.to_thread(conv.store.update_group, group.id, record):
        raise web.HTTPNotFound()
    await common.audit(request, "group_saved", f"{group.key} {record.name}")
    raise web.HTTPSeeOther(f"/admin/groups/{group.id}")


async def group_verify(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/{id}/verify``: toggle a group's verified flag (nothing else), then
    back to the list page (or the group's page) the button was on."""
    conv = common.conversation(request)
    group = await group_or_404(request)
    form = await request.post()
    await asyncio.to_thread(conv.store.set_group_verified, group.id, not group.verified)
    await common.audit(
        request, "group_unverified" if group.verified else "group_verified", group.key
    )
    raise web.HTTPSeeOther(labels.back_in(form.get("back"), "/admin/groups"))


async def group_invite(request: web.Request) -> web.Response:
    """``POST /admin/groups/{id}/invite``: issue a one-time invite code and show it once."""
    conv = common.conversation(request)
    group = await group_or_404(request)
    issued = await asyncio.to_thread(conv.store.issue_invite, group.key)
    if issued is None:
        raise web.HTTPNotFound()
    code, expires = issued
    await common.audit(request, "invite_issued", group.key)
    when = labels.at(expires)
    body = (
        f'<div class="card"><p>{e(w("groups", "invite_for", name=group.name))}</p>'
        f'<p class="code">{e(code)}</p><p>{e(w("groups", "invite_how", expires=when))}</p></div>'
        f'<p><a href="/admin/groups/{group.id}">{e(group.name)}</a></p>'
    )
    return common.render(request, w("groups", "invite_title"), body)


async def unlink(request: web.Request) -> web.Response:
    """``POST /admin/groups/{id}/representatives/{user}/unlink``: end a representative's link
    (the group's calls and sign-ups stay); they are told through the outbox, and the log says
    who did it. A link that is gone already changes nothing and tells nobody."""
    conv = common.conversation(request)
    group = await group_or_404(request)
    user_id = int(request.match_info["user"])
    reps = await asyncio.to_thread(conv.store.linked_representatives, group.id)
    link = next((r for r in reps if r.user_id == user_id), None)
    name = None
    if link is not None:
        name = await asyncio.to_thread(
            conv.store.unlink_by_staff, user_id, group.id, _unlink_notice(request)
        )
    if link is None or name is None:
        body = (
            f'<p class="error" role="alert">{e(w("group_page", "unlink_gone"))}</p>'
            f'<p><a href="/admin/groups/{group.id}">{e(group.name)}</a></p>'
        )
        return common.render(request, group.name, body, 404)
    rep = labels.representative(link)
    detail = w("group_page", "audit_unlinked", group=f"{group.key} {group.name}", rep=rep)
    await common.audit(request, "representative_unlinked", detail)
    raise web.HTTPSeeOther(f"/admin/groups/{group.id}")


def _unlink_notice(request: web.Request) -> UnlinkNotice:
    """What a representative the center unlinked is told, in their language."""
    messages = common.conversation(request).messages

    def notice(locale: str, group: str, still: bool) -> str:
        text = messages.get("notice_unlinked_by_center", locale, group=group)
        menu = {"label": messages.label("menu", locale), "payload": MENU_PAYLOAD}
        body: dict[str, object] = {"text": text, "choices": [menu]}
        if not still:  # a representative of no group now: LINE shows the residents' menu
            body["rich_menu"] = "resident"
        return json.dumps(body, ensure_ascii=False)

    return notice


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    r = app.router
    r.add_get(r"/admin/groups/{id:\d+}", group_detail)
    r.add_post(r"/admin/groups/{id:\d+}", group_update)
    r.add_post(r"/admin/groups/{id:\d+}/verify", group_verify)
    r.add_post(r"/admin/groups/{id:\d+}/invite", group_invite)
    r.add_post(r"/admin/groups/{id:\d+}/representatives/{user:\d+}/unlink", unlink)
