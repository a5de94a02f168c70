"""The group form of the console (a new group, or one group's details) and its checks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import directory_csv
from bot.admin import common
from bot.admin.html import back_to, csrf_field, e
from bot.admin.words import w
from storage.store import GroupRecord


def group_form(request: web.Request, group: GroupRecord, action: str, *, known: bool) -> str:
    """The group form; ``known``: an existing group's, whose key cannot change. A new group
    has no 確認済み box: it starts unverified (``Store.add_group``) and is verified on its
    own, once staff have checked it."""
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
    verified = (
        box("verified", "verified", group.verified)
        if known
        else f"<p><small>{e(w('group_list', 'new_note'))}</small></p>"
    )
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
        + verified
        + f'<button type="submit">{e(w("groups", "save"))}</button></form>'
    )  # fmt: skip


def read_record(
    request: web.Request, form: Any, key: str | None = None
) -> tuple[GroupRecord, list[str]]:
    """The group the form describes (``key``: an existing group's, whatever the form says),
    and what is wrong with it. A new group's record is unverified, whatever was posted."""
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
        # Edges trimmed as the CSV import trims them: an export imports back unchanged.
        key=key[:64], name=name[:200],
        description=str(form.get("description", "")).strip()[:2000],
        fields=tuple(fields), areas=tuple(areas),
        contact=str(form.get("contact", "")).strip()[:300],
        welcomes_newcomers="welcomes_newcomers" in form, welcomes_young="welcomes_young" in form,
        verified=known and "verified" in form,
    )  # fmt: skip
    return record, problems


def problems_page(request: web.Request, problems: list[str]) -> web.Response:
    """What is wrong with a posted form, and the way back to it."""
    back = back_to(request.headers.get("Referer", ""), request.host)
    body = (
        '<ul class="error" role="alert">'
        + "".join(f"<li>{e(p)}</li>" for p in problems)
        + f'</ul><p><a class="back" href="{e(back)}">{e(w("layout", "back"))}</a></p>'
    )
    return common.render(request, w("groups", "problems_title"), body, 400)
