"""LINE's rich menus: the Japanese images and what `line setup-richmenu` uploads, the
representatives' own menu, and getting the residents' menu back when a link ends (in the
chat, or by the center in the console), against the fake LINE API."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.adapters import line as line_adapter
from bot.adapters.line import LineChannel
from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import channels_key
from bot.worker import Worker
from storage.store import GroupRecord
from tests import line_events as ev
from tests.fakes.line_api import FakeLine
from tests.helpers import open_call
from tests.line_helpers import (
    SECRET,
    AiohttpClient,
    AiohttpServer,
    eventually,
    post,
    serve_bot,
    serve_fake,
    texts,
)
from tests.test_admin import PASSWORD, csrf_of, sign_in


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> tuple[FakeLine, str]:
    return await serve_fake(aiohttp_server)


@pytest.fixture
async def bot(
    aiohttp_client: AiohttpClient, fake: tuple[FakeLine, str], tmp_path: Path
) -> TestClient:
    return await serve_bot(aiohttp_client, fake, tmp_path)


async def test_rich_menu_setup(bot: TestClient, fake: tuple[FakeLine, str]) -> None:
    from bot.richmenu import image, menu_items

    channel: LineChannel = bot.server.app[channels_key]["line"]
    menu_id = await channel.setup_rich_menu(image(), menu_items())
    assert fake[0].default_rich_menu == menu_id
    areas = fake[0].rich_menus[menu_id]["areas"]
    assert [a["action"]["data"] for a in areas] == ["menu", "gs", "ol", "mine", "rc:new", "help"]
    assert fake[0].rich_menu_images[menu_id].startswith(b"\x89PNG")


async def test_a_representative_gets_their_own_rich_menu_and_loses_it_on_unlink(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    from bot.richmenu import draw, menu_items

    channel: LineChannel = bot.server.app[channels_key]["line"]
    store = bot.server.app[conversation_key].store
    rep_menu = await channel.setup_rich_menu(
        draw(menu="representative"), menu_items("representative"), default=False
    )
    store.set_app_value(line_adapter.REPRESENTATIVE_MENU, rep_menu)
    areas = fake[0].rich_menus[rep_menu]["areas"]
    assert [a["action"]["data"] for a in areas][:2] == ["rc:new", "rc:mine"]
    assert fake[0].default_rich_menu is None  # not made everyone's menu

    open_call(store, ("line", "Uother"))  # the group 「海の会」 and its code machinery
    code, _ = store.issue_invite("umi")
    assert await post(bot, ev.body(ev.text("Urep", f"招待コード {code}"))) == 200
    await fake[0].wait_for(1)
    # The menu is switched right after the reply, in the user's lane: give it a moment.
    assert await eventually(lambda: fake[0].user_rich_menus.get("Urep") == rep_menu)

    group_id = store.represented_groups(store.touch_user("line", "Urep", "ja").id)[0][0]
    assert await post(bot, ev.body(ev.postback("Urep", f"rc:unlinkx:{group_id}"))) == 200
    await fake[0].wait_for(2)
    assert await eventually(lambda: "Urep" not in fake[0].user_rich_menus)


async def test_setup_richmenu_command(fake: tuple[FakeLine, str], tmp_path: Path) -> None:
    import argparse

    from bot.platforms import run_platform_command

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'menu.db'}",
        line_channel_secret=SECRET,
        line_channel_access_token=fake[0].token,
        line_api_base_url=fake[1],
    )
    saved = tmp_path / "menu.png"
    args = argparse.Namespace(
        command="line", line_command="setup-richmenu", font=None, save=str(saved)
    )
    assert await run_platform_command(args, settings) == 0
    assert fake[0].default_rich_menu is not None
    assert saved.read_bytes() == fake[0].rich_menu_images[fake[0].default_rich_menu]
    from storage import Store, create_db_engine

    store = Store(create_db_engine(settings.database_url))
    rep_menu = store.app_value(line_adapter.REPRESENTATIVE_MENU)
    store.close()
    assert rep_menu in fake[0].rich_menu_images  # made, with its image, for representatives
    assert rep_menu != fake[0].default_rich_menu
    # Without --font, exactly the kept Japanese images go up (no font needed on the machine).
    from bot.richmenu import asset

    uploaded = fake[0].rich_menu_images
    assert uploaded[fake[0].default_rich_menu] == asset("resident").read_bytes()
    assert uploaded[rep_menu] == asset("representative").read_bytes()


@pytest.mark.parametrize("menu", ["resident", "representative"])
def test_the_kept_rich_menu_images_are_japanese_and_show_todays_words(menu: str) -> None:
    import io

    from PIL import Image

    from bot.richmenu import asset, drawn_from, tiles, words_hash

    png = asset(menu).read_bytes()
    assert len(png) <= 1024 * 1024  # LINE's limit for a rich menu image
    with Image.open(io.BytesIO(png)) as img:
        assert (img.format, img.size) == ("PNG", (2500, 1686))
    # Drawn with a Japanese font from knowledge/richmenu.toml as it is now: after a change of
    # the words, `python -m bot line draw-richmenu` must be run (an English-only image, drawn
    # without a Japanese font, carries no hash at all).
    assert drawn_from(png) == words_hash(menu), "run: python -m bot line draw-richmenu"
    labels = [t.label for t in tiles(menu)]
    assert {"予約確認", "ヘルプ", "質問する", "ボランティアをさがす"} <= set(labels)
    if menu == "representative":
        assert labels[:2] == ["募集する", "自分の募集"]
    else:
        assert "団体をさがす" in labels
    for tile in tiles(menu):  # white words on every tile: WCAG AA contrast (4.5:1) at least
        assert _contrast_with_white(tile.colour) >= 4.5, tile


def _contrast_with_white(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)
    return 1.05 / (luminance + 0.05)


def test_draw_richmenu_draws_both_menus_with_a_japanese_font(tmp_path: Path) -> None:
    from bot.cli import main
    from bot.richmenu import drawn_from, japanese_font, words_hash

    # A font that is not there is refused: the kept images must carry the Japanese words.
    assert main(["line", "draw-richmenu", "--font", str(tmp_path / "none.ttf")]) == 2
    assert not list(tmp_path.glob("*.png"))
    font = japanese_font()
    if font is None:
        pytest.skip("no Japanese font on this machine (Debian: apt-get install fonts-noto-cjk)")
    assert main(["line", "draw-richmenu", "--font", font, "--out", str(tmp_path)]) == 0
    for menu in ("resident", "representative"):
        assert drawn_from((tmp_path / f"{menu}.png").read_bytes()) == words_hash(menu)


async def _representative_menu(bot: TestClient) -> str:
    from bot.richmenu import draw, menu_items

    channel: LineChannel = bot.server.app[channels_key]["line"]
    rep_menu = await channel.setup_rich_menu(
        draw(menu="representative"), menu_items("representative"), default=False
    )
    bot.server.app[conversation_key].store.set_app_value(
        line_adapter.REPRESENTATIVE_MENU, rep_menu
    )
    return rep_menu


async def test_unlinked_by_the_center_a_representative_gets_the_residents_menu_back(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    rep_menu = await _representative_menu(bot)
    conversation = bot.server.app[conversation_key]
    store = conversation.store
    open_call(store, ("line", "Uother"))  # the group 「海の会」
    store.import_groups([GroupRecord("yama", "山の会", fields=("environment",))])
    for key in ("umi", "yama"):
        code, _ = store.issue_invite(key)
        assert await post(bot, ev.body(ev.text("Urep", f"招待コード {code}"))) == 200
    assert await eventually(lambda: fake[0].user_rich_menus.get("Urep") == rep_menu)
    store.create_staff("staff1", PASSWORD)
    assert await sign_in(bot) == 303
    worker = Worker(conversation, {"line": bot.server.app[channels_key]["line"]})
    user = store.touch_user("line", "Urep", "ja").id
    for key, menu_after in (("umi", rep_menu), ("yama", None)):
        group = store.group_by_key(key)
        assert group is not None
        page = await (await bot.get(f"/admin/groups/{group.id}")).text()
        action = f"/admin/groups/{group.id}/representatives/{user}/unlink"
        response = await bot.post(action, data={"csrf": csrf_of(page)}, allow_redirects=False)
        assert response.status == 303
        before = len(fake[0].sent)
        assert (await worker.run_once())["sent"] == 1
        (notice,) = fake[0].sent[before:]
        assert notice.to == "Urep"
        assert group.name in texts(notice)
        # Still the representative of another group: the menu stays; of none: it goes.
        assert fake[0].user_rich_menus.get("Urep") == menu_after


async def _unlink_from_console(bot: TestClient, group_key: str, platform_user: str) -> None:
    store = bot.server.app[conversation_key].store
    group = store.group_by_key(group_key)
    assert group is not None
    user = store.touch_user("line", platform_user, "ja").id
    page = await (await bot.get(f"/admin/groups/{group.id}")).text()
    action = f"/admin/groups/{group.id}/representatives/{user}/unlink"
    response = await bot.post(action, data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert response.status == 303


async def test_two_representatives_unlinked_together_both_get_the_residents_menu(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    """Their notices have the same words, but each is pushed alone: a multicast would not
    switch their menus."""
    rep_menu = await _representative_menu(bot)
    conversation = bot.server.app[conversation_key]
    store = conversation.store
    open_call(store, ("line", "Uother"))
    for user in ("Urep1", "Urep2"):
        code, _ = store.issue_invite("umi")
        assert await post(bot, ev.body(ev.text(user, f"招待コード {code}"))) == 200
    assert await eventually(
        lambda: [fake[0].user_rich_menus.get(u) for u in ("Urep1", "Urep2")] == [rep_menu] * 2
    )
    store.create_staff("staff1", PASSWORD)
    assert await sign_in(bot) == 303
    for user in ("Urep1", "Urep2"):
        await _unlink_from_console(bot, "umi", user)
    worker = Worker(conversation, {"line": bot.server.app[channels_key]["line"]})
    assert (await worker.run_once())["sent"] == 2
    assert "Urep1" not in fake[0].user_rich_menus
    assert "Urep2" not in fake[0].user_rich_menus


async def test_linked_again_before_the_notice_goes_out_the_menu_stays(
    bot: TestClient, fake: tuple[FakeLine, str]
) -> None:
    rep_menu = await _representative_menu(bot)
    conversation = bot.server.app[conversation_key]
    store = conversation.store
    open_call(store, ("line", "Uother"))
    code, _ = store.issue_invite("umi")
    assert await post(bot, ev.body(ev.text("Urep", f"招待コード {code}"))) == 200
    assert await eventually(lambda: fake[0].user_rich_menus.get("Urep") == rep_menu)
    store.create_staff("staff1", PASSWORD)
    assert await sign_in(bot) == 303
    await _unlink_from_console(bot, "umi", "Urep")  # the notice waits in the outbox
    code, _ = store.issue_invite("umi")
    assert await post(bot, ev.body(ev.text("Urep", f"招待コード {code}"))) == 200
    assert await eventually(lambda: fake[0].user_rich_menus.get("Urep") == rep_menu)
    worker = Worker(conversation, {"line": bot.server.app[channels_key]["line"]})
    assert (await worker.run_once())["sent"] >= 1
    assert fake[0].user_rich_menus.get("Urep") == rep_menu
