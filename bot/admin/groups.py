"""The console's 団体 page: the directory, one group's form, invite codes, CSV in and out, and
removing the sample directory.

Nothing here deletes or overwrites as a side effect: 「団体を追加」 refuses a key that exists
(editing that group is the way to change it), an edit changes only its own group, a CSV
import adds and updates the keys it names and says which it updated, and the sample
directory goes only when staff ask for that on its own page, are shown what goes with it,
and confirm; the people affected are told."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from bot import directory_csv
from bot.admin import common
from bot.admin.html import csrf_field, e, options, table
from bot.admin.words import w
from intents.menu import MENU_PAYLOAD
from knowledge.when import TOKYO
from storage.staff import Affected, SampleDirectory, SampleNotice
from storage.store import GroupRecord, GroupView

SHOWN = 300  # groups listed at once
UPDATED_SHOWN = 50  # updated keys named after an import
OPENINGS = "ol"  # the resident's 「ボランティアをさがす」


async def groups(request: web.Request) -> web.Response:
    """``GET /admin/groups``: list, search and filter the directory."""
    conv = common.conversation(request)
    q = request.query.get("q", "").strip()
    field = request.query.get("field", "")
    area = request.query.get("area", "")
    everyone = await asyncio.to_thread(conv.store.all_groups, include_samples=True)
    shown = [
        g for g in everyone
        if (not q or q in g.name or q in g.description or q == g.key)
        and (not field or field in g.fields)
        and (not area or area in g.areas or (area == "citywide" and g.citywide))
    ]  # fmt: skip
    token = common.csrf(request)
    joiner = w("groups", "joiner")
    rows = []
    for g in shown[:SHOWN]:
        verify = (
            f'<form method="post" action="/admin/groups/{g.id}/verify" class="inline">{csrf_field(token)}'
            f'<button type="submit">{e(w("groups", "unverify" if g.verified else "verify"))}</button></form>'
        )  # fmt: skip
        invite = (
            f'<form method="post" action="/admin/groups/{g.id}/invite" class="inline">{csrf_field(token)}'
            f'<button type="submit">{e(w("groups", "invite"))}</button></form>'
        )  # fmt: skip
        names = joiner.join(f.short for c in g.fields if (f := conv.fields.get(c)))
        where = w("groups", "citywide") if g.citywide else joiner.join(
            a.name for c in g.areas if (a := conv.places.get(c))
        )  # fmt: skip
        mark = f" <small>{e(w('groups', 'sample_mark'))}</small>" if g.is_sample else ""
        rows.append([
            f'<a href="/admin/groups/{g.id}">{e(g.name)}</a>' + mark,
            e(names), e(where), "✅" if g.verified else "—", verify + invite,
        ])  # fmt: skip
    field_choices = [
        ("", w("groups", "any_field")),
        *((f.code, f.short) for f in conv.fields.fields),
    ]
    area_choices = [("", w("groups", "any_area")), *((a.code, a.full_name) for a in conv.places.areas),
                    ("citywide", w("groups", "citywide"))]  # fmt: skip
    samples = sum(g.is_sample for g in everyone)
    remove = (
        f"<p>{e(w('samples', 'note', n=samples))} "
        f'<a href="/admin/groups/samples">{e(w("samples", "link"))}</a></p>'
        if samples
        else ""
    )
    headers = [w("groups", k) for k in
               ("col_group", "col_fields", "col_areas", "col_verified", "col_action")]  # fmt: skip
    body = (
        '<form method="get" class="filters">'
        f'<label>{e(w("groups", "search"))}<input name="q" value="{e(q)}"></label>'
        f'<label>{e(w("groups", "field"))}<select name="field">{options(field_choices, field)}</select></label>'
        f'<label>{e(w("groups", "area"))}<select name="area">{options(area_choices, area)}</select></label>'
        f'<button type="submit">{e(w("groups", "filter"))}</button></form>'
        f'<p>{e(w("groups", "count", n=len(shown)))} · '
        f'<a href="/admin/groups/new">{e(w("groups", "add"))}</a> · '
        f'<a href="/admin/groups/export.csv">{e(w("groups", "export"))}</a></p>'
        + remove
        + '<form method="post" action="/admin/groups/import" enctype="multipart/form-data" class="card">'
        f'{csrf_field(token)}<label>{e(w("groups", "import_label"))}'
        '<input type="file" name="file" accept=".csv,text/csv" required></label>'
        f'<p><small>{e(w("groups", "import_note"))}</small></p>'
        f'<button type="submit">{e(w("groups", "import_submit"))}</button></form>'
        + table(headers, rows)
    )  # fmt: skip
    return common.render(request, w("groups", "title"), body)


async def _group_or_404(request: web.Request) -> GroupView:
    store = common.conversation(request).store
    group = await asyncio.to_thread(store.get_group, int(request.match_info["id"]))
    if group is None:
        raise web.HTTPNotFound()
    return group


async def group_detail(request: web.Request) -> web.Response:
    """``GET /admin/groups/{id}``: one group's form and its linked representatives."""
    conv = common.conversation(request)
    group = await _group_or_404(request)
    reps = await asyncio.to_thread(conv.store.linked_representatives, group.id)
    rep_list = "".join(
        f"<li>{e(w('groups', 'rep', platform=p, user=u))}</li>" for p, u in reps
    ) or f"<li>{e(w('groups', 'no_reps'))}</li>"  # fmt: skip
    record = GroupRecord(group.key, group.name, group.description, group.fields, group.areas,
                         group.contact, group.welcomes_newcomers, group.welcomes_young,
                         group.verified)  # fmt: skip
    body = _group_form(request, record, f"/admin/groups/{group.id}", known=True)
    body += f"<h2>{e(w('groups', 'reps'))}</h2><ul>{rep_list}</ul>"
    return common.render(request, group.name, body)


async def group_new(request: web.Request) -> web.Response:
    """``GET /admin/groups/new``: the form for a new group."""
    body = _group_form(request, GroupRecord("", ""), "/admin/groups/new", known=False)
    return common.render(request, w("groups", "new_title"), body)


def _group_form(request: web.Request, group: GroupRecord, action: str, *, known: bool) -> str:
    """The group form; ``known``: an existing group's, whose key cannot change."""
    conv = common.conversation(request)
    field_boxes = "".join(
        f'<label class="check"><input type="checkbox" name="fields" value="{e(f.code)}"'
        f"{' checked' if f.code in group.fields else ''}>{e(f.short)}</label>"
        for f in conv.fields.fields
    )
    area_boxes = "".join(
        f'<label class="check"><input type="checkbox" name="areas" value="{e(a.code)}"'
        f"{' checked' if a.code in group.areas else ''}>{e(a.full_name)}</label>"
        for a in conv.places.areas
    )

    def box(field: str, label: str, on: bool) -> str:
        checked = " checked" if on else ""
        return (
            f'<label class="check"><input type="checkbox" name="{field}" value="1"{checked}>'
            f"{e(w('groups', label))}</label>"
        )

    readonly = " readonly" if known else ""
    return (
        f'<form method="post" action="{e(action)}" class="card">{csrf_field(common.csrf(request))}'
        f'<label>{e(w("groups", "key_label"))}<input name="key" value="{e(group.key)}" required pattern="[A-Za-z0-9._-]+"{readonly}></label>'
        f'<label>{e(w("groups", "name_label"))}<input name="name" value="{e(group.name)}" required maxlength="200"></label>'
        f'<label>{e(w("groups", "description_label"))}<textarea name="description" maxlength="2000">{e(group.description)}</textarea></label>'
        f'<label>{e(w("groups", "contact_label"))}<input name="contact" value="{e(group.contact)}" maxlength="300"></label>'
        f"<fieldset><legend>{e(w('groups', 'fields_legend'))}</legend>{field_boxes}</fieldset>"
        f"<fieldset><legend>{e(w('groups', 'areas_legend'))}</legend>{area_boxes}</fieldset>"
        + box("welcomes_newcomers", "newcomers", group.welcomes_newcomers)
        + box("welcomes_young", "young", group.welcomes_young)
        + box("verified", "verified", group.verified)
        + f'<button type="submit">{e(w("groups", "save"))}</button></form>'
    )  # fmt: skip


def _record(
    request: web.Request, form: Any, key: str | None = None
) -> tuple[GroupRecord, list[str]]:
    """The group the form describes (``key``: an existing group's, whatever the form says),
    and what is wrong with it."""
    conv = common.conversation(request)
    known = key is not None
    key = key if key is not None else str(form.get("key", "")).strip()
    name = str(form.get("name", "")).strip()
    fields = [str(v) for v in form.getall("fields", []) if conv.fields.get(str(v))]
    areas = [str(v) for v in form.getall("areas", []) if conv.places.get(str(v))]
    problems = []
    if not known and (not directory_csv._KEY.match(key) or len(key) > 64):
        problems.append(w("groups", "bad_key"))
    if not name or len(name) > 200:
        problems.append(w("groups", "bad_name"))
    if not fields:
        problems.append(w("groups", "no_fields"))
    record = GroupRecord(
        key=key[:64], name=name[:200], description=str(form.get("description", ""))[:2000],
        fields=tuple(fields), areas=tuple(areas), contact=str(form.get("contact", ""))[:300],
        welcomes_newcomers="welcomes_newcomers" in form, welcomes_young="welcomes_young" in form,
        verified="verified" in form,
    )  # fmt: skip
    return record, problems


def _problems(request: web.Request, problems: list[str]) -> web.Response:
    body = (
        '<ul class="error" role="alert">'
        + "".join(f"<li>{e(p)}</li>" for p in problems)
        + f'</ul><p><a href="javascript:history.back()">{e(w("layout", "back"))}</a></p>'
    )
    return common.render(request, w("groups", "problems_title"), body, 400)


async def group_create(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/new``: add a group. A key that exists is refused and nothing
    changes; the form comes back as typed, with a link to the group that has the key."""
    conv = common.conversation(request)
    record, problems = _record(request, await request.post())
    if problems:
        return _problems(request, problems)
    added = await asyncio.to_thread(conv.store.add_group, record)
    if added is None:
        existing = await asyncio.to_thread(conv.store.group_by_key, record.key)
        link = (
            f' <a href="/admin/groups/{existing.id}">{e(w("groups", "edit_existing", name=existing.name))}</a>'
            if existing else ""
        )  # fmt: skip
        body = (
            f'<p class="error" role="alert">{e(w("groups", "key_taken", key=record.key))}{link}</p>'
            + _group_form(request, record, "/admin/groups/new", known=False)
        )
        return common.render(request, w("groups", "key_taken_title"), body, 409)
    await common.audit(request, "group_saved", f"{record.key} {record.name}")
    raise web.HTTPSeeOther("/admin/groups?q=" + record.key)


async def group_update(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/{id}``: change this group's details (its key stays)."""
    conv = common.conversation(request)
    group = await _group_or_404(request)
    record, problems = _record(request, await request.post(), key=group.key)
    if problems:
        return _problems(request, problems)
    if not await asyncio.to_thread(conv.store.update_group, group.id, record):
        raise web.HTTPNotFound()
    await common.audit(request, "group_saved", f"{group.key} {record.name}")
    raise web.HTTPSeeOther("/admin/groups?q=" + group.key)


async def group_verify(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/{id}/verify``: toggle a group's verified flag (nothing else)."""
    conv = common.conversation(request)
    group = await _group_or_404(request)
    await asyncio.to_thread(conv.store.set_group_verified, group.id, not group.verified)
    await common.audit(
        request, "group_unverified" if group.verified else "group_verified", group.key
    )
    raise web.HTTPSeeOther("/admin/groups")


async def group_invite(request: web.Request) -> web.Response:
    """``POST /admin/groups/{id}/invite``: issue a one-time invite code and show it once."""
    conv = common.conversation(request)
    group = await _group_or_404(request)
    issued = await asyncio.to_thread(conv.store.issue_invite, group.key)
    if issued is None:
        raise web.HTTPNotFound()
    code, expires = issued
    await common.audit(request, "invite_issued", group.key)
    when = f"{expires.astimezone(TOKYO):%Y-%m-%d %H:%M}"
    body = (
        f'<div class="card"><p>{e(w("groups", "invite_for", name=group.name))}</p>'
        f'<p class="code">{e(code)}</p><p>{e(w("groups", "invite_how", expires=when))}</p></div>'
    )
    return common.render(request, w("groups", "invite_title"), body)


async def groups_export(request: web.Request) -> web.Response:
    """``GET /admin/groups/export.csv``: the directory as CSV (UTF-8 with BOM, for Excel)."""
    conv = common.conversation(request)
    buffer = io.StringIO()
    count = directory_csv.write(await asyncio.to_thread(conv.store.all_groups), buffer)
    await common.audit(request, "groups_exported", w("groups", "audit_exported", n=count))
    return web.Response(
        body=("\ufeff" + buffer.getvalue()).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="groups.csv"'},
    )


async def groups_import(request: web.Request) -> web.Response:
    """``POST /admin/groups/import``: import an uploaded directory CSV (all rows or none).
    Keys in the file are added or updated (the page names the updated ones); no group is
    removed, the samples included."""
    conv = common.conversation(request)
    form = await request.post()
    upload = form.get("file")
    data = upload.file.read(directory_csv.MAX_BYTES + 1) if isinstance(upload, FileField) else b""
    parsed, summary = await asyncio.to_thread(
        directory_csv.import_csv, conv.store, data, conv.fields, conv.places
    )
    warnings = "".join(f"<li>{e(x)}</li>" for x in parsed.warnings)
    warnings = f"<ul>{warnings}</ul>" if warnings else ""
    title = w("groups", "import_title")
    if summary is None:
        items = "".join(f"<li>{e(p)}</li>" for p in parsed.errors[:200])
        body = (
            f'<p class="error" role="alert">{e(w("groups", "import_refused", n=len(parsed.errors)))}</p>'
            f"<ul>{items}</ul>"
        )  # fmt: skip
        await common.audit(
            request, "groups_import_refused", w("groups", "audit_refused", n=len(parsed.errors))
        )
        return common.render(request, title, body + warnings, 400)
    keys = summary.updated_keys
    await common.audit(
        request,
        "groups_imported",
        w("groups", "audit_imported", created=summary.created, updated=summary.updated,
          keys=" ".join(keys))[:1000],
    )  # fmt: skip
    updated = ""
    if keys:
        named = "".join(f"<li>{e(k)}</li>" for k in keys[:UPDATED_SHOWN])
        if len(keys) > UPDATED_SHOWN:
            named += f"<li>{e(w('groups', 'import_more', n=len(keys) - UPDATED_SHOWN))}</li>"
        updated = f"<p>{e(w('groups', 'import_updated'))}</p><ul>{named}</ul>"
    done = w("groups", "import_done", created=summary.created, updated=summary.updated,
             encoding=parsed.encoding)  # fmt: skip
    kept = (
        f"<p>{e(w('groups', 'import_samples_kept', n=summary.samples_left))}</p>"
        if summary.samples_left
        else ""
    )
    body = (
        f"<p>{e(done)}</p>" + updated + kept + warnings
        + f'<p><a href="/admin/groups">{e(w("groups", "to_list"))}</a></p>'
    )  # fmt: skip
    return common.render(request, title, body)


# --- removing the sample directory ---------------------------------------------------------------


def _sample_counts(d: SampleDirectory) -> str:
    counts = (("count_groups", d.groups), ("count_calls", d.calls), ("count_sign_ups", d.sign_ups),
              ("count_links", d.links), ("count_people", d.people))  # fmt: skip
    return "<ul>" + "".join(f"<li>{e(w('samples', k, n=n))}</li>" for k, n in counts) + "</ul>"


def _samples_page(
    request: web.Request, d: SampleDirectory, note: str = "", status: int = 200
) -> web.Response:
    if not d.groups:
        body = f"<p>{e(w('samples', 'none'))}</p>"
    else:
        expected = ",".join(str(n) for n in d.counts)
        body = (
            (f'<p class="error" role="alert">{e(note)}</p>' if note else "")
            + f"<p>{e(w('samples', 'intro'))}</p>{_sample_counts(d)}<p>{e(w('samples', 'kept'))}</p>"
            f'<form method="post" action="/admin/groups/samples/remove" class="card">'
            f'{csrf_field(common.csrf(request))}<input type="hidden" name="expected" value="{expected}">'
            f'<button type="submit">{e(w("samples", "confirm"))}</button></form>'
        )  # fmt: skip
    body += f'<p><a href="/admin/groups">{e(w("samples", "cancel"))}</a></p>'
    return common.render(request, w("samples", "title"), body, status)


async def samples(request: web.Request) -> web.Response:
    """``GET /admin/groups/samples``: what removing the sample directory takes away (groups,
    their calls, sign-ups and representative links) and how many people are told; a button
    to confirm. Looking changes nothing."""
    store = common.conversation(request).store
    return _samples_page(request, await asyncio.to_thread(store.sample_directory))


async def samples_remove(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/samples/remove``: remove what the page showed, tell the people
    affected (through the outbox, in the same transaction) and log the counts. When what
    would go is no longer what staff saw, nothing is removed and the new counts are shown."""
    conv = common.conversation(request)
    form = await request.post()
    shown = tuple(int(x) for x in str(form.get("expected", "")).split(",") if x.isdigit())
    expected = shown if len(shown) == 4 else None
    result = await asyncio.to_thread(
        conv.store.remove_samples, _sample_notice(request), expected=expected
    )
    d = result.directory
    if not result.removed and d.groups:
        return _samples_page(request, d, w("samples", "changed"), 409)
    if result.removed:
        await common.audit(
            request,
            "samples_removed",
            w("samples", "audit", groups=d.groups, calls=d.calls, sign_ups=d.sign_ups,
              links=d.links, people=d.people),
        )  # fmt: skip
    raise web.HTTPSeeOther("/admin/groups")


def _sample_notice(request: web.Request) -> SampleNotice:
    """What a person whose things went with the samples is told, in their language."""
    messages = common.conversation(request).messages

    def notice(person: Affected) -> str:
        lang = person.locale
        names = "\n".join(messages.get("notice_samples_name", lang, name=n) for n in person.names)
        menu = {"label": messages.label("menu", lang), "payload": MENU_PAYLOAD}
        if person.role == "participant":
            text = messages.get("notice_samples_removed_participant", lang, titles=names)
            find = {"label": messages.label("openings_find", lang), "payload": OPENINGS}
            choices = [find, menu]
        else:
            text = messages.get("notice_samples_removed_representative", lang, groups=names)
            choices = [menu]
        return json.dumps({"text": text, "choices": choices}, ensure_ascii=False)

    return notice


def add_routes(app: web.Application) -> None:
    """The page's routes."""
    r = app.router
    r.add_get("/admin/groups", groups)
    r.add_get("/admin/groups/new", group_new)
    r.add_post("/admin/groups/new", group_create)
    r.add_get("/admin/groups/export.csv", groups_export)
    r.add_post("/admin/groups/import", groups_import)
    r.add_get("/admin/groups/samples", samples)
    r.add_post("/admin/groups/samples/remove", samples_remove)
    r.add_get(r"/admin/groups/{id:\d+}", group_detail)
    r.add_post(r"/admin/groups/{id:\d+}", group_update)
    r.add_post(r"/admin/groups/{id:\d+}/verify", group_verify)
    r.add_post(r"/admin/groups/{id:\d+}/invite", group_invite)
