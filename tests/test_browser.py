"""The console and the web chat in a real browser: Debian's Chromium driven by Playwright,
against ``python -m bot serve`` in its own process. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import open_call, serving

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "a long staff password"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian chromium is not installed (apt-get install chromium); CI installs it",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from bot.config import Settings
    from bot.runtime import open_conversation

    db = tmp_path_factory.mktemp("browser") / "browser.db"
    url = f"sqlite:///{db}"
    conversation = open_conversation(Settings(database_url=url))
    store = conversation.store
    store.create_staff("staff1", PASSWORD)
    _, call_id = open_call(store, ("web", "rep"), title="浜そうじ（ブラウザ試験）", days_ahead=4)
    volunteer = store.touch_user("web", "vol", "ja").id
    store.save_profile(volunteer, name="山田", contact="v@example.jp", age_group="18",
                       consent_at=datetime.now(UTC))  # fmt: skip
    store.sign_up(volunteer, call_id or 0, datetime.now(UTC))
    conversation.handle(__import__("intents.types", fromlist=["Inbound"]).Inbound(
        "web", "asker", text="ゆるキャラの名前は"))  # fmt: skip
    store.close()
    with serving(url) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield chromium
        chromium.close()


def test_console_end_to_end(server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(accept_downloads=True, locale="ja-JP")
    page.goto(f"{server}/admin/")
    expect(page).to_have_url(f"{server}/admin/login")
    page.get_by_label("ユーザー名").fill("staff1")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="ダッシュボード")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

    # import a directory CSV (Shift_JIS, as Excel saves it)
    csv_file = tmp_path / "directory.csv"
    csv_file.write_bytes(
        "key,name,fields,areas,verified\nreal-1,本物の会,環境,腰越,false\n".encode("cp932")
    )
    page.goto(f"{server}/admin/groups")
    page.set_input_files("input[type=file]", str(csv_file))
    page.get_by_role("button", name="取り込む", exact=True).click()
    expect(page.get_by_text("新規 1件")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-import.png"), full_page=True)

    # verify it and issue an invite code
    page.goto(f"{server}/admin/groups?q=real-1")
    page.get_by_role("button", name="確認済みにする").click()
    page.goto(f"{server}/admin/groups?q=real-1")
    expect(page.get_by_role("button", name="確認を外す")).to_be_visible()
    page.get_by_role("button", name="招待コード発行").click()
    expect(page.locator(".code")).to_have_text(
        __import__("re").compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")
    )
    page.screenshot(path=str(ARTIFACTS / "admin-invite.png"), full_page=True)

    # export the sign-ups of a call, then hide it
    page.goto(f"{server}/admin/calls")
    with page.expect_download() as download:
        row = page.get_by_role("row").filter(has_text="浜そうじ（ブラウザ試験）")
        row.get_by_role("link", name="申込者CSV").click()
    saved = tmp_path / "signups.csv"
    download.value.save_as(saved)
    content = saved.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert "山田" in content.decode("utf-8-sig")
    page.get_by_placeholder("非表示の理由").first.fill("試験のため")
    page.get_by_role("button", name="非表示にする", exact=True).first.click()
    expect(page.get_by_text("非表示の理由：試験のため")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-calls.png"), full_page=True)
    page.get_by_role("button", name="公開に戻す", exact=True).first.click()
    expect(page.get_by_text("非表示の理由：試験のため")).to_have_count(0)
    expect(page.get_by_role("button", name="非表示にする", exact=True).first).to_be_visible()

    # attach an unanswered question to an FAQ entry …
    page.goto(f"{server}/admin/unanswered")
    expect(page.get_by_text("ゆるキャラの名前は")).to_be_visible()
    page.get_by_label("FAQ項目").first.select_option("center-what")
    page.get_by_role("button", name="このFAQの言い方に追加").first.click()
    page.screenshot(path=str(ARTIFACTS / "admin-unanswered.png"), full_page=True)

    # … and see the bot answer it in the web chat
    chat = browser.new_page(locale="ja-JP")
    chat.goto(f"{server}/")
    expect(chat.locator(".msg.bot").first).to_contain_text("案内ボット")
    chat.get_by_label("メッセージ").fill("ゆるキャラの名前は")
    chat.keyboard.press("Enter")
    expect(chat.locator(".msg.bot").last).to_contain_text("市民活動センター")
    chat.screenshot(path=str(ARTIFACTS / "chat-answer.png"), full_page=True)

    # a broadcast preview
    page.goto(f"{server}/admin/broadcast")
    page.get_by_label("お知らせ（500文字まで）").fill("12月の清掃日のお知らせです")
    page.get_by_role("button", name="プレビュー").click()
    expect(page.get_by_text("送信先：")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-broadcast.png"), full_page=True)
    page.close()
    chat.close()


def test_web_chat_buttons_cards_and_english(server: str, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP")  # a phone
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    bodies: list[str] = []
    page.on(
        "request", lambda r: bodies.append(r.post_data or "") if "/api/chat" in r.url else None
    )
    page.goto(f"{server}/")
    page.get_by_role("button", name="団体をさがす").click()
    page.get_by_role("button", name="環境・自然").click()
    page.get_by_role("button", name="腰越地域").click()
    expect(page.locator(".card").first).to_contain_text("本物の会")  # verified in the console
    page.screenshot(path=str(ARTIFACTS / "chat-cards-phone.png"), full_page=True)
    page.get_by_role("button", name="English").click()
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator(".msg.bot").last).to_contain_text("What I can do")
    page.get_by_label("Message").fill("<img src=x onerror=alert(1)>")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.me").last).to_have_text("<img src=x onerror=alert(1)>")
    assert page.locator(".msg img").count() == 0
    # who you are is the server's HttpOnly cookie: not in the page's reach, not in the body
    assert "tsunagaru_chat" not in page.evaluate("document.cookie")
    assert any(c["name"] == "tsunagaru_chat" and c["httpOnly"] for c in page.context.cookies())
    assert page.evaluate("localStorage.getItem('tsunagaru-user')") is None
    assert bodies
    assert all("user" not in json.loads(b) for b in bodies)
    assert not [m for m in console if "Content Security Policy" in m]  # nothing inline
    page.close()


def test_web_chat_shows_the_kind_words_when_too_fast(server: str, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    from knowledge.messages import Messages

    assert isinstance(browser, Browser)
    kind = Messages.load().get("web_too_fast", "ja", seconds="\0").split("\0")[0]
    page = browser.new_page(locale="ja-JP")  # a new person (no cookie yet)
    page.goto(f"{server}/")
    expect(page.locator(".msg.bot").first).to_contain_text("案内ボット")
    # a burst past the 20 a person may send at once, through the page's own send()
    page.evaluate("Promise.all(Array.from({length: 25}, () => send({payload: 'menu'})))")
    expect(page.locator(".msg.bot", has_text=kind).first).to_be_visible()
    assert page.locator(".msg.error").count() == 0  # the bot's words, not a failure
    page.close()
