"""The console's 募集 pages on SQLite and PostgreSQL: hiding a call tells its group and
everyone on it; a fixed call waits for review at the top; showing it again tells them too; a
call's own page shows its details, participants and waiting list; the list filters by state
and date, reaches past calls, and pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from bot.admin import labels
from bot.config import Settings
from bot.server import create_app
from intents.types import Inbound
from knowledge.when import TOKYO
from storage import Store
from storage.calls import CallQuery
from storage.openings import CallDraft
from tests.helpers import open_call
from tests.test_admin import PASSWORD, conv, post_form, sign_in

AiohttpClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, db_url: str) -> TestClient:
    test_client = await aiohttp_client(create_app(Settings(database_url=db_url)))
    conv(test_client).store.create_staff("staff1", PASSWORD)
    return test_client


async def test_hide_then_show_again_tells_everyone(client: TestClient) -> None:
    await sign_in(client)
    c = conv(client)
    rep, call_id = open_call(c.store, capacity=1)
    for name in ("amy", "bob"):
        user = c.store.touch_user("test", name, "ja").id
        c.store.save_profile(user, name=name, contact="-", age_group="30",
                             consent_at=datetime.now(UTC))  # fmt: skip
        outcome = c.store.sign_up(user, call_id, datetime.now(UTC), wait=True).outcome
        assert outcome in ("confirmed", "waiting")
    status = await post_form(
        client, "/admin/calls", f"/admin/calls/{call_id}/hide", reason="連絡先が不明"
    )
    assert status == 303
    amy = c.handle(Inbound("test", "amy", text="予約確認"))
    assert any("公開を止めています" in n for n in amy.notices)
    assert "公開停止中" in amy.cards[0].body

    view = c.store.get_call(call_id)
    assert view is not None
    fixed = CallDraft(view.title, "直した説明", view.field, view.area, view.place,
                      view.meeting_point, view.starts_at, view.ends_at, view.capacity)  # fmt: skip
    assert c.store.update_call(rep, call_id, fixed) == "in_review"
    other = open_call(c.store, title="別の募集")[1]
    page = await (await client.get("/admin/calls")).text()
    assert page.index("浜そうじ") < page.index("別の募集")  # waiting for review: first
    assert "確認待ち" in page
    assert f'action="/admin/calls/{call_id}/unhide"' in page
    assert f'action="/admin/calls/{other}/unhide"' not in page

    assert await post_form(client, "/admin/calls", f"/admin/calls/{call_id}/unhide") == 303
    view = c.store.get_call(call_id)
    assert view is not None
    assert view.status == "open"
    bob = c.handle(Inbound("test", "bob", text="予約確認"))
    assert any("公開が再開" in n and "1番目" in n for n in bob.notices)
    audit = await (await client.get("/admin/audit")).text()
    assert '<td data-label="操作" class="nowrap">募集を公開に戻す</td>' in audit  # in Japanese


async def test_show_again_refuses_a_call_that_is_not_hidden(client: TestClient) -> None:
    await sign_in(client)
    _, call_id = open_call(conv(client).store)
    assert await post_form(client, "/admin/calls", f"/admin/calls/{call_id}/unhide") == 404


# --- a call's own page, the filters, past calls -------------------------------------------------


def _signed_up(store: Store, call_id: int, name: str, contact: str) -> str:
    user = store.touch_user("test", name, "ja").id
    store.save_profile(user, name=name, contact=contact, age_group="30",
                       consent_at=datetime.now(UTC))  # fmt: skip
    return store.sign_up(user, call_id, datetime.now(UTC), wait=True).outcome


async def test_a_calls_page_shows_its_details_participants_and_waiting_list(
    client: TestClient,
) -> None:
    await sign_in(client)
    store = conv(client).store
    _, call_id = open_call(store, capacity=1)
    assert _signed_up(store, call_id, "山田", "yamada@example.jp") == "confirmed"
    assert _signed_up(store, call_id, "佐藤", "090-0000-0001") == "waiting"
    assert _signed_up(store, call_id, "鈴木", "suzuki@example.jp") == "waiting"
    response = await client.get(f"/admin/calls/{call_id}")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"  # names and contacts: no copies
    page = await response.text()
    view = store.get_call(call_id)
    assert view is not None
    assert labels.span(view.starts_at, view.ends_at) in page
    assert f"{view.starts_at.astimezone(TOKYO).year}年" in page
    for shown in ("ごみ拾い", "由比ガ浜", "駅前", "どなたでも", "海の会", "受付中"):
        assert shown in page
    assert "参加確定の人（1人）" in page
    assert "キャンセル待ちの人（2人・順番どおり）" in page
    assert "yamada@example.jp" in page
    assert page.index("佐藤") < page.index("鈴木")  # the waiting list in its order
    assert "090-0000-0001" in page
    assert f'action="/admin/calls/{call_id}/hide"' in page
    assert (await client.get("/admin/calls/999999")).status == 404
    # Names and contacts were shown: the log says who looked (as for the CSV export).
    (viewed,) = [a for a in store.audit_log() if a.action == "call_participants_viewed"]
    assert (viewed.actor, viewed.detail) == ("staff1", f"{call_id} {view.title}: 3人")


async def test_calls_filter_by_state_and_date_and_past_ones_are_reachable(
    client: TestClient,
) -> None:
    await sign_in(client)
    store = conv(client).store
    rep, _ = open_call(store, title="これからの募集", days_ahead=10)
    group = store.represented_groups(rep)[0][0]
    now = datetime.now(UTC)

    def post(title: str, start: datetime) -> int:
        draft = CallDraft(title, "説明", "environment", "kamakura", "由比ガ浜", "駅前",
                          start, start + timedelta(hours=2), 5)  # fmt: skip
        call_id = store.create_call(rep, group, draft)
        assert call_id is not None
        return call_id

    post("去年の募集", now - timedelta(days=400))
    closed = post("締め切った募集", now + timedelta(days=20))
    assert store.set_call_status(rep, closed, "closed")

    async def titles(query: str) -> str:
        return await (await client.get(f"/admin/calls?{query}")).text()

    default = await titles("")
    assert "これからの募集" in default
    assert "去年の募集" not in default  # upcoming ones by default
    past = await titles("when=past")
    assert "去年の募集" in past
    assert "受付中（終了）" in past
    assert "これからの募集" not in past
    everything = await titles("when=all")
    assert all(t in everything for t in ("去年の募集", "これからの募集", "締め切った募集"))
    only_closed = await titles("state=closed&when=all")
    assert "締め切った募集" in only_closed
    assert "これからの募集" not in only_closed
    last_year = (now - timedelta(days=400)).astimezone(TOKYO)
    month = await titles(f"month={last_year.year}-{last_year.month:02d}")
    assert "去年の募集" in month
    assert "これからの募集" not in month
    assert (await client.get("/admin/calls?month=2026-13")).status == 400


def test_calls_are_listed_a_page_at_a_time(store: Store) -> None:
    rep, first = open_call(store, days_ahead=1)
    group = store.represented_groups(rep)[0][0]
    start = datetime.now(UTC) + timedelta(days=2)
    for n in range(60):
        begins = start + timedelta(hours=n)
        draft = CallDraft(f"募集{n:02d}", "説明", "environment", "kamakura", "由比ガ浜", "駅前",
                          begins, begins + timedelta(hours=1), 5)  # fmt: skip
        assert store.create_call(rep, group, draft) is not None
    now = datetime.now(UTC)
    page1, total = store.list_calls(CallQuery(), now, limit=50)
    page2, again = store.list_calls(CallQuery(), now, limit=50, offset=50)
    assert (total, again, len(page1), len(page2)) == (61, 61, 50, 11)
    assert page1[0].id == first  # the soonest first
    assert [v.title for v in page2][-1] == "募集59"
    assert store.list_calls(CallQuery(), now, limit=50, offset=100) == ([], 61)
    assert store.list_calls(CallQuery(upcoming=False), now) == ([], 0)
