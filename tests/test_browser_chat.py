"""The web chat on a phone (375×667) and a desktop (1280×800), in Debian's Chromium driven by
Playwright, against ``python -m bot serve`` in its own process: what a person can see and tap
(geometry, focus), not only what the DOM holds. Screenshots go to var/test-artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import open_call, serving
from tests.test_browser import CHROMIUM, ROOT, browser

ARTIFACTS = ROOT / "var" / "test-artifacts"
SIZES = {"phone": (375, 667), "desktop": (1280, 800)}

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian chromium is not installed (apt-get install chromium); CI installs it",
)
__all__ = ["browser"]  # the module's one browser, shared with tests/test_browser.py's pattern

# Whether ``el`` is wholly inside the visible part of every box that clips it up to the log
# (the card row scrolls sideways, the log up and down) and in the window, after scrolling it
# into view; and whether a tap at its centre reaches it.
SEEN = """(el) => {
  el.scrollIntoView({block: "nearest", inline: "nearest"});
  const r = el.getBoundingClientRect();
  const boxes = [{top: 0, left: 0, bottom: innerHeight, right: innerWidth}];
  for (let up = el.parentElement; up; up = up.parentElement) {
    if (getComputedStyle(up).overflow !== "visible") boxes.push(up.getBoundingClientRect());
    if (up.id === "log") break;
  }
  const inside = boxes.every((b) => r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5
                                    && r.left >= b.left - 0.5 && r.right <= b.right + 0.5);
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {inside, height: r.height, content: el.scrollHeight,
          hit: hit === el || el.contains(hit), label: el.textContent.slice(0, 30)};
}"""
# Whether the newest bot message is wholly inside the log's visible area.
NEWEST_IN_VIEW = """() => {
  const log = document.getElementById("log").getBoundingClientRect();
  const all = document.querySelectorAll("#log .msg.bot");
  const r = all[all.length - 1].getBoundingClientRect();
  return r.top >= log.top - 0.5 && r.bottom <= log.bottom + 0.5 && r.height > 0;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bot on a new SQLite database: the sample groups and one open call (申し込む)."""
    from bot.config import Settings
    from bot.runtime import open_conversation

    db = tmp_path_factory.mktemp("browser_chat") / "chat.db"
    url = f"sqlite:///{db}"
    conversation = open_conversation(Settings(database_url=url))  # loads the sample groups
    open_call(conversation.store, ("web", "rep"), title="浜そうじ（試験）", days_ahead=4)
    conversation.store.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serving(url) as base:
        yield base


class Chat:
    """One person's chat page at one size, with the console's errors collected."""

    def __init__(self, browser: Any, server: str, size: str) -> None:
        width, height = SIZES[size]
        self.size = size
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, locale="ja-JP",
            has_touch=size == "phone", is_mobile=size == "phone",
        )  # fmt: skip
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(f"{server}/")
        self.page.locator("#log .msg.bot").first.wait_for()

    def type(self, text: str) -> None:
        """Type a message and send it with Enter; until its reply is drawn."""
        count = self.page.locator("#log .msg.bot").count()
        self.page.locator("#text").fill(text)
        self.page.locator("#text").press("Enter")
        self.page.locator("#log .msg.bot").nth(count).wait_for()

    def tap(self, name: str, where: str = "#choices") -> None:
        """Tap a button by its label, at its centre; until the reply is drawn."""
        from playwright.sync_api import expect

        count = self.page.locator("#log .msg.bot").count()
        target = self.page.locator(where).get_by_role("button", name=name, exact=True).first
        expect(target).to_be_visible()
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        if self.size == "phone":
            self.page.touchscreen.tap(x, y)
        else:
            self.page.mouse.click(x, y)
        self.page.locator("#log .msg.bot").nth(count).wait_for()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"chat-{name}-{self.size}.png"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture(params=list(SIZES))
def chat(request: pytest.FixtureRequest, browser: object, server: str) -> Iterator[Chat]:
    opened = Chat(browser, server, request.param)
    yield opened
    opened.close()


def test_cards_and_their_buttons_can_be_seen_and_tapped(chat: Chat) -> None:
    page = chat.page
    chat.type("大船で子育ての団体")  # group cards (詳しく見る)
    chat.tap("メニュー")
    chat.tap("ボランティアをさがす")  # opening cards (申し込む, 詳しく見る)
    chat.type("協働ってなに？")
    chat.type("補償制度って何")
    chat.shot("after-search")
    # the newest message is whole in the log, its buttons drawn below it
    assert page.evaluate(NEWEST_IN_VIEW)
    cards = page.locator("#log .card")
    assert cards.count() >= 3
    labels = set()
    for i in range(cards.count()):
        card = page.evaluate(SEEN, cards.nth(i).element_handle())
        assert card["inside"], card
        assert card["height"] >= card["content"] - 1, card  # nothing of it cut off
        buttons = cards.nth(i).get_by_role("button")
        assert buttons.count() >= 1
        for j in range(buttons.count()):
            seen = page.evaluate(SEEN, buttons.nth(j).element_handle())
            assert seen["inside"], seen
            assert seen["hit"], seen
            labels.add(seen["label"])
    assert {"申し込む", "詳しく見る"} <= labels
    chat.shot("cards")
    # a card's button answers a tap at its centre
    chat.tap("申し込む", "#log .card")
    assert page.evaluate(NEWEST_IN_VIEW)
    chat.shot("tapped")
    assert chat.errors == []


def test_a_choice_by_enter_shows_typing_and_keeps_focus(chat: Chat) -> None:
    from playwright.sync_api import expect

    page = chat.page
    held: list[Any] = []
    page.route("**/api/chat", lambda route: held.append(route))  # held until let go
    page.locator("#choices").get_by_role("button", name="団体をさがす").focus()
    page.keyboard.press("Enter")
    for _ in range(200):  # until the request reached the route (not a timing assertion)
        if held:
            break
        page.wait_for_timeout(25)
    assert held
    typing = page.locator("#log .typing")
    expect(typing).to_be_visible()
    expect(page.locator("#log")).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("status")).not_to_have_text("")  # said to screen readers
    expect(typing).to_have_css("opacity", "1")  # shown once a reply takes a moment
    chat.shot("typing")
    held[0].continue_()
    expect(page.locator("#choices").get_by_role("button", name="環境・自然")).to_be_visible()
    expect(typing).to_have_count(0)
    expect(page.locator("#log")).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("status")).to_have_text("")
    page.unroute("**/api/chat")
    focused = page.evaluate(
        "document.activeElement.id === 'text' || document.activeElement.matches('button.choice')"
    )
    assert focused, page.evaluate("document.activeElement.outerHTML")
    # Enter on the focused choice goes on, and focus stays where the keyboard is
    page.keyboard.press("Enter")
    expect(page.locator("#choices").get_by_role("button", name="腰越地域")).to_be_visible()
    assert page.evaluate(
        "document.activeElement.id === 'text' || document.activeElement.matches('button.choice')"
    )
    assert page.evaluate(NEWEST_IN_VIEW)
    chat.shot("focus")
    assert chat.errors == []


def test_a_pending_form_comes_back_after_a_reload(chat: Chat) -> None:
    from playwright.sync_api import expect

    page = chat.page
    chat.tap("ボランティアをさがす")
    chat.tap("申し込む", "#log .card")
    expect(page.locator("#choices").get_by_role("button", name="同意する")).to_be_visible()
    asked = page.locator("#log .msg.bot").last.text_content()
    page.reload()
    expect(page.locator("#choices").get_by_role("button", name="同意する")).to_be_visible()
    expect(page.locator("#choices").get_by_role("button", name="やめる")).to_be_visible()
    expect(page.locator("#log .msg.bot").last).to_have_text(asked or "")
    assert page.evaluate(NEWEST_IN_VIEW)
    chat.shot("reloaded")
    chat.tap("同意する")  # the form goes on from where it was
    expect(page.locator("#log .msg.bot").last).to_contain_text("お名前")
    expect(page.locator("#choices").get_by_role("button", name="戻る")).to_be_visible()
    assert chat.errors == []


def test_the_conversation_so_far_comes_back_after_a_reload(chat: Chat) -> None:
    """What was said in this tab is drawn again after a reload, in order; after
    「データ削除」 it is forgotten, and a reload starts afresh."""
    from playwright.sync_api import expect

    page = chat.page
    chat.type("協働ってなに？")
    chat.type("補償制度って何")
    said = page.locator("#log .msg").all_text_contents()
    page.reload()
    expect(page.locator("#log .msg")).to_have_count(len(said))
    assert page.locator("#log .msg").all_text_contents() == said
    assert page.locator("#log .msg.me").all_text_contents() == ["協働ってなに？", "補償制度って何"]
    assert page.evaluate(NEWEST_IN_VIEW)
    chat.shot("history")
    chat.type("データ削除")
    chat.tap("削除する")
    page.reload()
    expect(page.locator("#log .msg.bot")).to_have_count(1)  # the welcome, nothing before
    expect(page.locator("#log .msg.me")).to_have_count(0)
    assert chat.errors == []


def test_favicon_and_no_console_errors(browser: object, server: str) -> None:
    chat = Chat(browser, server, "desktop")
    try:
        icon = chat.page.request.get(f"{server}/favicon.ico")
        assert icon.status == 200
        assert icon.headers["content-type"].startswith("image/")
        linked = chat.page.evaluate("document.querySelector('link[rel=icon]').href")
        assert chat.page.request.get(linked).status == 200
        chat.type("協働ってなに？")
        chat.page.wait_for_load_state("networkidle")  # the browser's own favicon request too
        assert chat.errors == []
    finally:
        chat.close()
