"""The console on a phone (375×667) in a real browser: Debian's Chromium driven by Playwright,
against ``python -m bot serve`` in its own process (the fixtures of tests/test_browser.py).

Every console page reachable from the menu (and the pages those link to) is read for what a
person sees: no table cell squeezed narrower than about three characters (one character a
line), nothing wider than the screen, no console errors (a CSP violation is one). Screenshots
go to var/test-artifacts/ (this machine has no CJK font: Japanese shows as boxes there)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import open_call, serving
from tests.test_browser import CHROMIUM, ROOT, browser

ARTIFACTS = ROOT / "var" / "test-artifacts"
PASSWORD = "a long staff password"
PHONE = {"width": 375, "height": 667}
NARROWEST = 3.0  # a cell narrower than this many characters (its font size) reads one a line
MAX_PAGES = 30  # console pages visited, following the links from the menu

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian chromium is not installed (apt-get install chromium); CI installs it",
)
__all__ = ["browser"]  # the module-scoped browser fixture of tests/test_browser.py

# Each table cell (and header) a person sees, narrower than NARROWEST characters of its font.
_SQUEEZED = """(narrowest) => [...document.querySelectorAll('td, th')].flatMap((cell) => {
  const box = cell.getBoundingClientRect();
  const style = getComputedStyle(cell);
  if (!box.width || !box.height || style.visibility === 'hidden' || !cell.innerText.trim())
    return [];
  for (let e = cell; e; e = e.parentElement)  // visually hidden, for screen readers only
    if (getComputedStyle(e).clip === 'rect(0px, 0px, 0px, 0px)') return [];
  const chars = box.width / parseFloat(style.fontSize);
  const text = cell.innerText.trim();
  return chars < narrowest ? [`${cell.tagName} ${chars.toFixed(1)}em: ${text}`] : [];
})"""

# The innermost elements that reach past the right edge of the screen (none: nothing to scroll
# sideways for, except inside a container that scrolls).
_OVERFLOWING = """() => [...document.body.querySelectorAll('*')].filter((el) => {
  if (el.getBoundingClientRect().right <= innerWidth + 0.5) return false;
  for (let e = el.parentElement; e; e = e.parentElement)
    if (['auto', 'scroll'].includes(getComputedStyle(e).overflowX)) return false;
  return ![...el.children].some((c) => c.getBoundingClientRect().right > innerWidth + 0.5);
}).map((el) => `${Math.round(el.getBoundingClientRect().right)}px ${el.outerHTML.slice(0, 80)}`)"""


# On a phone: cells whose value starts or wraps left of where the column's name ends (a
# wrapped line ran on under the name).
_UNDER_LABEL = """() => [...document.querySelectorAll('table.stack td[data-label]')]
.flatMap((td) => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const lines = [...range.getClientRects()].filter((r) => r.width > 0);
  if (!lines.length) return [];
  const name = parseFloat(getComputedStyle(td, '::before').width) || 0;
  const start = td.getBoundingClientRect().left + name;
  const left = Math.min(...lines.map((r) => r.left));
  return left < start ? [`${td.dataset.label}: ${td.innerText.trim().slice(0, 30)}`] : [];
})"""
# At 1280 px: short cells (a state, a date) broken over two lines.
_BROKEN_SHORT = """() => [...document.querySelectorAll('table.stack td')].flatMap((td) => {
  const text = td.innerText.trim();
  if (!text || text.length > 12 || td.querySelector('form')) return [];
  const range = document.createRange();
  range.selectNodeContents(td);
  const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0)
    .map((r) => Math.round(r.top)));
  return tops.size > 1 ? [text] : [];
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bot serving a console with something on every page: the sample directory, a call
    with a sign-up, unanswered questions, FAQ answers, a failed delivery, audit entries."""
    from bot.config import Settings
    from bot.runtime import open_conversation
    from intents.types import Inbound

    db = tmp_path_factory.mktemp("console") / "console.db"
    url = f"sqlite:///{db}"
    conversation = open_conversation(Settings(database_url=url))
    store = conversation.store
    store.create_staff("staff1", PASSWORD)
    _, call_id = open_call(store, ("web", "rep"), title="浜そうじ（ブラウザ試験）", days_ahead=4)
    volunteer = store.touch_user("web", "vol", "ja").id
    store.save_profile(volunteer, name="山田", contact="v@example.jp", age_group="18",
                       consent_at=datetime.now(UTC))  # fmt: skip
    store.sign_up(volunteer, call_id, datetime.now(UTC))
    for i, text in enumerate(
        ["ゆるキャラの名前は", "ゆるキャラの名前は？", "駐輪場はありますか", "協働ってなに？",
         "市民活動センターの開館時間と休館日を詳しく教えてください", "協働の原則は？"]
    ):  # fmt: skip
        conversation.handle(Inbound("web", f"asker{i}", text=text))
    failed = store.touch_user("line", "Ufailed", "ja")
    store.enqueue(failed.id, json.dumps({"text": "雨天延期のお知らせ", "choices": []}))
    (message,) = store.claim_due(("line",), datetime.now(UTC))
    store.give_up([message.id], "LINE push 400: 'The user has blocked the bot'", datetime.now(UTC))
    store.audit("staff1", "group_saved", "umi 海の会")
    store.close()
    with serving(url) as base:
        yield base


@pytest.fixture
def phone(server: str, browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A signed-in page at phone size, and the console messages it logs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=PHONE, locale="ja-JP")
    logged: list[str] = []

    def note(message: Any) -> None:
        if message.type in ("error", "warning"):
            logged.append(f"{message.text} {message.location.get('url', '')}")

    page.on("console", note)
    page.on("pageerror", lambda error: logged.append(str(error)))
    page.goto(f"{server}/admin/login")
    page.get_by_label("ユーザー名").fill("staff1")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{server}/admin/")
    yield page, logged
    page.close()


def _console_links(page: Any) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
    return [h for h in hrefs if urlsplit(h).path.startswith("/admin") and ".csv" not in h]


def test_every_console_page_reads_on_a_phone(server: str, phone: tuple[Any, list[str]]) -> None:
    page, logged = phone
    queue, seen = [f"{server}/admin/"], set[str]()
    squeezed: list[str] = []
    too_wide: list[str] = []
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        path = urlsplit(url).path
        route = re.sub(r"/\d+", "/1", path)  # one group's page stands for every group's
        if route in seen:
            continue
        seen.add(route)
        response = page.goto(url)
        assert response is not None
        assert response.status == 200, url
        name = path.strip("/").replace("/", "-") or "admin"
        page.screenshot(path=str(ARTIFACTS / f"console-phone-{name}.png"), full_page=True)
        squeezed += [f"{path}: {c}" for c in page.evaluate(_SQUEEZED, NARROWEST)]
        squeezed += [f"{path}: under its name: {c}" for c in page.evaluate(_UNDER_LABEL)]
        too_wide += [f"{path}: {o}" for o in page.evaluate(_OVERFLOWING)]
        queue += _console_links(page)
    assert {"/admin/", "/admin/groups", "/admin/calls", "/admin/unanswered",
            "/admin/audit", "/admin/deliveries", "/admin/staff"} <= seen  # fmt: skip
    assert squeezed == []
    assert too_wide == []
    assert logged == []


def test_short_cells_stay_on_one_line_on_a_desktop(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page.goto(f"{server}/admin/login")
    page.get_by_label("ユーザー名").fill("staff1")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{server}/admin/")
    broken = []
    for path in ("/admin/groups", "/admin/calls", "/admin/unanswered", "/admin/audit"):
        page.goto(f"{server}{path}")
        broken += [f"{path}: {c}" for c in page.evaluate(_BROKEN_SHORT)]
    page.screenshot(path=str(ARTIFACTS / "console-desktop-calls.png"), full_page=True)
    page.close()
    assert broken == []


def test_back_on_an_error_page_goes_back(server: str, phone: tuple[Any, list[str]]) -> None:
    """An error page's 「戻る」 is a plain link (the console's CSP runs no javascript:)."""
    from playwright.sync_api import expect

    page, logged = phone
    page.goto(f"{server}/admin/unanswered")
    missing = [f"{server}/admin/calls/999999/signups.csv", f"{server}/admin/nowhere"]
    page.goto(missing[0], referer=f"{server}/admin/unanswered")
    page.screenshot(path=str(ARTIFACTS / "console-phone-error.png"), full_page=True)
    page.get_by_role("link", name="戻る").click()
    expect(page).to_have_url(f"{server}/admin/unanswered")
    page.goto(missing[1])  # typed in: nothing to go back to but the dashboard
    page.get_by_role("link", name="戻る").click()
    expect(page).to_have_url(f"{server}/admin/")
    # The browser notes the two 404s it was shown; nothing else (no CSP violation).
    assert [m for m in logged if not m.endswith(tuple(missing))] == []


def test_attach_needs_a_chosen_entry_shown_beside_it(
    server: str, phone: tuple[Any, list[str]]
) -> None:
    """Nothing is preselected; attaching without a choice says so next to the select, and
    with one the whole row (both spellings) is attached."""
    from playwright.sync_api import expect

    page, logged = phone
    page.goto(f"{server}/admin/unanswered")
    row = page.locator("tr", has_text="ゆるキャラの名前は")
    select = row.get_by_label("FAQ項目")
    expect(select).to_have_value("")
    row.get_by_role("button", name="このFAQの言い方に追加").click()
    row = page.locator("tr", has_text="ゆるキャラの名前は")
    error = row.locator(".field .error")
    expect(error).to_be_visible()
    expect(row.get_by_label("FAQ項目")).to_have_attribute("aria-invalid", "true")
    field_box = row.locator(".field").bounding_box()
    select_box = row.get_by_label("FAQ項目").bounding_box()
    error_box = error.bounding_box()
    assert field_box
    assert select_box
    assert error_box
    assert 0 <= error_box["y"] - (select_box["y"] + select_box["height"]) < 40  # right under it
    assert error_box["y"] + error_box["height"] <= field_box["y"] + field_box["height"] + 1
    page.screenshot(path=str(ARTIFACTS / "console-phone-attach-refused.png"), full_page=True)
    row.get_by_label("FAQ項目").select_option("center-what")
    row.get_by_role("button", name="このFAQの言い方に追加").click()
    expect(page.locator("tr", has_text="ゆるキャラの名前は")).to_have_count(0)
    assert [m for m in logged if not m.endswith("/admin/unanswered/attach")] == []  # the 400
