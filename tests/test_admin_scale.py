"""The console's group directory at the scale of a real one, on SQLite and PostgreSQL: pages
of 50 with the total, sorting, the 未確認 filter, search folded as the bot folds text (kana,
width, 異体字, contacts), new groups unverified, and a group's own page (its calls, its
representatives by name with an unlink button, its invite codes); the representatives'
names from Telegram's updates and LINE's profile API."""

from __future__ import annotations

import gc
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from sqlalchemy import text

from bot.adapters.web import conversation_key
from bot.admin import labels
from bot.config import Settings
from bot.server import create_app
from knowledge.text import fold_search
from storage import Store, create_db_engine
from storage.db import alembic_config
from storage.group_list import DirectoryQuery
from storage.store import GroupRecord
from tests import line_events as ev
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import open_call, told
from tests.line_helpers import eventually
from tests.test_admin import PASSWORD, conv, csrf_of, sign_in

AiohttpClient = Callable[..., Awaitable[TestClient]]
AiohttpServer = Callable[..., Awaitable[TestServer]]


def _groups(n: int) -> list[GroupRecord]:
    return [
        GroupRecord(f"g{i:03d}", f"会{i:03d}", fields=("children",), areas=("ofuna",))
        for i in range(n)
    ]


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, db_url: str) -> TestClient:
    app = create_app(Settings(database_url=db_url, sample_groups=False))
    test_client = await aiohttp_client(app)
    conv(test_client).store.create_staff("staff1", PASSWORD)
    await sign_in(test_client)
    return test_client


# --- the list: paging, totals, sort, filter (storage) ------------------------------------------


def test_a_page_of_groups_comes_from_sql_with_the_total(store: Store) -> None:
    store.import_groups(_groups(120))
    pages = [store.directory_page(DirectoryQuery(), limit=50, offset=o) for o in (0, 50, 100)]
    assert [len(p.groups) for p in pages] == [50, 50, 20]
    assert {p.total for p in pages} == {120}
    names = [g.name for p in pages for g in p.groups]
    assert names == sorted(names)
    assert len(set(names)) == 120
    past = store.directory_page(DirectoryQuery(), limit=50, offset=200)
    assert (past.groups, past.total) == ([], 120)


def test_sorts_and_the_unverified_filter(store: Store) -> None:
    store.import_groups(_groups(6))
    unverified = [GroupRecord(k, n, fields=("children",), verified=False)
                  for k, n in (("g002", "会002"), ("g004", "会004"))]  # fmt: skip
    store.import_groups(unverified)
    store.import_groups([GroupRecord("g001", "会001（改）", fields=("children",))])  # newest

    def keys(**query: str) -> list[str]:
        return [g.key for g in store.directory_page(DirectoryQuery(**query), limit=50).groups]

    assert keys() == ["g000", "g001", "g002", "g003", "g004", "g005"]
    assert keys(sort="unverified") == ["g002", "g004", "g000", "g001", "g003", "g005"]
    assert keys(sort="updated")[0] == "g001"
    assert keys(sort="updated")[1:3] == ["g004", "g002"]  # the later id first in one import
    assert keys(state="unverified") == ["g002", "g004"]
    assert store.directory_page(DirectoryQuery(state="unverified")).total == 2
    assert "g002" not in keys(state="verified")


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("みらいの会", "ミライ"),
        ("ミライの会", "みらい"),
        ("テスト同好会", "ﾃｽﾄ"),
        ("ﾃｽﾄ同好会", "テスト"),
        ("髙橋さんの子ども食堂", "高橋"),
        ("高橋さんの子ども食堂", "髙橋"),
        ("山﨑ファーム", "山崎"),
        ("ＡＢＣクラブ", "abc"),
    ],
)
def test_search_folds_names_as_the_bot_folds_text(store: Store, stored: str, typed: str) -> None:
    store.import_groups([GroupRecord("hit", stored, fields=("children",)),
                         GroupRecord("other", "ほかの会", fields=("children",))])  # fmt: skip
    found = store.directory_page(DirectoryQuery(text=typed))
    assert [g.key for g in found.groups] == ["hit"]
    assert found.total == 1


def test_search_looks_in_descriptions_and_contacts_but_not_across_them(store: Store) -> None:
    store.import_groups([
        GroupRecord("a", "海の会", "浜辺のごみ拾い", fields=("environment",),
                    contact="Umi.Info@example.jp / 0467-00-0000"),
        GroupRecord("b", "山の会", "里山の手入れ", fields=("environment",),
                    contact="yama@example.jp"),
    ])  # fmt: skip

    def keys(typed: str) -> list[str]:
        return [g.key for g in store.directory_page(DirectoryQuery(text=typed)).groups]

    assert keys("umi.info@EXAMPLE.jp") == ["a"]
    assert keys("0467-00") == ["a"]  # the hyphens folded away on both sides
    assert keys("ごみ拾い") == ["a"]
    assert keys("会浜辺") == []  # the end of the name and the start of the description
    assert keys("!!!") == []  # nothing left to look for: nothing found, not everything
    assert keys("b") == ["b"]  # a key, exactly


def test_the_migration_fills_the_search_column_of_existing_groups(db_url: str) -> None:
    engine = create_db_engine(db_url)
    command.upgrade(alembic_config(engine), "0010")
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO groups (key, name, description, contact, citywide, area_mask, "
            "welcomes_newcomers, welcomes_young, verified, is_sample, updated_at) VALUES "
            "('old', 'ﾐﾗｲの会', '髙橋が代表', 'x@example.jp', true, 0, true, false, true, "
            "false, '2026-01-01 00:00:00')"
        ))  # fmt: skip
    command.upgrade(alembic_config(engine), "head")
    store = Store(engine)
    try:
        assert [g.key for g in store.directory_page(DirectoryQuery(text="みらい")).groups] == [
            "old"
        ]
        assert store.directory_page(DirectoryQuery(text="高橋")).total == 1
    finally:
        store.close()


def test_fold_search_keeps_frames_and_folds_variant_kanji() -> None:
    assert fold_search("ﾐﾗｲ 髙橋の会") == "みらい高橋の会"
    assert fold_search("𠮷田・渡邊") == "吉田渡辺"
    assert fold_search("なのはな会") == "なのはな会"  # fold() would take なの away


# --- the list over HTTP ---------------------------------------------------------------------


async def test_the_list_pages_through_a_directory_and_shows_the_total(client: TestClient) -> None:
    conv(client).store.import_groups(_groups(120))
    first = await (await client.get("/admin/groups")).text()
    assert "該当 120件" in first
    assert "1〜50件目" in first
    assert first.count('href="/admin/groups/') - first.count('href="/admin/groups/new') >= 50
    assert "会000" in first
    assert "会050" not in first
    assert 'rel="next"' in first
    third = await (await client.get("/admin/groups?page=3")).text()
    assert "101〜120件目" in third
    assert "会119" in third
    assert "会000" not in third
    found = await (await client.get("/admin/groups", params={"q": "１１９"})).text()
    assert "該当 1件" in found
    assert "会119" in found
    assert "会118" not in found
    unverified = await (await client.get("/admin/groups?state=unverified")).text()
    assert "該当する団体はありません" in unverified


async def test_searching_from_the_console_is_folded(client: TestClient) -> None:
    conv(client).store.import_groups(
        [GroupRecord("t1", "髙橋テスト研究会", fields=("children",)), *_groups(3)]
    )
    page = await (await client.get("/admin/groups", params={"q": "高橋ﾃｽﾄ"})).text()
    assert "髙橋テスト研究会" in page
    assert "会001" not in page
    assert "該当 1件" in page


async def test_a_group_added_in_the_console_starts_unverified(client: TestClient) -> None:
    store = conv(client).store
    form = await (await client.get("/admin/groups/new")).text()
    assert 'name="verified"' not in form  # nothing to tick: it is checked on its own
    response = await client.post(
        "/admin/groups/new",
        data={"csrf": csrf_of(form), "key": "new-1", "name": "新しい会", "fields": "children",
              "verified": "1"},
        allow_redirects=False,
    )  # fmt: skip
    assert response.status == 303
    group = store.group_by_key("new-1")
    assert group is not None
    assert not group.verified
    assert response.headers["Location"] == f"/admin/groups/{group.id}"
    assert store.find_groups("children", None) == ([], 0)  # residents do not see it yet


# --- one group's page -------------------------------------------------------------------------


async def test_a_groups_page_lists_its_calls_representatives_and_open_codes(
    client: TestClient,
) -> None:
    store = conv(client).store
    call_id = open_call(store, ("line", "U0123456789abcdef0123456789ab1a2b"))[1]
    teller = ("telegram", "5550001234567")
    past = open_call(store, teller, title="去年のそうじ", days_ahead=-400)[1]
    store.set_display_name("telegram", "5550001234567", "Hanako Yamada (@hanako)")
    group = store.group_by_key("umi")
    assert group is not None
    code, expires = store.issue_invite("umi")  # open_call's two codes are used
    page = await (await client.get(f"/admin/groups/{group.id}")).text()
    assert f'href="/admin/calls/{call_id}"' in page
    assert f'href="/admin/calls/{past}"' in page
    assert "去年のそうじ" in page
    assert "受付中（終了）" in page  # the past one: its time is over
    assert "受付中" in page
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日\([月火水木金土日]\)", page)  # with the year
    assert "Hanako Yamada (@hanako)（Telegram）" in page
    assert "LINEの利用者（…1a2b）" in page
    assert "U0123456789abcdef" not in page
    assert "5550001234567" not in page
    assert page.count("/unlink") == 2
    # The three codes expire within the same minute: one row, the two used ones are not listed.
    assert page.count(labels.at(expires)) == 1
    assert code not in page
    assert code.replace("-", "") not in page


async def test_unlinking_a_representative_from_the_console(client: TestClient) -> None:
    store = conv(client).store
    rep, _ = open_call(store, ("telegram", "777"))
    store.set_display_name("telegram", "777", "Taro")
    group = store.group_by_key("umi")
    assert group is not None
    action = f"/admin/groups/{group.id}/representatives/{rep}/unlink"
    assert (await client.post(action, data={"csrf": "0" * 64})).status == 403
    assert store.representatives(group.id) == [rep]
    page = await (await client.get(f"/admin/groups/{group.id}")).text()
    response = await client.post(action, data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert response.status == 303
    assert store.representatives(group.id) == []
    notices = told(store, rep)
    assert len(notices) == 1
    assert "海の会" in notices[0]
    assert "解除" in notices[0]
    (entry,) = [a for a in store.audit_log() if a.action == "representative_unlinked"]
    assert entry.actor == "staff1"
    assert "Taro（Telegram）" in entry.detail
    again = await client.post(action, data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert again.status == 404
    assert len(told(store, rep)) == 1  # told once


def test_names_are_kept_for_representatives_only(store: Store) -> None:
    store.touch_user("telegram", "1", "ja")
    assert store.set_display_name("telegram", "1", "Resident") == 0
    rep, _ = open_call(store, ("telegram", "2"))
    assert store.set_display_name("telegram", "2", " Rep\u202e\n Name ") == 1
    group = store.group_by_key("umi")
    assert group is not None
    (link,) = store.linked_representatives(group.id)
    assert (link.user_id, link.display_name) == (rep, "Rep Name")


# --- display names from the platforms -----------------------------------------------------------


@pytest.fixture
async def telegram_bot(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> tuple[TestClient, FakeTelegram]:
    from tests.test_telegram import SECRET

    fake = FakeTelegram()
    server = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}", telegram_bot_token=fake.token,
        telegram_webhook_secret=SECRET, telegram_api_base_url=str(server.make_url("")).rstrip("/"),
        sample_groups=False,
    )  # fmt: skip
    return await aiohttp_client(create_app(settings)), fake


async def test_a_telegram_representative_is_named_from_the_update(
    telegram_bot: tuple[TestClient, FakeTelegram],
) -> None:
    from tests.test_telegram import message, send

    bot, fake = telegram_bot
    store = bot.server.app[conversation_key].store
    open_call(store)
    code, _ = store.issue_invite("umi")
    update = message(5150, "こんにちは")
    update["message"]["from"].update(last_name="Yamada", username="taro_y")
    assert await send(bot, update) == 200  # not linking: nothing kept
    linking = message(5150, f"招待コード {code}")
    linking["message"]["from"].update(last_name="Yamada", username="taro_y")
    assert await send(bot, linking) == 200
    await fake.wait_for("sendMessage", 2)
    group = store.group_by_key("umi")
    assert group is not None

    def name() -> str | None:
        links = store.linked_representatives(group.id)
        return next((r.display_name for r in links if r.platform_user_id == "5150"), None)

    assert await eventually(lambda: name() is not None, within=5.0)  # kept right after the reply
    assert name() == "Taro Yamada (@taro_y)"


async def test_a_line_representative_is_named_from_the_profile(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    from tests.test_line import SECRET, post

    fake = FakeLine()
    fake.profiles["Urep"] = "山田 花子"
    server = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'line.db'}", line_channel_secret=SECRET,
        line_channel_access_token=fake.token,
        line_api_base_url=str(server.make_url("")).rstrip("/"), sample_groups=False,
    )  # fmt: skip
    bot = await aiohttp_client(create_app(settings))
    store = bot.server.app[conversation_key].store
    open_call(store)
    code, _ = store.issue_invite("umi")
    assert await post(bot, ev.body(ev.text("Urep", "こんにちは"))) == 200
    await fake.wait_for(1)
    assert fake.profile_requests == []  # a resident's profile is never asked for
    assert await post(bot, ev.body(ev.text("Urep", f"招待コード {code}"))) == 200
    await fake.wait_for(2)
    group = store.group_by_key("umi")
    assert group is not None

    def name() -> str | None:
        links = store.linked_representatives(group.id)
        return next((r.display_name for r in links if r.platform_user_id == "Urep"), None)

    assert await eventually(lambda: name() is not None, within=5.0)  # kept right after the reply
    assert name() == "山田 花子"
    assert fake.profile_requests == ["Urep"]
    (link,) = [r for r in store.linked_representatives(group.id) if r.platform_user_id == "Urep"]
    assert labels.representative(link) == "山田 花子（LINE）"


async def test_the_served_app_puts_what_start_up_built_out_of_the_collectors_reach(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """``serve`` freezes the start-up heap (the FAQ index, the analyser's tables), so full
    collections during a 20,000-row export walk only what requests make; apps built for
    tests leave the collector alone."""
    url = f"sqlite:///{tmp_path}/frozen.db"
    gc.unfreeze()
    await aiohttp_client(create_app(Settings(database_url=url, sample_groups=False)))
    assert gc.get_freeze_count() == 0
    try:
        await aiohttp_client(create_app(Settings(database_url=url), freeze_heap=True))
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
