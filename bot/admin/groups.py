"""The console's 団体 page: the directory (paged, sorted, filtered, searched as the bot folds
text), adding a group, CSV in and out, and removing the sample directory. One group's page
is ``bot.admin.group_page``.

Nothing here deletes or overwrites as a side effect: 「団体を追加」 refuses a key that exists
(editing that group is the way to change it) and adds the group unverified, a CSV import
adds and updates the keys it names and says which it updated, and the sample directory goes
only when staff ask for that on its own page, are shown what goes with it, and confirm; the
people affected are told."""

from __future__ import annotations

import asyncio
import io
import json

from aiohttp import web
from aiohttp.web_request import FileField

from bot import directory_csv
from bot.admin import common, group_page, labels
from bot.admin.group_form import group_form, problems_page, read_record
from bot.admin.group_page import invite_button, verify_button
from bot.admin.html import csrf_field, e, options, table
from bot.admin.words import w
from intents.menu import MENU_PAYLOAD
from storage.group_list import CITYWIDE, SORTS, STATES, DirectoryQuery
from storage.staff import Affected, SampleDirectory, SampleNotice
from storage.store import GroupRecord, GroupView

UPDATED_SHOWN = 50  # updated keys named after an import
OPENINGS = "ol"  # the resident's 「ボランティアをさがす」


def _query(request: web.Request) -> DirectoryQuery:
    q = request.query
    state = q.get("state", "")
    sort = q.get("sort", "")
    return DirectoryQuery(
        text=q.get("q", "").strip()[:200],
        field=q.get("field", ""),
        area=q.get("area", ""),
        state=state if state in STATES else "",
        sort=sort if sort in SORTS else SORTS[0],
    )


def _filters(request: web.Request, query: DirectoryQuery) -> str:
    conv = common.conversation(request)
    field_choices = [
        ("", w("groups", "any_field")),
        *((f.code, f.short) for f in conv.fields.fields),
    ]
    area_choices = [
        ("", w("groups", "any_area")),
        *((a.code, a.full_name) for a in conv.places.areas),
        (CITYWIDE, w("groups", "citywide")),
    ]
    state_choices = [
        ("", w("group_list", "state_any")),
        *((s, w("group_list", f"state_{s}")) for s in STATES),
    ]
    sort_choices = [(s, w("group_list", f"sort_{s}")) for s in SORTS]
    return (
        '<form method="get" class="filters">'
        f'<label>{e(w("groups", "search"))}<input type="search" name="q" value="{e(query.text)}" aria-describedby="q-hint"></label>'
        f'<label>{e(w("groups", "field"))}<select name="field">{options(field_choices, query.field)}</select></label>'
        f'<label>{e(w("groups", "area"))}<select name="area">{options(area_choices, query.area)}</select></label>'
        f'<label>{e(w("group_list", "state"))}<select name="state">{options(state_choices, query.state)}</select></label>'
        f'<label>{e(w("group_list", "sort"))}<select name="sort">{options(sort_choices, query.sort)}</select></label>'
        f'<button type="submit">{e(w("groups", "filter"))}</button>'
        f'<p id="q-hint"><small>{e(w("group_list", "search_hint"))}</small></p></form>'
    )  # fmt: skip


def _row(request: web.Request, g: GroupView, token: str, back: str) -> list[str]:
    conv = common.conversation(request)
    joiner = w("groups", "joiner")
    names = joiner.join(f.short for c in g.fields if (f := conv.fields.get(c)))
    where = w("groups", "citywide") if g.citywide else joiner.join(
        a.name for c in g.areas if (a := conv.places.get(c))
    )  # fmt: skip
    sample = w("groups", "sample_mark")
    # The sample groups' names already end with it; a group marked sample by hand may not.
    mark = f" <small>{e(sample)}</small>" if g.is_sample and sample not in g.name else ""
    state = (
        e(w("group_list", "verified"))
        if g.verified
        else f"<strong>{e(w('group_list', 'unverified'))}</strong>"
    )
    return [
        f'<a href="/admin/groups/{g.id}">{e(g.name)}</a>' + mark,
        e(names), e(where), state,
        e(labels.date(g.updated_at)) if g.updated_at else "",
        verify_button(g, token, back) + invite_button(g, token),
    ]  # fmt: skip


async def groups(request: web.Request) -> web.Response:
    """``GET /admin/groups``: one page of the directory (50 groups), searched, filtered and
    sorted in the database, with the total and links to the other pages."""
    conv = common.conversation(request)
    query = _query(request)
    page = labels.requested_page(request)
    found, everyone = await asyncio.gather(
        asyncio.to_thread(
            conv.store.directory_page, query, limit=labels.PER_PAGE,
            offset=(page - 1) * labels.PER_PAGE,
        ),
        asyncio.to_thread(conv.store.count_groups),
    )  # fmt: skip
    token = common.csrf(request)
    back = request.path_qs
    params = {"q": query.text, "field": query.field, "area": query.area, "state": query.state,
              "sort": query.sort if query.sort != SORTS[0] else ""}  # fmt: skip
    first = (page - 1) * labels.PER_PAGE + 1
    shown = (
        w("group_list", "total", total=found.total, all=everyone, first=first,
          last=first + len(found.groups) - 1)
        if found.groups
        else w("group_list", "none")
    )  # fmt: skip
    remove = (
        f"<p>{e(w('samples', 'note', n=found.samples))} "
        f'<a href="/admin/groups/samples">{e(w("samples", "link"))}</a></p>'
        if found.samples
        else ""
    )
    headers = [w("groups", "col_group"), w("groups", "col_fields"), w("groups", "col_areas"),
               w("groups", "col_verified"), w("group_list", "col_updated"),
               w("groups", "col_action")]  # fmt: skip
    rows = [_row(request, g, token, back) for g in found.groups]
    pages = labels.paging("/admin/groups", params, page, labels.page_count(found.total))
    body = (
        _filters(request, query)
        + f'<p role="status">{e(shown)} · '
        f'<a href="/admin/groups/new">{e(w("groups", "add"))}</a> · '
        f'<a href="/admin/groups/export.csv">{e(w("groups", "export"))}</a></p>'
        + remove
        + '<form method="post" action="/admin/groups/import" enctype="multipart/form-data" class="card">'
        f'{csrf_field(token)}<label>{e(w("groups", "import_label"))}'
        '<input type="file" name="file" accept=".csv,text/csv" required></label>'
        f'<p><small>{e(w("groups", "import_note"))}</small></p>'
        f'<button type="submit">{e(w("groups", "import_submit"))}</button></form>'
        + (table(headers, rows) if rows else "")
        + pages
    )  # fmt: skip
    return common.render(request, w("groups", "title"), body)


async def group_new(request: web.Request) -> web.Response:
    """``GET /admin/groups/new``: the form for a new group (it starts unverified)."""
    record = GroupRecord("", "", verified=False)
    body = group_form(request, record, "/admin/groups/new", known=False)
    return common.render(request, w("groups", "new_title"), body)


async def group_create(request: web.Request) -> web.StreamResponse:
    """``POST /admin/groups/new``: add a group, unverified. A key that exists is refused and
    nothing changes; the form comes back as typed, with a link to the group that has the key."""
    conv = common.conversation(request)
    record, problems = read_record(request, await request.post())
    if problems:
        return problems_page(request, problems)
    added = await asyncio.to_thread(conv.store.add_group, record)
    if added is None:
        existing = await asyncio.to_thread(conv.store.group_by_key, record.key)
        link = (
            f' <a href="/admin/groups/{existing.id}">{e(w("groups", "edit_existing", name=existing.name))}</a>'
            if existing else ""
        )  # fmt: skip
        body = (
            f'<p class="error" role="alert">{e(w("groups", "key_taken", key=record.key))}{link}</p>'
            + group_form(request, record, "/admin/groups/new", known=False)
        )
        return common.render(request, w("groups", "key_taken_title"), body, 409)
    await common.audit(request, "group_saved", f"{record.key} {record.name}")
    raise web.HTTPSeeOther(f"/admin/groups/{added}")


async def groups_export(request: web.Request) -> web.Response:
    """``GET /admin/groups/export.csv``: the directory as CSV (UTF-8 with BOM, for Excel)."""
    store = common.conversation(request).store

    def export() -> tuple[int, bytes]:  # 20,000 rows: off the event loop, reading and writing
        buffer = io.StringIO()
        count = directory_csv.write_rows(store.directory_rows(), buffer)
        return count, ("\ufeff" + buffer.getvalue()).encode()

    count, body = await asyncio.to_thread(export)
    await common.audit(request, "groups_exported", w("groups", "audit_exported", n=count))
    return web.Response(
        body=body,
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
          keys=w("groups", "audit_imported_keys", keys="・".join(keys)) if keys else "")[:1000],
    )  # fmt: skip
    updated = ""
    if keys:
        named = "".join(f"<li>{e(k)}</li>" for k in keys[:UPDATED_SHOWN])
        if len(keys) > UPDATED_SHOWN:
            named += f"<li>{e(w('groups', 'import_more', n=len(keys) - UPDATED_SHOWN))}</li>"
        updated = f"<p>{e(w('groups', 'import_updated'))}</p><ul>{named}</ul>"
    done = w("groups", "import_done", created=summary.created, updated=summary.updated,
             encoding=w("groups", f"encoding_{parsed.encoding}"))  # fmt: skip
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
    shown = tuple(
        int(x) for x in str(form.get("expected", "")).split(",") if x.isascii() and x.isdecimal()
    )
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
    group_page.add_routes(app)
