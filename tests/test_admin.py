"""The staff console through the real aiohttp app: sign-in, lock-out, CSRF, every page and
action, escaping, and that only staff ever see volunteers' details."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import create_app
from intents.conversation import Conversation
from intents.types import Inbound
from storage.store import GroupRecord
from tests.helpers import open_call

AiohttpClient = Callable[..., Awaitable[TestClient]]
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, tmp_path: Path) -> TestClient:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'admin.db'}"))
    test_client = await aiohttp_client(app)
    conv(test_client).store.create_staff("staff1", PASSWORD)
    return test_client


def conv(client: TestClient) -> Conversation:
    return client.server.app[conversation_key]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


async def sign_in(client: TestClient, password: str = PASSWORD, user: str = "staff1") -> int:
    page = await client.get("/admin/login")
    token = csrf_of(await page.text())
    response = await client.post(
        "/admin/login",
        data={"username": user, "password": password, "csrf": token},
        allow_redirects=False,
    )
    return response.status


async def post_form(client: TestClient, page_url: str, action: str, **fields: str) -> int:
    page = await client.get(page_url)
    response = await client.post(
        action, data={"csrf": csrf_of(await page.text()), **fields}, allow_redirects=False
    )
    return response.status


@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/groups", "/admin/calls", "/admin/unanswered", "/admin/broadcast",
     "/admin/audit", "/admin/groups/export.csv", "/admin/calls/1/signups.csv",
     "/admin/deliveries"],
)  # fmt: skip
async def test_everything_needs_sign_in(client: TestClient, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/admin/login"


async def test_sign_in_cookie_is_safe_and_csrf_is_checked(client: TestClient) -> None:
    assert await sign_in(client) == 303
    cookie = next(c for c in client.session.cookie_jar if c.key == "tsunagaru_staff")
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    dashboard = await client.get("/admin/")
    assert dashboard.status == 200
    assert dashboard.headers["X-Frame-Options"] == "DENY"
    no_token = await client.post("/admin/unanswered/dismiss", data={"ids": "1"})
    assert no_token.status == 403
    forged = await client.post("/admin/unanswered/dismiss", data={"ids": "1", "csrf": "0" * 64})
    assert forged.status == 403


async def test_wrong_passwords_lock_the_account(client: TestClient) -> None:
    """Five failures lock the account for this client, answered like any wrong password;
    ten failures from one client and it gets 429 for every name."""
    for _ in range(5):
        assert await sign_in(client, "wrong password!") == 401
    assert await sign_in(client) == 401  # even the right one, while locked
    for _ in range(4):
        assert await sign_in(client, user="nobody") == 401
    assert await sign_in(client, user="someone") == 429  # 10 failures from this client
    assert await sign_in(client) == 429
    store = conv(client).store
    actions = [a.action for a in store.audit_log()]
    assert actions.count("login_failed") == 10
    assert actions.count("login_throttled") == 2


async def test_forged_cookie_is_refused(client: TestClient) -> None:
    client.session.cookie_jar.update_cookies({"tsunagaru_staff": "eyJ1IjoxfQ.deadbeef"})
    response = await client.get("/admin/", allow_redirects=False)
    assert response.status == 303


async def test_groups_verify_invite_add_import_export(client: TestClient) -> None:
    await sign_in(client)
    store = conv(client).store
    store.import_groups([GroupRecord("g1", "<script>alert(1)</script>の会", fields=("children",),
                                     areas=("ofuna",), verified=False)])  # fmt: skip
    page = await client.get("/admin/groups")
    html = await page.text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    (group,) = store.all_groups()
    assert await post_form(client, "/admin/groups", f"/admin/groups/{group.id}/verify") == 303
    assert store.get_group(group.id).verified  # type: ignore[union-attr]
    invite = await client.post(f"/admin/groups/{group.id}/invite", data={"csrf": csrf_of(html)})
    code = re.search(r'class="code">([A-Z0-9-]+)<', await invite.text())
    assert code
    user = store.touch_user("line", "Urep", "ja").id
    assert store.redeem_invite(user, code.group(1))[0] == "linked"
    detail = await client.get(f"/admin/groups/{group.id}")
    assert "Urep" in await detail.text()
    status = await post_form(
        client, "/admin/groups/new", "/admin/groups/new", key="new-1", name="新しい会",
        fields="environment", areas="koshigoe", verified="1",
    )  # fmt: skip
    assert status == 303
    assert any(g.key == "new-1" and g.areas == ("koshigoe",) for g in store.all_groups())
    form = FormData()
    form.add_field("csrf", csrf_of(html))
    csv_bytes = "key,name,fields,areas\nimp-1,取込の会,子ども,大船\n".encode("cp932")
    form.add_field("file", io.BytesIO(csv_bytes), filename="dir.csv", content_type="text/csv")
    imported = await client.post("/admin/groups/import", data=form)
    assert imported.status == 200
    assert "新規 1件・更新 0件（文字コード Shift_JIS）" in await imported.text()
    bad = FormData()
    bad.add_field("csrf", csrf_of(html))
    bad.add_field(
        "file", io.BytesIO(b"key,name\nx,\n"), filename="bad.csv", content_type="text/csv"
    )
    refused = await client.post("/admin/groups/import", data=bad)
    assert refused.status == 400
    exported = await client.get("/admin/groups/export.csv")
    raw = await exported.read()
    assert raw.startswith("\ufeff".encode())
    assert "imp-1" in raw.decode("utf-8-sig")
    actions = {a.action for a in store.audit_log()}
    assert {"group_verified", "invite_issued", "group_saved", "groups_imported",
            "groups_import_refused", "groups_exported"} <= actions  # fmt: skip


async def test_a_group_saved_in_the_console_exports_and_imports_back_unchanged(
    client: TestClient,
) -> None:
    """What staff type is kept as the import would read it back (edges trimmed), so
    export → import changes nothing, formulas and line breaks inside included."""
    await sign_in(client)
    store = conv(client).store
    status = await post_form(
        client, "/admin/groups/new", "/admin/groups/new", key="pad-1", name="  余白の会 ",
        description=" =HYPERLINK(\"x\")\n二行目です\n ", contact="  @tel 0467  ",
        fields="environment", areas="koshigoe", verified="1",
    )  # fmt: skip
    assert status == 303
    (saved,) = store.all_groups()
    assert (saved.name, saved.description, saved.contact) == (
        "余白の会",
        '=HYPERLINK("x")\n二行目です',
        "@tel 0467",
    )
    raw = await (await client.get("/admin/groups/export.csv")).read()
    form = FormData()
    form.add_field("csrf", csrf_of(await (await client.get("/admin/groups")).text()))
    form.add_field("file", io.BytesIO(raw), filename="back.csv", content_type="text/csv")
    back = await client.post("/admin/groups/import", data=form)
    assert back.status == 200
    (again,) = store.all_groups()
    assert replace(again, updated_at=saved.updated_at) == saved


async def test_the_list_marks_a_sample_once_and_says_the_export_leaves_samples_out(
    client: TestClient,
) -> None:
    await sign_in(client)
    store = conv(client).store
    store.import_groups([GroupRecord("s-1", "浜の会（サンプル）", fields=("environment",))],
                        sample=True)  # fmt: skip
    store.import_groups([GroupRecord("s-2", "山の会", fields=("environment",))], sample=True)
    html = await (await client.get("/admin/groups")).text()
    assert "（サンプル）</a> <small>（サンプル）</small>" not in html  # never twice
    assert "山の会</a> <small>（サンプル）</small>" in html
    assert "CSVで書き出す（サンプル団体は含みません）" in html
    page = await client.get(f"/admin/groups/{store.all_groups(include_samples=True)[0].id}")
    assert "key（" not in await page.text()


def _call(client: TestClient) -> tuple[int, int]:
    store = conv(client).store
    rep, call_id = open_call(store)
    volunteer = store.touch_user("test", "vol", "ja").id
    store.save_profile(volunteer, name="=HYPERLINK(\"x\")", contact="v@example.jp",
                       age_group="hs", consent_at=datetime.now(UTC))  # fmt: skip
    store.sign_up(volunteer, call_id, datetime.now(UTC))
    return rep, call_id


async def test_calls_hide_and_export(client: TestClient) -> None:
    await sign_in(client)
    _, call_id = _call(client)
    page = await client.get("/admin/calls")
    assert "浜そうじ" in await page.text()
    exported = await client.get(f"/admin/calls/{call_id}/signups.csv")
    text = (await exported.read()).decode("utf-8")
    assert text.startswith("\ufeff")
    assert "'=HYPERLINK" in text  # a formula typed by a volunteer stays text in Excel
    assert "高校生" in text
    status = await post_form(
        client, "/admin/calls", f"/admin/calls/{call_id}/hide", reason="営利目的のため"
    )
    assert status == 303
    store = conv(client).store
    assert store.get_call(call_id).status == "hidden"  # type: ignore[union-attr]
    reply = conv(client).handle(Inbound("test", "rep", text="こんにちは"))
    assert any("営利目的のため" in n for n in reply.notices)
    search = conv(client).handle(Inbound("test", "someone", text="由比ヶ浜のボランティア"))
    shown = [b.payload.partition(":")[2] for c in search.cards for b in c.buttons]
    assert search.intent == "find_openings"
    assert str(call_id) not in shown  # (the sample calls may be found)


async def test_unanswered_grouped_attached_and_answered(client: TestClient) -> None:
    await sign_in(client)
    c = conv(client)
    for text in ("ゆるキャラの名前は", "ゆるキャラの名前は？", "駐輪場ある？"):
        assert c.handle(Inbound("test", "r1", text=text)).intent == "fallback"
    page = await client.get("/admin/unanswered")
    html = await page.text()
    assert ">2</td>" in html  # the two similar questions are one group
    ids = re.search(r'/admin/unanswered/attach".*?name="ids" value="([\d,]+)"', html)
    assert ids
    status = await client.post(
        "/admin/unanswered/attach",
        data={"csrf": csrf_of(html), "ids": ids.group(1), "entry": "center-what"},
        allow_redirects=False,
    )
    assert status.status == 303
    answer = c.handle(Inbound("test", "r2", text="ゆるキャラの名前は"))
    assert answer.slots.get("faq_id") == "center-what"  # takes effect without a restart
    assert ("center-what", "ゆるキャラの名前は") in c.store.phrasings()  # kept for restarts


async def test_dashboard_and_broadcast(client: TestClient) -> None:
    await sign_in(client)
    c = conv(client)
    _call(client)
    c.handle(Inbound("test", "a", text="協働ってなに？"))
    page = await client.get("/admin/")
    html = await page.text()
    assert "<svg" in html
    assert "協働とは" in html or "協働" in html
    preview = await client.post(
        "/admin/broadcast/preview",
        data={
            "csrf": csrf_of(html),
            "text": "<b>清掃の日</b>",
            "field": "environment",
            "area": "",
        },
    )
    body = await preview.text()
    assert "送信先：<b>1人</b>" in body  # only the volunteer who signed up for environment
    assert "&lt;b&gt;清掃の日&lt;/b&gt;" in body
    token = re.search(r'name="token" value="([^"]+)"', body)  # the form's one-time key
    assert token
    sent = await client.post(
        "/admin/broadcast/send",
        data={"csrf": csrf_of(body), "token": token.group(1), "text": "清掃の日",
              "field": "environment", "area": ""},
    )  # fmt: skip
    assert "1人" in await sent.text()
    reply = c.handle(Inbound("test", "vol", text="こんにちは"))
    assert any("清掃の日" in n for n in reply.notices)


async def test_failed_deliveries_are_listed_and_sent_again(client: TestClient) -> None:
    """A message LINE refused stays visible, with why, until staff send it again."""
    await sign_in(client)
    store = conv(client).store
    user = store.touch_user("line", "Ufail", "ja")
    store.enqueue(user.id, json.dumps({"text": "<i>雨天延期</i>のお知らせ", "choices": []}))
    (message,) = store.claim_due(("line",), datetime.now(UTC))
    store.give_up([message.id], "LINE push 400: 'The user has blocked the bot'", datetime.now(UTC))
    dashboard = await (await client.get("/admin/")).text()
    assert re.search(r"配信エラー</span><b>1</b>", dashboard)
    page = await client.get("/admin/deliveries")
    html = await page.text()
    assert "&lt;i&gt;雨天延期&lt;/i&gt;のお知らせ" in html  # escaped
    assert "blocked the bot" in html
    status = await post_form(
        client, "/admin/deliveries", "/admin/deliveries/retry", ids=str(message.id)
    )
    assert status == 303
    assert store.failed_deliveries() == []
    assert store.outbox_pending() == 1  # due again
    audit = await (await client.get("/admin/audit")).text()
    assert '<td data-label="操作" class="nowrap">配信エラーの再送</td>' in audit  # in Japanese
    empty = await (await client.get("/admin/deliveries")).text()
    assert "届かなかったメッセージはありません" in empty


async def test_logout(client: TestClient) -> None:
    await sign_in(client)
    assert await post_form(client, "/admin/", "/admin/logout") == 303
    response = await client.get("/admin/", allow_redirects=False)
    assert response.status == 303


async def test_phrasings_from_another_process_are_learned(client: TestClient) -> None:
    from bot.server import _learn_phrasings

    c = conv(client)
    c.store.add_phrasing("center-what", "ゆるキャラの名前は")  # written by another process
    task = asyncio.create_task(_learn_phrasings(c, every=0.01))
    for _ in range(200):
        await asyncio.sleep(0.01)
        answer = c.handle(Inbound("test", "r3", text="ゆるキャラの名前は"))
        if answer.intent == "faq":
            break
    task.cancel()
    assert answer.slots.get("faq_id") == "center-what"
