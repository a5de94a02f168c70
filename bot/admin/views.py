"""The 市民活動センター's console under ``/admin/``: groups, recruitment calls, unanswered
questions, the dashboard and broadcasts. Every change is written to the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField
from rapidfuzz import fuzz

from bot import directory_csv
from bot.admin import auth, common, deliveries
from bot.admin.html import bar_chart, csrf_field, e, options, page, table
from bot.admin.words import w
from intents.openings import AGE_GROUPS
from knowledge.when import TOKYO, format_span, today_in_tokyo
from storage.store import GroupRecord, GroupView

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SIMILAR = 80  # rapidfuzz ratio above which two unanswered questions are grouped
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:",
}


_conv = common.conversation
_session = common.session
_csrf = common.csrf
_page = common.render
_audit = common.audit
secret_key = common.secret_key
session_key = common.session_key


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign-in required under /admin (except the sign-in page), CSRF on every POST, no stack
    traces to the browser, security headers on every console page."""
    if not request.path.startswith("/admin"):
        return await handler(request)
    try:
        if request.path not in ("/admin/login",):
            key = request.app[secret_key]
            session = auth.read_cookie(key, request.cookies.get(auth.SESSION_COOKIE))
            name = (
                await asyncio.to_thread(_conv(request).store.staff_name, session.user_id)
                if session
                else None
            )
            if session is None or name is None:
                raise web.HTTPSeeOther("/admin/login")
            request[session_key] = session
            if request.method == "POST":
                form = await request.post()
                if not auth.check_csrf(key, session, str(form.get("csrf", ""))):
                    return web.Response(
                        status=403,
                        text="CSRF token が正しくありません。",
                        content_type="text/plain",
                    )
        response = await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("console error on %s", request.path)
        html = page(
            "エラー", "<p>処理中にエラーが起きました。時間をおいてもう一度お試しください。</p>"
        )
        response = web.Response(text=html, content_type="text/html", status=500)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# --- sign in / out -------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    """The sign-in form (with a double-submit CSRF cookie)."""
    return _login_form(request, "")


def _login_form(request: web.Request, message: str, status: int = 200) -> web.Response:
    token = request.cookies.get(auth.PRE_CSRF_COOKIE) or secrets.token_hex(16)
    note = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
    body = (
        f'{note}<form method="post" action="/admin/login" class="card">'
        f'<input type="hidden" name="csrf" value="{e(token)}">'
        '<label>ユーザー名<input name="username" autocomplete="username" required></label>'
        '<label>パスワード<input name="password" type="password" autocomplete="current-password" required></label>'
        '<button type="submit">ログイン</button></form>'
    )
    response = web.Response(text=page("ログイン", body), content_type="text/html", status=status)
    response.set_cookie(
        auth.PRE_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/admin"
    )
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password (with lock-out), then start a session."""
    form = await request.post()
    pre = request.cookies.get(auth.PRE_CSRF_COOKIE, "")
    if not pre or form.get("csrf") != pre:
        return _login_form(request, "もう一度ログインしてください（フォームの期限切れ）。", 403)
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:200]
    store = _conv(request).store
    result = await asyncio.to_thread(store.login, username, password, datetime.now(UTC))
    if result.outcome == "locked":
        await asyncio.to_thread(store.audit, username or "?", "login_locked")
        return _login_form(request, "ログインに続けて失敗したため、15分間ロックしています。", 429)
    if result.outcome != "ok" or result.user_id is None:
        await asyncio.to_thread(store.audit, username or "?", "login_failed")
        return _login_form(request, "ユーザー名かパスワードが違います。", 401)
    await asyncio.to_thread(store.audit, username, "login")
    response = web.HTTPSeeOther("/admin/")
    cookie = auth.make_cookie(request.app[secret_key], result.user_id, username)
    auth.set_session(response, cookie, secure=request.secure)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    await _audit(request, "logout")
    response = web.HTTPSeeOther("/admin/login")
    auth.clear_session(response)
    raise response


# --- dashboard -----------------------------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    """Figures and charts."""
    conv = _conv(request)
    d = await asyncio.to_thread(conv.store.dashboard, today_in_tokyo(datetime.now(UTC)))
    tiles = [
        ("利用者", d.users), ("登録団体", f"{d.groups}（確認済み {d.verified_groups}）"),
        ("受付中の募集", d.open_calls), ("有効な申し込み", d.active_sign_ups),
        ("未回答の質問", d.open_questions),
        (w("deliveries", "dashboard_tile"),
         await asyncio.to_thread(conv.store.count_failed_deliveries)),
    ]  # fmt: skip
    cards = "".join(f'<div class="tile"><span>{e(k)}</span><b>{e(v)}</b></div>' for k, v in tiles)
    faq = conv.faq
    top = [((faq.get(i).label if faq.get(i) else i), n) for i, n in d.top_questions]  # type: ignore[union-attr]
    fields = [((f.short if (f := conv.fields.get(c)) else c), n) for c, n in d.sign_ups_by_field]
    areas = [((a.full_name if (a := conv.places.get(c)) else c), n) for c, n in d.sign_ups_by_area]
    filling = table(
        ["募集", "申込/定員"],
        [[e(title), f"{taken}/{cap}"] for _, title, taken, cap in d.filling_up],
    ) if d.filling_up else "<p>定員に近い募集はありません。</p>"  # fmt: skip
    body = (
        f'<div class="tiles">{cards}</div>'
        + bar_chart([(day[5:], n) for day, n in d.per_day], "1日あたりのメッセージ数（14日間）")
        + "<h2>よく聞かれる質問</h2>"
        + bar_chart(top, "FAQ 回答回数（14日間）")
        + "<h2>分野別の申し込み</h2>"
        + bar_chart(fields, "分野別の申し込み")
        + "<h2>地域別の申し込み</h2>"
        + bar_chart(areas, "地域別の申し込み")
        + "<h2>定員に近い募集</h2>"
        + filling
    )
    return _page(request, "ダッシュボード", body)


# --- groups --------------------------------------------------------------------------------------


async def groups(request: web.Request) -> web.Response:
    """List, search and filter the directory."""
    conv = _conv(request)
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
    token = _csrf(request)
    rows = []
    for g in shown[:300]:
        verify = (
            f'<form method="post" action="/admin/groups/{g.id}/verify" class="inline">{csrf_field(token)}'
            f'<button type="submit">{"確認を外す" if g.verified else "確認済みにする"}</button></form>'
        )
        invite = (
            f'<form method="post" action="/admin/groups/{g.id}/invite" class="inline">{csrf_field(token)}'
            '<button type="submit">招待コード発行</button></form>'
        )
        names = "・".join(f.short for c in g.fields if (f := conv.fields.get(c)))
        where = "市内全域" if g.citywide else "・".join(
            a.name for c in g.areas if (a := conv.places.get(c))
        )  # fmt: skip
        rows.append([
            f'<a href="/admin/groups/{g.id}">{e(g.name)}</a>' + (" <small>（サンプル）</small>" if g.is_sample else ""),
            e(names), e(where), "✅" if g.verified else "—", verify + invite,
        ])  # fmt: skip
    field_choices = [("", "すべての分野"), *((f.code, f.short) for f in conv.fields.fields)]
    area_choices = [("", "すべての地域"), *((a.code, a.full_name) for a in conv.places.areas),
                    ("citywide", "市内全域")]  # fmt: skip
    body = (
        '<form method="get" class="filters">'
        f'<label>検索<input name="q" value="{e(q)}"></label>'
        f'<label>分野<select name="field">{options(field_choices, field)}</select></label>'
        f'<label>地域<select name="area">{options(area_choices, area)}</select></label>'
        '<button type="submit">絞り込む</button></form>'
        f'<p>{len(shown)}件 · <a href="/admin/groups/new">団体を追加</a> · '
        '<a href="/admin/groups/export.csv">CSVで書き出す</a></p>'
        f'<form method="post" action="/admin/groups/import" enctype="multipart/form-data" class="card">'
        f'{csrf_field(token)}<label>CSVを取り込む（UTF-8 / Shift_JIS）<input type="file" name="file" accept=".csv,text/csv" required></label>'
        '<button type="submit">取り込む</button></form>'
        + table(["団体", "分野", "地域", "確認", "操作"], rows)
    )
    return _page(request, "団体", body)


async def _group_or_404(request: web.Request) -> GroupView:
    group = await asyncio.to_thread(_conv(request).store.get_group, int(request.match_info["id"]))
    if group is None:
        raise web.HTTPNotFound()
    return group


async def group_detail(request: web.Request) -> web.Response:
    """One group: edit form and its linked representatives."""
    conv = _conv(request)
    group = await _group_or_404(request)
    reps = await asyncio.to_thread(conv.store.linked_representatives, group.id)
    rep_list = "".join(f"<li>{e(p)}: {e(u)}</li>" for p, u in reps) or "<li>まだいません</li>"
    body = _group_form(request, group.key, group.name, group.description, group.contact,
                       list(group.fields), list(group.areas), group.welcomes_newcomers,
                       group.welcomes_young, group.verified, f"/admin/groups/{group.id}")  # fmt: skip
    body += f"<h2>連携している代表者</h2><ul>{rep_list}</ul>"
    return _page(request, group.name, body)


async def group_new(request: web.Request) -> web.Response:
    """The form for a new group."""
    body = _group_form(request, "", "", "", "", [], [], True, False, True, "/admin/groups/new")
    return _page(request, "団体を追加", body)


def _group_form(
    request: web.Request, key: str, name: str, description: str, contact: str,
    fields: list[str], areas: list[str], newcomers: bool, young: bool, verified: bool, action: str,
) -> str:  # fmt: skip
    conv = _conv(request)
    field_boxes = "".join(
        f'<label class="check"><input type="checkbox" name="fields" value="{e(f.code)}"'
        f"{' checked' if f.code in fields else ''}>{e(f.short)}</label>"
        for f in conv.fields.fields
    )
    area_boxes = "".join(
        f'<label class="check"><input type="checkbox" name="areas" value="{e(a.code)}"'
        f"{' checked' if a.code in areas else ''}>{e(a.full_name)}</label>"
        for a in conv.places.areas
    )

    def box(field: str, label: str, on: bool) -> str:
        checked = " checked" if on else ""
        return f'<label class="check"><input type="checkbox" name="{field}" value="1"{checked}>{label}</label>'

    readonly = " readonly" if key else ""
    return (
        f'<form method="post" action="{e(action)}" class="card">{csrf_field(_csrf(request))}'
        f'<label>key（変更不可）<input name="key" value="{e(key)}" required pattern="[A-Za-z0-9._-]+"{readonly}></label>'
        f'<label>団体名<input name="name" value="{e(name)}" required maxlength="200"></label>'
        f'<label>説明<textarea name="description" maxlength="2000">{e(description)}</textarea></label>'
        f'<label>公開する連絡先<input name="contact" value="{e(contact)}" maxlength="300"></label>'
        f"<fieldset><legend>分野</legend>{field_boxes}</fieldset>"
        f"<fieldset><legend>地域（なしなら市内全域）</legend>{area_boxes}</fieldset>"
        + box("welcomes_newcomers", "新しい仲間歓迎", newcomers)
        + box("welcomes_young", "若い世代歓迎", young)
        + box("verified", "確認済み", verified)
        + '<button type="submit">保存</button></form>'
    )


async def group_save(request: web.Request) -> web.StreamResponse:
    """Add or edit a group from the form."""
    conv = _conv(request)
    form = await request.post()
    key = str(form.get("key", "")).strip()
    name = str(form.get("name", "")).strip()
    fields = [str(v) for v in form.getall("fields", []) if conv.fields.get(str(v))]
    areas = [str(v) for v in form.getall("areas", []) if conv.places.get(str(v))]
    problems = []
    if not directory_csv._KEY.match(key) or len(key) > 64:
        problems.append("key は英数字と - _ . で64文字まで")
    if not name or len(name) > 200:
        problems.append("団体名は1〜200文字")
    if not fields:
        problems.append("分野を1つ以上選んでください")
    if problems:
        body = (
            '<ul class="error" role="alert">'
            + "".join(f"<li>{e(p)}</li>" for p in problems)
            + "</ul>"
        )
        return _page(
            request,
            "入力を確かめてください",
            body + '<p><a href="javascript:history.back()">戻る</a></p>',
            400,
        )
    record = GroupRecord(
        key=key, name=name, description=str(form.get("description", ""))[:2000],
        fields=tuple(fields), areas=tuple(areas), contact=str(form.get("contact", ""))[:300],
        welcomes_newcomers="welcomes_newcomers" in form, welcomes_young="welcomes_young" in form,
        verified="verified" in form,
    )  # fmt: skip
    await asyncio.to_thread(conv.store.import_groups, [record])
    await _audit(request, "group_saved", f"{key} {name}")
    raise web.HTTPSeeOther("/admin/groups?q=" + key)


async def group_verify(request: web.Request) -> web.StreamResponse:
    """Toggle a group's verified flag."""
    conv = _conv(request)
    group = await _group_or_404(request)
    record = GroupRecord(group.key, group.name, group.description, group.fields, group.areas,
                         group.contact, group.welcomes_newcomers, group.welcomes_young,
                         not group.verified)  # fmt: skip
    await asyncio.to_thread(conv.store.import_groups, [record], sample=group.is_sample)
    await _audit(request, "group_verified" if record.verified else "group_unverified", group.key)
    raise web.HTTPSeeOther("/admin/groups")


async def group_invite(request: web.Request) -> web.Response:
    """Issue a one-time invite code and show it once."""
    conv = _conv(request)
    group = await _group_or_404(request)
    issued = await asyncio.to_thread(conv.store.issue_invite, group.key)
    if issued is None:
        raise web.HTTPNotFound()
    code, expires = issued
    await _audit(request, "invite_issued", group.key)
    body = (
        f'<div class="card"><p>「{e(group.name)}」の招待コード：</p><p class="code">{e(code)}</p>'
        f"<p>有効期限 {expires.astimezone(TOKYO):%Y-%m-%d %H:%M}（日本時間）・1回だけ使えます。"
        "代表者に、ボットへ「招待コード（このコード）」と送ってもらってください。この画面を閉じると再表示できません。</p></div>"
    )
    return _page(request, "招待コード", body)


async def groups_export(request: web.Request) -> web.Response:
    """The directory as CSV (UTF-8 with BOM, for Excel)."""
    conv = _conv(request)
    buffer = io.StringIO()
    count = directory_csv.write(await asyncio.to_thread(conv.store.all_groups), buffer)
    await _audit(request, "groups_exported", f"{count}件")
    return web.Response(
        body=("\ufeff" + buffer.getvalue()).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="groups.csv"'},
    )


async def groups_import(request: web.Request) -> web.Response:
    """Import an uploaded directory CSV (all rows or none)."""
    conv = _conv(request)
    form = await request.post()
    upload = form.get("file")
    data = upload.file.read(directory_csv.MAX_BYTES + 1) if isinstance(upload, FileField) else b""
    parsed, summary = await asyncio.to_thread(
        directory_csv.import_csv, conv.store, data, conv.fields, conv.places
    )
    warnings = "".join(f"<li>{e(w)}</li>" for w in parsed.warnings)
    if summary is None:
        items = "".join(f"<li>{e(p)}</li>" for p in parsed.errors[:200])
        body = f'<p class="error" role="alert">取り込みませんでした（{len(parsed.errors)}件の問題。何も変更していません）。</p><ul>{items}</ul>'
        await _audit(request, "groups_import_refused", f"{len(parsed.errors)} errors")
        return _page(
            request, "CSV取り込み", body + (f"<ul>{warnings}</ul>" if warnings else ""), 400
        )
    await _audit(
        request,
        "groups_imported",
        f"new {summary.created}, updated {summary.updated}, samples removed {summary.samples_removed}",
    )
    body = (
        f"<p>取り込みました：新規 {summary.created}件・更新 {summary.updated}件"
        + (f"・サンプル {summary.samples_removed}件を削除" if summary.samples_removed else "")
        + f"（{e(parsed.encoding)}）。</p>"
        + (f"<ul>{warnings}</ul>" if warnings else "")
        + '<p><a href="/admin/groups">団体一覧へ</a></p>'
    )
    return _page(request, "CSV取り込み", body)


# --- calls -------------------------------------------------------------------------------------------


async def calls(request: web.Request) -> web.Response:
    """Every recruitment call, with hide and export."""
    conv = _conv(request)
    everything = await asyncio.to_thread(conv.store.all_calls)
    token = _csrf(request)
    rows = []
    for view in everything:
        hide = (
            f'<form method="post" action="/admin/calls/{view.id}/hide" class="inline">{csrf_field(token)}'
            '<input name="reason" placeholder="非表示の理由" required maxlength="300">'
            '<button type="submit">非表示</button></form>'
            if view.status != "hidden" else e(f"非表示：{view.hidden_reason or ''}")
        )  # fmt: skip
        rows.append([
            e(view.title), e(view.group_name), e(format_span(view.starts_at, view.ends_at)),
            f"{view.taken}/{view.capacity}（待ち{view.waiting}）", e(view.status),
            f'<a href="/admin/calls/{view.id}/signups.csv">申込者CSV</a> ' + hide,
        ])  # fmt: skip
    body = table(["募集", "団体", "日時", "申込", "状態", "操作"], rows)
    return _page(request, "募集", body)


async def call_hide(request: web.Request) -> web.StreamResponse:
    """Hide a call that breaks the rules; its group is told why."""
    conv = _conv(request)
    call_id = int(request.match_info["id"])
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:300]
    if not reason:
        return _page(
            request, "理由を書いてください", "<p>非表示にする理由は団体に伝えます。</p>", 400
        )
    view = await asyncio.to_thread(conv.store.get_call, call_id)
    if view is None or not await asyncio.to_thread(conv.store.hide_call, call_id, reason):
        raise web.HTTPNotFound()
    text = conv.messages.get("notice_hidden", "ja", title=view.title, reason=reason)
    body = json.dumps(
        {"text": text, "choices": [{"label": "自分の募集", "payload": "rc:mine"}]},
        ensure_ascii=False,
    )
    for user_id in await asyncio.to_thread(conv.store.representatives, view.group_id):
        await asyncio.to_thread(conv.store.enqueue, user_id, body)
    await _audit(request, "call_hidden", f"{call_id} {view.title}: {reason}")
    raise web.HTTPSeeOther("/admin/calls")


async def call_signups(request: web.Request) -> web.Response:
    """A call's sign-ups as CSV (UTF-8 with BOM so Excel opens it)."""
    conv = _conv(request)
    call_id = int(request.match_info["id"])
    view = await asyncio.to_thread(conv.store.get_call, call_id)
    if view is None:
        raise web.HTTPNotFound()
    people = await asyncio.to_thread(conv.store.all_volunteers, call_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["状態", "名前", "連絡先", "年代", "申込日時"])
    for p in people:
        state = "参加確定" if p.status == "confirmed" else "キャンセル待ち"
        writer.writerow([state, _cell(p.name), _cell(p.contact), AGE_GROUPS.get(p.age_group, p.age_group),
                         p.created_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")])  # fmt: skip
    await _audit(request, "signups_exported", f"{call_id} {view.title}")
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="signups-{call_id}.csv"'},
    )


def _cell(value: str) -> str:
    """Keep a spreadsheet from running what a volunteer typed as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


# --- unanswered questions -------------------------------------------------------------------------------


def cluster(questions: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Group similar questions (rapidfuzz ratio ≥ SIMILAR against the group's first), biggest first."""
    groups: list[list[tuple[int, str]]] = []
    for qid, text in questions:
        for group in groups:
            if fuzz.ratio(group[0][1], text) >= SIMILAR:
                group.append((qid, text))
                break
        else:
            groups.append([(qid, text)])
    return sorted(groups, key=len, reverse=True)


async def unanswered(request: web.Request) -> web.Response:
    """What residents asked that the bot could not answer, grouped, with actions."""
    conv = _conv(request)
    open_questions = await asyncio.to_thread(conv.store.unanswered, "open", 1000)
    clusters = cluster([(int(q.id or 0), q.text) for q in open_questions])
    token = _csrf(request)
    entries = options([(en.id, f"{en.label}（{en.source}）") for en in conv.faq.entries])
    rows = []
    for group in clusters[:100]:
        ids = ",".join(str(i) for i, _ in group)
        examples = "<br>".join(e(t) for _, t in group[:3])
        actions = (
            f'<form method="post" action="/admin/unanswered/attach" class="inline">{csrf_field(token)}'
            f'<input type="hidden" name="ids" value="{ids}">'
            f'<select name="entry" aria-label="FAQ項目">{entries}</select>'
            '<button type="submit">このFAQの言い方に追加</button></form>'
            f'<form method="post" action="/admin/unanswered/dismiss" class="inline">{csrf_field(token)}'
            f'<input type="hidden" name="ids" value="{ids}"><button type="submit">対応不要</button></form>'
        )
        rows.append([examples, str(len(group)), actions])
    body = f"<p>{len(open_questions)}件（似た質問をまとめています）</p>" + table(
        ["質問", "件数", "操作"], rows
    )
    return _page(request, "未回答の質問", body)


def _ids(form: Any) -> list[int]:
    return [int(x) for x in str(form.get("ids", "")).split(",") if x.strip().isdigit()][:1000]


async def attach(request: web.Request) -> web.StreamResponse:
    """Teach an FAQ entry these questions as new phrasings (live, and kept for restarts)."""
    conv = _conv(request)
    form = await request.post()
    entry = conv.faq.get(str(form.get("entry", "")))
    ids = _ids(form)
    if entry is None or not ids:
        raise web.HTTPBadRequest(text="FAQ項目と質問を選んでください。")
    questions = await asyncio.to_thread(conv.store.unanswered_by_ids, ids)
    texts = list(dict.fromkeys(q.text for q in questions))
    for text in texts:
        await asyncio.to_thread(conv.store.add_phrasing, entry.id, text)
    await asyncio.to_thread(conv.faq.add_phrasings, [(entry.id, t) for t in texts])
    await asyncio.to_thread(conv.store.set_unanswered_status, ids, "attached", entry.id)
    await _audit(request, "unanswered_attached", f"{entry.id}: {len(texts)}件")
    raise web.HTTPSeeOther("/admin/unanswered")


async def dismiss(request: web.Request) -> web.StreamResponse:
    """Mark questions as needing nothing."""
    conv = _conv(request)
    ids = _ids(await request.post())
    await asyncio.to_thread(conv.store.set_unanswered_status, ids, "dismissed")
    await _audit(request, "unanswered_dismissed", f"{len(ids)}件")
    raise web.HTTPSeeOther("/admin/unanswered")


# --- broadcast ------------------------------------------------------------------------------------------


def _broadcast_form(request: web.Request, text: str = "", field: str = "", area: str = "") -> str:
    conv = _conv(request)
    field_choices = [("", "すべての分野"), *((f.code, f.short) for f in conv.fields.fields)]
    area_choices = [("", "すべての地域"), *((a.code, a.full_name) for a in conv.places.areas)]
    return (
        f'<form method="post" action="/admin/broadcast/preview" class="card">{csrf_field(_csrf(request))}'
        f'<label>お知らせ（500文字まで）<textarea name="text" maxlength="500" required>{e(text)}</textarea></label>'
        f'<label>分野に関心のある人（申し込み実績）<select name="field">{options(field_choices, field)}</select></label>'
        f'<label>地域に関心のある人（申し込み実績）<select name="area">{options(area_choices, area)}</select></label>'
        '<button type="submit">プレビュー</button></form>'
    )


async def broadcast(request: web.Request) -> web.Response:
    """The announcement form."""
    return _page(request, "お知らせ配信", _broadcast_form(request))


async def broadcast_preview(request: web.Request) -> web.Response:
    """Show the text and how many people it reaches, then ask to send."""
    conv = _conv(request)
    form = await request.post()
    text, field, area = _broadcast_values(form)
    if not text:
        return _page(
            request,
            "お知らせ配信",
            '<p class="error" role="alert">本文を書いてください。</p>' + _broadcast_form(request),
            400,
        )
    people = await asyncio.to_thread(conv.store.audience, field or None, area or None)
    token = _csrf(request)
    body = (
        f'<div class="card preview"><p>{e(text)}</p></div>'
        f"<p>送信先：<b>{len(people)}人</b>（ブロック・退会した人を除く）</p>"
        f'<form method="post" action="/admin/broadcast/send">{csrf_field(token)}'
        f'<input type="hidden" name="text" value="{e(text)}"><input type="hidden" name="field" value="{e(field)}">'
        f'<input type="hidden" name="area" value="{e(area)}"><button type="submit">{len(people)}人に送る</button></form>'
        + _broadcast_form(request, text, field, area)
    )
    return _page(request, "お知らせのプレビュー", body)


def _broadcast_values(form: Any) -> tuple[str, str, str]:
    return (
        str(form.get("text", "")).strip()[:500],
        str(form.get("field", "")),
        str(form.get("area", "")),
    )


async def broadcast_send(request: web.Request) -> web.StreamResponse:
    """Queue the announcement for each person (the worker delivers it)."""
    conv = _conv(request)
    text, field, area = _broadcast_values(await request.post())
    if not text:
        raise web.HTTPBadRequest(text="本文がありません。")
    people = await asyncio.to_thread(conv.store.audience, field or None, area or None)
    body = json.dumps(
        {"text": "📣 " + text, "choices": [{"label": "メニュー", "payload": "menu"}]},
        ensure_ascii=False,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    for user_id in people:
        await asyncio.to_thread(
            conv.store.enqueue, user_id, body, dedupe_key=f"bc:{stamp}:{user_id}"
        )
    await _audit(
        request, "broadcast_sent", f"{len(people)}人 field={field} area={area}: {text[:100]}"
    )
    return _page(
        request,
        "お知らせ配信",
        f"<p>{len(people)}人への送信を受け付けました。順番に届きます。</p>",
    )


# --- audit --------------------------------------------------------------------------------------------------


async def audit_log(request: web.Request) -> web.Response:
    """Who did what, newest first."""
    entries = await asyncio.to_thread(_conv(request).store.audit_log, 200)
    rows = [[e(a.at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S")), e(a.actor), e(a.action), e(a.detail)]
            for a in entries]  # fmt: skip
    return _page(request, "操作記録", table(["日時", "担当", "操作", "内容"], rows))


def add_routes(app: web.Application) -> None:
    """Mount the console."""
    r = app.router
    r.add_get("/admin/login", login_page)
    r.add_post("/admin/login", login)
    r.add_post("/admin/logout", logout)
    r.add_get("/admin/", dashboard)
    r.add_get("/admin", _to_dashboard)
    r.add_get("/admin/groups", groups)
    r.add_get("/admin/groups/new", group_new)
    r.add_post("/admin/groups/new", group_save)
    r.add_get("/admin/groups/export.csv", groups_export)
    r.add_post("/admin/groups/import", groups_import)
    r.add_get(r"/admin/groups/{id:\d+}", group_detail)
    r.add_post(r"/admin/groups/{id:\d+}", group_save)
    r.add_post(r"/admin/groups/{id:\d+}/verify", group_verify)
    r.add_post(r"/admin/groups/{id:\d+}/invite", group_invite)
    r.add_get("/admin/calls", calls)
    r.add_post(r"/admin/calls/{id:\d+}/hide", call_hide)
    r.add_get(r"/admin/calls/{id:\d+}/signups.csv", call_signups)
    r.add_get("/admin/unanswered", unanswered)
    r.add_post("/admin/unanswered/attach", attach)
    r.add_post("/admin/unanswered/dismiss", dismiss)
    r.add_get("/admin/broadcast", broadcast)
    r.add_post("/admin/broadcast/preview", broadcast_preview)
    r.add_post("/admin/broadcast/send", broadcast_send)
    r.add_get("/admin/audit", audit_log)
    deliveries.add_routes(app)


async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/admin/")
