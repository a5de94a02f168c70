"""The console's 募集 page on SQLite and PostgreSQL: hiding a call tells its group and
everyone on it; a fixed call waits for review at the top; showing it again tells them too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.server import create_app
from intents.types import Inbound
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
    assert "call_unhidden" in audit


async def test_show_again_refuses_a_call_that_is_not_hidden(client: TestClient) -> None:
    await sign_in(client)
    _, call_id = open_call(conv(client).store)
    assert await post_form(client, "/admin/calls", f"/admin/calls/{call_id}/unhide") == 404
