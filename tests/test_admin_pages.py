"""The console's unanswered questions, dashboard, audit log and error pages through the real
aiohttp app (and their queries on SQLite and PostgreSQL)."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlmodel import col

from bot.admin.words import section
from intents.types import Inbound
from knowledge.text import fold
from storage.audit import AuditFilter
from storage.models import AuditEntry, UnansweredQuestion
from storage.store import Store
from tests.helpers import open_call
from tests.test_admin import client, conv, csrf_of, sign_in

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["client"]  # the signed-out console of tests/test_admin.py


def _asked_on(store: Store, text: str, day: str) -> None:
    """Pretend the question ``text`` was asked on ``day`` (noon in Kamakura)."""
    at = datetime.fromisoformat(f"{day}T12:00:00+09:00")
    question = col(UnansweredQuestion.text) == text
    with store.session() as s:
        s.execute(update(UnansweredQuestion).where(question).values(created_at=at))


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def _distinct(i: int) -> str:
    """A question sharing no character with any other ``_distinct`` one."""
    return "".join(chr(0x4E00 + 4 * i + j) for j in range(4))


# --- unanswered questions ----------------------------------------------------------------------


async def test_near_identical_questions_are_one_row_with_count_and_dates(
    client: TestClient,
) -> None:
    await sign_in(client)
    c = conv(client)
    asked = {
        "ゆるキャラの名前は": "2025-11-01",
        "ゆるキャラの名前は？": "2025-11-20",  # the same folded text
        "ゆるきゃらの名前はなに": "2025-11-10",  # very similar folded text
        "駐輪場ある？": "2025-11-05",
        "駐輪場はありますか": "2025-11-06",  # the same words, as the matcher sees them
        "ゴミの日はいつ": "2025-11-07",
    }
    for i, (text, day) in enumerate(asked.items()):
        assert c.handle(Inbound("test", f"r{i}", text=text)).intent == "fallback"
        _asked_on(c.store, text, day)
    html = await (await client.get("/admin/unanswered")).text()
    rows = _rows(html)
    assert len(rows) == 3
    yuru, churin, gomi = rows  # the biggest first
    assert "ゆるキャラの名前は" in yuru
    assert "ゆるきゃらの名前はなに" in yuru
    assert '<td data-label="件数" class="nowrap">3</td>' in yuru
    assert "2025年11月1日〜2025年11月20日" in _text(yuru)
    assert "駐輪場はありますか" in churin
    assert '<td data-label="件数" class="nowrap">2</td>' in churin
    assert "2025年11月5日〜2025年11月6日" in _text(churin)
    assert '<td data-label="件数" class="nowrap">1</td>' in gomi
    assert "2025年11月7日" in gomi


async def test_the_guess_is_shown_and_nothing_is_selected(client: TestClient) -> None:
    await sign_in(client)
    c = conv(client)
    question = "市民活動センターに駐車場はありますか"
    assert c.handle(Inbound("test", "r", text=question)).intent == "fallback"
    best = c.faq.search(question, limit=1).best
    assert best is not None
    html = await (await client.get("/admin/unanswered")).text()
    (row,) = _rows(html)
    suggestion = re.search(r"<td data-label=\"FAQの候補\"[^>]*>(.*?)</td>", row)
    assert suggestion
    assert best.entry.label in suggestion.group(1)
    selects = re.findall(r"<select[^>]*>.*?</select>", row)
    assert len(selects) == 1
    selected = re.findall(r'<option value="([^"]*)" selected>([^<]*)<', selects[0])
    assert selected == [("", "選んでください")]


async def test_attaching_without_a_choice_is_refused_beside_the_field(
    client: TestClient,
) -> None:
    await sign_in(client)
    c = conv(client)
    c.handle(Inbound("test", "r", text="ゆるキャラの名前は"))
    html = await (await client.get("/admin/unanswered")).text()
    ids = re.search(r'/admin/unanswered/attach".*?name="ids" value="([\d,]+)"', html)
    assert ids
    refused = await client.post(
        "/admin/unanswered/attach",
        data={"csrf": csrf_of(html), "ids": ids.group(1), "entry": ""},
        allow_redirects=False,
    )
    assert refused.status == 400
    page = await refused.text()
    form = re.search(r'<form[^>]*action="/admin/unanswered/attach".*?</form>', page)
    assert form  # the page again, the error inside the row's own form, next to the select
    field = re.search(r'<div class="field invalid">(.*?)</div>', form.group(0))
    assert field
    assert re.search(r'<select id="([^"]+)" aria-invalid="true" aria-describedby="\1-error"',
                     field.group(1))  # fmt: skip
    assert "追加するFAQ項目を選んでください" in field.group(1)
    assert [q.status for q in c.store.unanswered("open")] == ["open"]  # nothing changed


async def test_attach_and_dismiss_apply_to_every_question_of_a_row(client: TestClient) -> None:
    await sign_in(client)
    c = conv(client)
    for i, text in enumerate(["ゆるキャラの名前は", "ゆるきゃらの名前はなに", "駐輪場ある？",
                              "駐輪場はありますか"]):  # fmt: skip
        c.handle(Inbound("test", f"r{i}", text=text))
    html = await (await client.get("/admin/unanswered")).text()
    ids = {
        "ゆるキャラ" in row: found.group(1)
        for row in _rows(html)
        if (found := re.search(r'name="ids" value="([\d,]+)"', row))
    }
    yuru, churin = ids[True], ids[False]
    c.handle(Inbound("test", "late", text="ゆるキャラの名前は？"))  # after the page was shown
    attached = await client.post(
        "/admin/unanswered/attach",
        data={"csrf": csrf_of(html), "ids": yuru, "entry": "center-what"},
        allow_redirects=False,
    )
    assert attached.status == 303
    dismissed = await client.post(
        "/admin/unanswered/dismiss",
        data={"csrf": csrf_of(html), "ids": churin},
        allow_redirects=False,
    )
    assert dismissed.status == 200  # the page at once, with 「元に戻す」
    assert c.store.unanswered("open") == []
    assert len(c.store.unanswered("attached")) == 3
    assert len(c.store.unanswered("dismissed")) == 2
    taught = {t for e, t in c.store.phrasings() if e == "center-what"}
    assert taught == {"ゆるキャラの名前は", "ゆるきゃらの名前はなに"}  # one per folded text
    answer = c.handle(Inbound("test", "r9", text="ゆるきゃらの名前はなに"))
    assert answer.slots.get("faq_id") == "center-what"
    details = [a.detail for a in c.store.audit_log() if a.action.startswith("unanswered_")]
    assert details == ["2件", "center-what: 3件"]


async def test_unanswered_questions_come_in_pages(client: TestClient) -> None:
    await sign_in(client)
    store = conv(client).store
    for i in range(45):
        store.record_unanswered(_distinct(i), fold(_distinct(i)), "ja")
    first = await (await client.get("/admin/unanswered")).text()
    third = await (await client.get("/admin/unanswered?page=3")).text()
    assert len(_rows(first)) == 20
    assert len(_rows(third)) == 5
    assert 'rel="next" href="/admin/unanswered?page=2"' in first
    assert 'rel="prev" href="/admin/unanswered?page=2"' in third
    assert "3 / 3 ページ" in third
    shown = {i for page in (first, third) for i in re.findall(r'name="ids" value="(\d+)"', page)}
    assert len(shown) == 25  # no question on two pages
    last = ",".join(re.findall(r'/attach".*?name="ids" value="(\d+)"', third))
    dismissed = await client.post(
        "/admin/unanswered/dismiss",
        data={"csrf": csrf_of(third), "ids": last, "page": "3"},
        allow_redirects=False,
    )
    assert dismissed.status == 200  # shown at once, with 「元に戻す」
    emptied = await (await client.get("/admin/unanswered?page=3")).text()
    assert len(_rows(emptied)) == 20  # page 3 is gone: the last page is shown
    assert "2 / 2 ページ" in emptied


async def test_near_identical_questions_on_different_pages_are_one_row(
    client: TestClient,
) -> None:
    """A question asked often and its near twin asked once (which the database ranks last,
    a page later) are one row on the first page, with both counted."""
    await sign_in(client)
    store = conv(client).store
    for i in range(30):
        for _ in range(2):
            store.record_unanswered(_distinct(i), fold(_distinct(i)), "ja")
    for _ in range(5):
        store.record_unanswered(
            "ゆるキャラの名前はなんですか", "ゆるきゃらのなまえはなんですか", "ja"
        )
    store.record_unanswered(
        "ゆるキャラの名前はなんですかね", "ゆるきゃらのなまえはなんですかね", "ja"
    )
    first = await (await client.get("/admin/unanswered")).text()
    second = await (await client.get("/admin/unanswered?page=2")).text()
    (yuru,) = [r for r in _rows(first) if "ゆるキャラ" in r]
    assert "ゆるキャラの名前はなんですかね" in yuru
    assert '<td data-label="件数" class="nowrap">6</td>' in yuru
    assert "ゆるキャラ" not in second
    assert len(_rows(first)) + len(_rows(second)) == 31


async def test_dismissing_can_be_taken_back(client: TestClient) -> None:
    """「元に戻す」 gives back exactly what that 「対応不要」 dismissed: not a question of the
    same words dismissed before, and nothing when the form was not the page's own."""
    await sign_in(client)
    store = conv(client).store
    store.record_unanswered("ゆるキャラの名前は", fold("ゆるキャラの名前は"), "ja")
    page = await (await client.get("/admin/unanswered")).text()
    (ids,) = re.findall(r'/dismiss".*?name="ids" value="([\d,]+)"', page, re.S)
    await client.post(
        "/admin/unanswered/dismiss", data={"csrf": csrf_of(page), "ids": ids, "page": "1"}
    )  # dismissed long ago
    for text in ("ゆるキャラの名前は", "ゆるキャラの名前は？"):
        store.record_unanswered(text, fold(text), "ja")
    page = await (await client.get("/admin/unanswered")).text()
    (ids,) = re.findall(r'/dismiss".*?name="ids" value="([\d,]+)"', page, re.S)
    done = await client.post(
        "/admin/unanswered/dismiss", data={"csrf": csrf_of(page), "ids": ids, "page": "1"}
    )
    shown = await done.text()
    assert "未回答の質問はありません。" in shown
    assert "対応不要にしました。" in shown
    undo = re.search(r'action="/admin/unanswered/restore".*?</form>', shown, re.S)
    assert undo is not None
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', undo.group(0)))
    forged = {**fields, "questions": fields["questions"] + ",1"}
    await client.post("/admin/unanswered/restore", data=forged)
    assert store.unanswered_groups(0, 10).questions == 0  # a forged list changes nothing
    back = await client.post("/admin/unanswered/restore", data=fields)
    restored = await back.text()
    assert "ゆるキャラの名前は" in restored
    assert "対応不要にしました。" not in restored
    assert store.unanswered_groups(0, 10).questions == 2  # not the one dismissed before
    actions = [a.action for a in store.audit_log()]
    assert actions.count("unanswered_dismissed") == 2
    assert "unanswered_restored" in actions
    assert (await client.get("/admin/unanswered?undo=1")).status == 200  # no banner by link
    assert (
        "対応不要にしました。" not in await (await client.get("/admin/unanswered?undo=1")).text()
    )


def test_a_row_is_made_of_groups_like_its_first_not_of_a_chain() -> None:
    """A~B and B~C but not A~C: C is a row of its own; and no row holds more groups than
    one change may name."""
    from bot.admin.unanswered import merge
    from storage.unanswered import MAX_GROUP_IDS, QuestionGroup

    at = datetime(2025, 11, 1, tzinfo=UTC)

    def group(i: int, folded: str, count: int = 1) -> QuestionGroup:
        return QuestionGroup(i, folded, folded, count, at, at)

    a, b, c = "あいうえおかきくけこ", "あいうえおかきくけさ", "あいうえおかきさしす"
    rows = merge([group(1, a, 3), group(2, b, 2), group(3, c)])
    assert sorted(len(r.groups) for r in rows) == [1, 2]
    many = [group(i, f"ゆるきゃらのなまえは{i:04d}") for i in range(MAX_GROUP_IDS + 5)]
    assert max(len(r.groups) for r in merge(many)) <= MAX_GROUP_IDS


def test_unanswered_groups_are_made_in_sql(store: Store) -> None:
    for text, folded in [("A?", "a"), ("a", "a"), ("b", "b"), ("a!", "a"), ("c", "c")]:
        store.record_unanswered(text, folded, "ja")
    days = {"A?": "2025-11-03", "a": "2025-11-01", "a!": "2025-11-02", "b": "2025-11-05",
            "c": "2025-11-04"}  # fmt: skip
    for text, day in days.items():
        _asked_on(store, text, day)
    page = store.unanswered_groups(0, 2)
    assert (page.questions, page.folded_texts) == (5, 3)
    assert [(g.folded, g.count) for g in page.groups] == [("a", 3), ("b", 1)]  # b: asked last
    a = page.groups[0]
    assert a.text in {"A?", "a", "a!"}
    assert (a.first.date().isoformat(), a.last.date().isoformat()) == ("2025-11-01", "2025-11-03")
    assert [g.folded for g in store.unanswered_groups(2, 2).groups] == ["c"]
    assert sorted(store.unanswered_texts([a.id])) == [a.text]
    assert store.resolve_unanswered([a.id], "dismissed") == 3
    assert store.resolve_unanswered([a.id], "dismissed") == 0  # open ones only
    assert store.unanswered_groups().questions == 2


# --- dashboard ---------------------------------------------------------------------------------


async def test_dashboard_charts_have_whole_labels_and_numbers(client: TestClient) -> None:
    await sign_in(client)
    c = conv(client)
    _, call_id = open_call(c.store)
    volunteer = c.store.touch_user("test", "vol", "ja").id
    c.store.save_profile(volunteer, name="山田", contact="v@example.jp", age_group="18",
                         consent_at=datetime.now(UTC))  # fmt: skip
    c.store.sign_up(volunteer, call_id, datetime.now(UTC))
    for i in range(3):
        c.handle(Inbound("test", f"a{i}", text="協働の原則は？"))
    html = await (await client.get("/admin/")).text()
    principles = c.faq.get("kyodo-principles")
    assert principles is not None
    assert len(principles.label) > 5
    faq_chart = re.search(r"<caption>FAQ 回答回数（14日間）</caption>(.*?)</table>", html)
    assert faq_chart
    bar = r'<td class="bar">.*?</td>'
    whole = rf'<th scope="row">{principles.label}</th>{bar}<td class="num">3</td>'
    assert re.search(whole, faq_chart.group(1))
    by_field = dict(c.store.dashboard(datetime.now(UTC).date()).sign_ups_by_field)
    fields = re.search(r"<caption>分野別の申し込み</caption>(.*?)</table>", html)
    assert fields
    environment = rf'<th scope="row">環境・自然</th>{bar}<td class="num">(\d+)</td>'
    shown = re.search(environment, fields.group(1))
    assert shown  # by its short name (knowledge/fields.toml), with its number
    assert int(shown.group(1)) == by_field["environment"]


# --- audit log ---------------------------------------------------------------------------------


def _audited_actions() -> set[str]:
    """Every action identifier the code writes to the audit log: the string literals (or
    both sides of a conditional, or the fixed part of an f-string) given as the action to a
    call of ``audit`` — ``audit(request, ACTION, …)``, ``store.audit(actor, ACTION, …)`` and
    ``asyncio.to_thread(store.audit, actor, ACTION, …)``."""
    found: set[str] = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("storage/**/*.py"),
                 *ROOT.glob("intents/**/*.py")]:  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            first = node.args[0] if node.args else None
            if name in ("audit", "_audit") and len(node.args) >= 2:
                action = node.args[1]
            elif name == "to_thread" and getattr(first, "attr", "") == "audit":
                action = node.args[2]
            else:
                continue
            for part in ast.walk(action):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found.add(part.value)
            if isinstance(action, ast.JoinedStr):  # f"staff_{action}": its fixed part
                found -= {p.value for p in action.values if isinstance(p, ast.Constant)}
                fixed = "".join(str(p.value) for p in action.values if isinstance(p, ast.Constant))
                found.add(fixed + "*")
    return found


def test_every_audited_action_has_japanese_words() -> None:
    labels = section("audit_actions")
    actions = _audited_actions()
    assert {"login", "group_saved", "staff_added", "unanswered_attached"} <= actions
    missing = sorted(
        a for a in actions
        if not (any(k.startswith(a[:-1]) for k in labels) if a.endswith("*") else a in labels)
    )  # fmt: skip
    assert missing == []
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", label) for label in labels.values())


async def test_audit_log_in_japanese_filtered_and_paged(client: TestClient) -> None:
    await sign_in(client)  # a "login" entry by staff1
    store = conv(client).store
    for i in range(55):
        store.audit("staff1", "group_saved", f"g{i}")
    store.audit("staff2", "group_saved", "by staff2")
    store.audit("staff1", "call_hidden", "old one")
    with store.session() as s:
        s.execute(
            update(AuditEntry)
            .where(col(AuditEntry.detail) == "old one")
            .values(at=datetime.fromisoformat("2025-01-10T23:30:00+09:00"))
        )
    everything = await (await client.get("/admin/audit")).text()
    assert '<td data-label="操作" class="nowrap">団体の保存</td>' in everything
    assert ">group_saved</td>" not in everything
    assert len(_rows(everything)) == 50
    assert "58件" in everything
    second = await (await client.get("/admin/audit?page=2")).text()
    assert len(_rows(second)) == 8
    by_action = await (await client.get("/admin/audit?action=call_hidden")).text()
    assert [r for r in _rows(by_action) if "old one" in r] == _rows(by_action)
    assert len(_rows(by_action)) == 1
    by_actor = await (await client.get("/admin/audit?actor=staff2")).text()
    assert len(_rows(by_actor)) == 1
    assert "by staff2" in by_actor
    one_day = "/admin/audit?since=2025-01-10&until=2025-01-10"  # Kamakura's calendar day
    assert len(_rows(await (await client.get(one_day)).text())) == 1
    next_day = "/admin/audit?since=2025-01-11&until=2025-01-11"
    assert "該当する記録はありません" in await (await client.get(next_day)).text()
    kept = re.search(r'rel="next" href="([^"]+)"', everything)
    assert kept
    filtered = await (await client.get("/admin/audit?actor=staff1")).text()
    assert 'href="/admin/audit?actor=staff1&amp;page=2"' in filtered  # filters kept on paging
    bad = await client.get("/admin/audit?since=10/01/2025")
    assert bad.status == 400
    field = re.search(r'<div class="field invalid">(.*?)</div>', await bad.text())
    assert field
    assert 'name="since"' in field.group(1)
    assert "2025-01-31 の形" in field.group(1)


def test_audit_page_filters_in_sql(store: Store) -> None:
    for actor, action in [("a", "login"), ("b", "login"), ("a", "group_saved")]:
        store.audit(actor, action)
    now = datetime.now(UTC)
    assert store.audit_page(AuditFilter()).total == 3
    assert [e.actor for e in store.audit_page(AuditFilter(action="login")).entries] == ["b", "a"]
    assert store.audit_page(AuditFilter(actor="a", action="login")).total == 1
    assert store.audit_page(AuditFilter(since=now + timedelta(minutes=1))).total == 0
    assert store.audit_page(AuditFilter(until=now + timedelta(minutes=1))).total == 3
    page = store.audit_page(AuditFilter(), offset=2, limit=2)
    assert (page.total, [e.action for e in page.entries]) == (3, ["login"])


# --- error pages -------------------------------------------------------------------------------


async def test_error_pages_go_back_with_a_plain_link(client: TestClient) -> None:
    await sign_in(client)
    base = str(client.make_url(""))
    came_from = await client.get(
        "/admin/calls/999/signups.csv", headers={"Referer": f"{base}/admin/calls?state=open"}
    )
    assert came_from.status == 404
    html = await came_from.text()
    assert "javascript:" not in html
    assert '<a class="back" href="/admin/calls?state=open">戻る</a>' in html
    assert "このページはありません" in html
    for referer in ("https://elsewhere.example/admin/calls", "", f"{base}/admin/login"):
        typed = await client.get("/admin/nowhere", headers={"Referer": referer} if referer else {})
        assert typed.status == 404
        assert '<a class="back" href="/admin/">戻る</a>' in await typed.text()
