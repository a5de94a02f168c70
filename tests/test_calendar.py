"""「カレンダーに追加」 (issue 16): a confirmed sign-up offers its call as a calendar event. The
web chat links to an ``.ics`` file of our own (``GET /calendar/<token>.ics``, read here by a strict
RFC 5545 parser written for the test); LINE and Telegram get a Google Calendar link, rendered
as a uri action the fake LINE API accepts and as a Telegram url button. Driven through the
real aiohttp app, the real conversation and the fake platform APIs."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from linebot.v3.messaging import Message, ReplyMessageRequest

from bot import calendar
from bot.adapters import line_render
from bot.adapters import telegram as telegram_adapter
from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import create_app
from intents.calendar_links import CalendarEntry, google_calendar_url
from intents.conversation import Conversation
from intents.types import Card, Choice, Inbound, Reply
from knowledge.faq import FaqIndex
from storage import Store
from storage.openings import CallDraft
from storage.store import GroupRecord
from tests import line_events as ev
from tests.fakes.line_api import FakeLine, check_messages
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import open_call, serving
from tests.test_browser import CHROMIUM, ROOT, browser
from tests.test_line import SECRET as LINE_SECRET
from tests.test_line import post as post_line
from tests.test_telegram import message as telegram_message
from tests.test_telegram import send as send_telegram

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday, 12:00 in Kamakura
START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # Saturday 5 December, 10:00 in Kamakura
TOKYO = ZoneInfo("Asia/Tokyo")
TITLE = "浜そうじ, ごみ拾い; 午前の部"  # a comma and a semicolon: TEXT escaping
GROUP = "海の会（サンプル）"
BRING = "軍手、飲み物、帽子、タオル、雨具（小雨決行）、ごみ袋は団体が用意します"
AiohttpClient = Callable[..., Awaitable[TestClient]]
AiohttpServer = Callable[..., Awaitable[Any]]
__all__ = ["browser"]  # tests/test_browser.py's Chromium, for the one test in a real page


# --- a strict reader of what we serve ------------------------------------------------------------


def parse_ics(raw: bytes) -> list[dict[str, str]]:
    """The VEVENTs of an iCalendar file, each property's value unescaped, checking RFC 5545 as
    strictly as a careful calendar program: CRLF line ends only, no line over 75 octets, a
    folded line starting with one space and never splitting a UTF-8 character, components
    properly nested in one VCALENDAR with VERSION and PRODID, each property once."""
    assert raw.endswith(b"\r\n"), "the last line ends with CRLF"
    physical = raw[:-2].split(b"\r\n")
    logical: list[str] = []
    for line in physical:
        assert b"\r" not in line, f"a bare line break: {line!r}"
        assert b"\n" not in line, f"a bare line break: {line!r}"
        assert len(line) <= 75, f"{len(line)} octets: {line!r}"
        text = line.decode("utf-8")  # raises when a fold split a character
        if text.startswith(" "):
            assert logical, "a continuation line first"
            logical[-1] += text[1:]
        else:
            assert not text.startswith("\t")
            logical.append(text)
    stack: list[str] = []
    calendar_props: dict[str, str] = {}
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in logical:
        name, colon, value = line.partition(":")
        assert colon, line
        assert re.fullmatch(r"[A-Z][A-Z-]*(;[A-Z-]+=[^;:]+)*", name), line
        if name == "BEGIN":
            assert stack or value == "VCALENDAR"
            stack.append(value)
            current = {}
        elif name == "END":
            assert stack.pop() == value, f"END:{value} closes something else"
            if value == "VEVENT":
                events.append(current)
        else:
            target = current if stack[-1] == "VEVENT" else calendar_props
            assert name not in target, f"{name} twice"
            target[name] = value
    assert stack == [], "every BEGIN has its END"
    assert calendar_props.get("VERSION") == "2.0"
    assert calendar_props.get("PRODID")
    for event in events:
        for key in ("SUMMARY", "LOCATION", "DESCRIPTION"):
            if key in event:
                event[key] = _unescape(event[key])
    return events


def _unescape(value: str) -> str:
    # An unescaped comma or semicolon would make a TEXT value a list: never in ours.
    assert not re.search(r"(?<!\\)(\\\\)*[,;]", value), value
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def _utc(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


# --- the world: a group, its representative, a call at 10:00-12:00 -------------------------------


def make_call(
    store: Store, title: str = TITLE, start: datetime = START, key: str = "umi"
) -> tuple[int, int]:
    """The group 「海の会（サンプル）」, its representative and one call; (rep id, call id)."""
    store.import_groups([GroupRecord(key, GROUP, fields=("environment",), areas=("kamakura",))])
    rep = store.touch_user("test", f"rep-{key}", "ja").id
    issued = store.issue_invite(key, NOW)
    assert issued is not None
    assert store.redeem_invite(rep, issued[0], NOW)[0] == "linked"
    group_id = store.represented_groups(rep)[0][0]
    draft = CallDraft(
        title, "海岸のごみを拾います。", "environment", "kamakura", "由比ヶ浜",
        "由比ヶ浜駅の改札前", start, start + timedelta(hours=2), 5, bring=BRING,
    )  # fmt: skip
    call_id = store.create_call(rep, group_id, draft)
    assert call_id is not None
    return rep, call_id


def signed_up_person(store: Store, platform: str, user: str, call_id: int) -> int:
    """Someone on ``platform`` with a confirmed place on the call; their sign-up id."""
    person = store.touch_user(platform, user, "ja").id
    store.save_profile(person, name="山田はな", contact="hana@example.jp", age_group="30",
                       consent_at=NOW)  # fmt: skip
    result = store.sign_up(person, call_id, NOW)
    assert result.outcome == "confirmed"
    return int(result.sign_up_id or 0)


SIGN_UP_STEPS = [
    {"payload": "f:v:yes"},  # 同意する
    {"text": "山田はな"},
    {"text": "hana@example.jp"},
    {"payload": "f:v:30"},
    {"payload": "f:v:yes"},  # 申し込む
]
STEPS = ["consented", "name", "contact", "age_group", "confirm"]
ANSWERS = dict(zip(STEPS, SIGN_UP_STEPS, strict=True))


@pytest.fixture
async def web_chat(aiohttp_client: AiohttpClient, tmp_path: Path) -> TestClient:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'calendar.db'}", sample_groups=False, fixed_now=NOW
    )
    return await aiohttp_client(create_app(settings))


async def say(client: TestClient, **body: str) -> dict[str, Any]:
    res = await client.post("/api/chat", json=body)
    assert res.status == 200
    reply: dict[str, Any] = await res.json()
    return reply


async def sign_up_on_the_web(client: TestClient, call_id: int) -> dict[str, Any]:
    reply = await say(client, payload=f"os:{call_id}")
    while (step := reply["slots"].get("step")) in ANSWERS:  # what it asks (known: skipped)
        reply = await say(client, **ANSWERS[step])
    assert reply["slots"].get("outcome") == "confirmed", reply["message"]
    return reply


def calendar_links(reply: dict[str, Any]) -> list[str]:
    every = [*reply["choices"], *(b for card in reply["cards"] for b in card["buttons"])]
    return [c["url"] for c in every if "url" in c]


# --- the web chat: an .ics of our own --------------------------------------------------------


async def test_the_web_chat_offers_an_ics_with_the_calls_times(web_chat: TestClient) -> None:
    store = web_chat.server.app[conversation_key].store
    _, call_id = make_call(store)
    done = await sign_up_on_the_web(web_chat, call_id)
    (link,) = calendar_links(done)
    assert re.fullmatch(r"/calendar/[0-9]+-[0-9a-f]{32}\.ics", link), link
    assert next(c["label"] for c in done["choices"] if "url" in c) == "カレンダーに追加"

    res = await web_chat.get(link, headers={"Accept-Language": "ja"})
    assert res.status == 200
    assert res.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert res.headers["Cache-Control"] == "no-store"
    raw = await res.read()
    (event,) = parse_ics(raw)
    starts, ends = _utc(event["DTSTART"]), _utc(event["DTEND"])
    assert (starts.astimezone(TOKYO).isoformat(), ends.astimezone(TOKYO).isoformat()) == (
        "2026-12-05T10:00:00+09:00",
        "2026-12-05T12:00:00+09:00",
    )
    assert event["SUMMARY"] == TITLE
    assert event["LOCATION"] == "由比ヶ浜"
    assert f"主催：{GROUP}" in event["DESCRIPTION"]
    assert "集合：由比ヶ浜駅の改札前" in event["DESCRIPTION"]
    assert BRING in event["DESCRIPTION"]
    assert "\n" in event["DESCRIPTION"]  # the note's lines survive escaping
    assert _utc(event["DTSTAMP"]) == NOW
    assert event["UID"].endswith("@tsunagaru")
    assert max(len(line) for line in raw.split(b"\r\n")) > 60  # long lines were there to fold

    # the same sign-up: the same file and UID again, and 「予約確認」 links to the same one
    again = parse_ics(await (await web_chat.get(link)).read())
    assert again[0]["UID"] == event["UID"]
    mine = await say(web_chat, payload="mine")
    assert calendar_links(mine) == [link]
    # in English, the note is English
    english = parse_ics(await (await web_chat.get(link, headers={"Accept-Language": "en"})).read())
    assert f"Organised by: {GROUP}" in english[0]["DESCRIPTION"]


async def test_a_forged_or_altered_token_is_404(web_chat: TestClient) -> None:
    store = web_chat.server.app[conversation_key].store
    _, call_id = make_call(store)
    done = await sign_up_on_the_web(web_chat, call_id)
    (link,) = calendar_links(done)
    sign_up_id, mac = re.findall(r"/calendar/([0-9]+)-([0-9a-f]{32})\.ics", link)[0]
    other = signed_up_person(store, "web", "someone-else", make_call(store, key="other")[1])
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    elsewhere = calendar.token("another installation's key", int(sign_up_id))
    for forged in (
        f"/calendar/{sign_up_id}-{flipped}.ics",  # one character changed
        f"/calendar/{other}-{mac}.ics",  # someone else's sign-up with this signature
        f"/calendar/{elsewhere}.ics",  # signed with another key
        f"/calendar/{sign_up_id}-{mac.upper()}.ics",
        f"/calendar/{sign_up_id}-{mac[:16]}.ics",
        f"/calendar/{sign_up_id}.ics",
        f"/calendar/0{sign_up_id}-{mac}.ics",
    ):
        res = await web_chat.get(forged)
        assert res.status == 404, forged
        assert "BEGIN:VCALENDAR" not in await res.text()
    assert (await web_chat.get(link)).status == 200  # the real one still works


async def test_a_cancelled_sign_up_or_a_called_off_call_is_410(web_chat: TestClient) -> None:
    app = web_chat.server.app
    store = app[conversation_key].store
    _, call_id = make_call(store)
    (link,) = calendar_links(await sign_up_on_the_web(web_chat, call_id))
    sign_up_id = int(link.split("/")[-1].split("-")[0])
    assert (await say(web_chat, payload=f"mc:{sign_up_id}"))["intent"] == "my_sign_ups"
    assert (await say(web_chat, payload=f"mx:{sign_up_id}"))["intent"] == "cancel_sign_up"
    gone = await web_chat.get(link, headers={"Accept-Language": "ja"})
    assert gone.status == 410
    assert "キャンセル" in await gone.text()

    rep, other_call = make_call(store, title="花壇の手入れ", key="hana")
    (second,) = calendar_links(await sign_up_on_the_web(web_chat, other_call))
    assert (await web_chat.get(second)).status == 200
    assert store.set_call_status(rep, other_call, "cancelled", NOW)  # the group calls it off
    assert (await web_chat.get(second)).status == 410
    mine = await say(web_chat, payload="mine")
    assert calendar_links(mine) == []  # nothing to add for a call that is not happening


# --- LINE and Telegram: a Google Calendar link ---------------------------------------------------


@pytest.fixture
def conversation(store: Store, faq_index: FaqIndex) -> Conversation:
    return Conversation(store, faq_index=faq_index, clock=lambda: NOW)


def google_query(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://calendar.google.com/calendar/render"
    )
    query = parse_qs(parts.query, strict_parsing=True)
    assert all(len(v) == 1 for v in query.values())
    return {k: v[0] for k, v in query.items()}


def test_the_google_link_carries_the_utc_times(conversation: Conversation) -> None:
    _, call_id = make_call(conversation.store)

    def me(**said: str) -> Reply:
        return conversation.handle(Inbound("line", "Uhana", **said))

    reply = me(payload=f"os:{call_id}")
    for step in SIGN_UP_STEPS:
        reply = me(**step)
    assert reply.slots["outcome"] == "confirmed"
    (link,) = [c for c in reply.choices if c.url]
    assert link.label == "カレンダーに追加"
    assert len(link.url) <= 1000  # LINE's limit for a uri action
    query = google_query(link.url)
    assert query["action"] == "TEMPLATE"
    assert query["dates"] == "20261205T010000Z/20261205T030000Z"  # 10:00-12:00 in Kamakura
    assert query["text"] == TITLE
    assert query["location"] == "由比ヶ浜"
    assert query["details"].startswith(f"主催：{GROUP}\n")
    # 「予約確認」 offers the same link on the sign-up's card, after its cancel button
    (card,) = me(payload="mine").cards
    assert [b.url for b in card.buttons] == ["", link.url]


def test_a_long_call_still_fits_lines_uri_limit() -> None:
    long_entry = CalendarEntry(
        "あ" * 60, START, START + timedelta(hours=2), "い" * 100, "う" * 400 + "\n" + "え" * 400
    )
    url = google_calendar_url(long_entry)
    assert len(url) <= 1000
    query = google_query(url)
    assert query["text"] == "あ" * 60  # the title is kept whole; the note and place give way
    assert query["dates"] == "20261205T010000Z/20261205T030000Z"
    assert query.get("details", "…").endswith("…")


def _link_reply() -> Reply:
    link = Choice("カレンダーに追加", "cal:7", url=google_calendar_url(
        CalendarEntry(TITLE, START, START + timedelta(hours=2), "由比ヶ浜", "主催：海の会")
    ))  # fmt: skip
    card = Card(TITLE, "🗓 12月5日(土) 10:00〜12:00", (Choice("キャンセルする", "mc:7"), link))
    return Reply("申し込みました", "sign_up", choices=[link, Choice("メニュー", "menu")],
                 cards=[card])  # fmt: skip


def test_line_renders_a_link_as_uri_actions_the_sdk_and_the_fake_accept() -> None:
    reply = _link_reply()
    messages = line_render.render(reply)
    assert check_messages(messages) == []
    ReplyMessageRequest.from_dict({"replyToken": "t", "messages": messages})
    for message in messages:
        assert Message.from_dict(message).to_dict() == message
    url = reply.choices[0].url
    quick = messages[-1]["quickReply"]["items"]
    assert quick[0]["action"] == {"type": "uri", "label": "カレンダーに追加", "uri": url}
    assert quick[1]["action"]["type"] == "postback"
    footer = messages[-1]["contents"]["contents"][0]["footer"]["contents"]
    assert [b["action"]["type"] for b in footer] == ["postback", "uri"]
    assert footer[1]["action"]["uri"] == url


async def test_line_sends_the_calendar_link_of_a_sign_up(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    fake = FakeLine()
    api = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'line.db'}", sample_groups=False, fixed_now=NOW,
        line_channel_secret=LINE_SECRET, line_channel_access_token=fake.token,
        line_api_base_url=str(api.make_url("")).rstrip("/"),
    )  # fmt: skip
    bot = await aiohttp_client(create_app(settings))
    store = bot.server.app[conversation_key].store
    _, call_id = make_call(store)
    signed_up_person(store, "line", "Uhana", call_id)
    assert await post_line(bot, ev.body(ev.text("Uhana", "予約確認"))) == 200
    (sent,) = await fake.wait_for(1)
    assert fake.rejected == []
    (bubble,) = sent.messages[-1]["contents"]["contents"]
    actions = [b["action"] for b in bubble["footer"]["contents"]]
    assert actions[1]["type"] == "uri"
    assert google_query(actions[1]["uri"])["dates"] == "20261205T010000Z/20261205T030000Z"


def test_telegram_renders_a_link_as_a_url_button() -> None:
    reply = _link_reply()
    ((_, keyboard),) = telegram_adapter.render(reply)
    assert keyboard is not None
    rows = keyboard.to_dict()["inline_keyboard"]
    assert rows[0] == [
        {"text": "①キャンセルする", "callback_data": "mc:7"},
        {"text": "①カレンダーに追加", "url": reply.choices[0].url},
    ]
    assert rows[1][0] == {"text": "カレンダーに追加", "url": reply.choices[0].url}


async def test_telegram_sends_the_calendar_link_of_a_sign_up(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    from tests.test_telegram import SECRET as TELEGRAM_SECRET

    fake = FakeTelegram()
    api = await aiohttp_server(fake.app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}", sample_groups=False, fixed_now=NOW,
        telegram_bot_token=fake.token, telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=str(api.make_url("")).rstrip("/"),
    )  # fmt: skip
    bot = await aiohttp_client(create_app(settings))
    store = bot.server.app[conversation_key].store
    _, call_id = make_call(store)
    signed_up_person(store, "telegram", "31", call_id)
    assert await send_telegram(bot, telegram_message(31, "予約確認")) == 200
    await fake.wait_for("sendMessage", 1)
    (sent,) = fake.sent()
    buttons = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    (link,) = [b for b in buttons if "url" in b]
    assert link["text"] == "①カレンダーに追加"
    assert google_query(link["url"])["dates"] == "20261205T010000Z/20261205T030000Z"


# --- text-only channels and kept replies ---------------------------------------------------------


def test_a_link_is_written_out_and_never_numbered(conversation: Conversation) -> None:
    reply = _link_reply()
    url = reply.choices[0].url
    plain = reply.as_plain_text()
    assert f"カレンダーに追加: {url}" in plain
    assert "[1] キャンセルする" in plain
    assert "[2] メニュー" in plain  # the link takes no number: [n] is always a tap
    assert [b.payload for b in reply.buttons()] == ["mc:7", "menu"]
    again = Reply.from_kept(reply.kept())  # a reply kept for a crash keeps its links
    assert again.choices == reply.choices
    assert again.cards == reply.cards

    _, call_id = make_call(conversation.store)
    me = lambda **said: conversation.handle(Inbound("cli", "hana", **said))  # noqa: E731
    done = me(payload=f"os:{call_id}")
    for step in SIGN_UP_STEPS:
        done = me(**step)
    assert "カレンダーに追加: https://calendar.google.com/" in done.as_plain_text()
    assert me(text="1").intent == "my_sign_ups"  # [1] is 予約確認, the first tap


def test_a_link_must_be_https_and_short_enough() -> None:
    for url in ("http://calendar.google.com/", "javascript:alert(1)", "https://x/" + "a" * 1000):
        with pytest.raises(ValueError, match="https"):
            Choice("カレンダーに追加", "cal:1", url=url)


# --- the web chat page, in a real browser at phone size ------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m bot serve`` on a new database with one open call and no sample groups."""
    from bot.config import Settings
    from bot.runtime import open_conversation

    url = f"sqlite:///{tmp_path_factory.mktemp('calendar_page') / 'page.db'}"
    conversation = open_conversation(Settings(database_url=url, sample_groups=False))
    open_call(conversation.store, ("web", "rep"), title="浜そうじ（カレンダー試験）", days_ahead=4)
    conversation.store.close()
    with serving(url, SAMPLE_GROUPS="0") as base:
        yield base


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian chromium is not installed (apt-get install chromium); CI installs it",
)
def test_the_page_shows_a_calendar_link_that_downloads_the_ics(
    browser: Any, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 375, "height": 667}, locale="ja-JP", has_touch=True, is_mobile=True,
        accept_downloads=True,
    )  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/")
    bot_says = page.locator("#log .msg.bot")
    bot_says.first.wait_for()

    def then(act: Callable[[], None]) -> None:  # act, and wait for the bot's answer to it
        count = bot_says.count()
        act()
        bot_says.nth(count).wait_for()

    def type_in(text: str) -> None:
        page.locator("#text").fill(text)
        page.locator("#text").press("Enter")

    then(lambda: type_in("由比ヶ浜のボランティア"))
    card = page.locator("#log .card", has_text="浜そうじ（カレンダー試験）").last
    then(lambda: card.get_by_role("button", name="申し込む").tap())
    for act in (
        lambda: page.locator("#choices").get_by_role("button", name="同意する").tap(),
        lambda: type_in("山田はな"),
        lambda: type_in("hana@example.jp"),
        lambda: page.locator("#choices").get_by_role("button", name="30〜64歳").tap(),
        lambda: page.locator("#choices").get_by_role("button", name="申し込む").tap(),
    ):
        then(act)
    expect(bot_says.last).to_contain_text("申し込みました")
    link = page.locator("#choices").get_by_role("link", name="カレンダーに追加")
    expect(link).to_be_visible()
    assert re.fullmatch(r"/calendar/[0-9]+-[0-9a-f]{32}\.ics", link.get_attribute("href") or "")
    assert link.get_attribute("rel") == "noopener"
    artifacts = ROOT / "var" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / "chat-calendar-link-phone.png"))
    box = link.bounding_box()
    assert box is not None
    assert box["height"] >= 36  # as easy to tap as the other choices
    with page.expect_download() as download:
        link.tap()
    saved = tmp_path / "event.ics"
    download.value.save_as(saved)
    (event,) = parse_ics(saved.read_bytes())
    assert event["SUMMARY"] == "浜そうじ（カレンダー試験）"
    assert event["LOCATION"] == "由比ガ浜"
    assert errors == []
    context.close()
