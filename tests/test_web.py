"""The web chat through the real aiohttp app."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.server import create_app


async def _client(aiohttp_client: object, tmp_path: Path) -> TestClient:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}"))
    return await aiohttp_client(app)  # type: ignore[operator,no-any-return]


async def test_page_and_chat(aiohttp_client: object, tmp_path: Path) -> None:
    client = await _client(aiohttp_client, tmp_path)
    page = await client.get("/")
    assert page.status == 200
    assert "つながる鎌倉" in await page.text()
    res = await client.post("/api/chat", json={"text": "補償制度って何"})
    body = await res.json()
    assert res.status == 200
    assert body["intent"] == "faq"
    assert body["source"].startswith("指針 6(2)")
    # the same person (the cookie GET / set) taps a button of the reply
    tapped = await client.post("/api/chat", json={"payload": body["choices"][0]["payload"]})
    assert (await tapped.json())["intent"] == "faq"


async def test_bad_requests_are_refused_kindly(aiohttp_client: object, tmp_path: Path) -> None:
    client = await _client(aiohttp_client, tmp_path)
    for body in (
        b"not json",
        b"[]",
        b'{"text": 5}',
        b'{"text": "x", "payload": ["menu"]}',
    ):
        res = await client.post(
            "/api/chat", data=body, headers={"Content-Type": "application/json"}
        )
        assert res.status == 400
        assert "error" in await res.json()
    huge = await client.post(
        "/api/chat", data=b"x" * 200_000, headers={"Content-Type": "application/json"}
    )
    assert huge.status == 413
    assert "error" in await huge.json()


async def test_healthz(aiohttp_client: object, tmp_path: Path) -> None:
    client = await _client(aiohttp_client, tmp_path)
    res = await client.get("/healthz")
    assert res.status == 200
    assert (await res.json())["status"] == "ok"


async def test_the_last_reply_comes_back_after_a_reload(
    aiohttp_client: object, tmp_path: Path
) -> None:
    client = await _client(aiohttp_client, tmp_path)
    nobody = await client.get("/api/last-reply")  # no cookie: nobody to look up
    assert nobody.status == 200
    assert await nobody.json() == {"reply": None}
    await client.get("/")  # the page sets the person's cookie
    assert await (await client.get("/api/last-reply")).json() == {"reply": None}  # nothing said
    asked = await (await client.post("/api/chat", json={"payload": "gs"})).json()
    assert asked["choices"]  # 分野を選んでください, with a button per field
    again = await client.get("/api/last-reply")
    assert again.headers["Cache-Control"] == "no-store"
    shown = (await again.json())["reply"]
    assert shown["message"] == asked["message"]
    assert shown["choices"] == asked["choices"]
    # the form goes on from the restored buttons, and the newest reply is the one kept
    tapped = await (await client.post("/api/chat", json=asked["choices"][0])).json()
    assert (await (await client.get("/api/last-reply")).json())["reply"]["message"] == (
        tapped["message"]
    )
    client.session.cookie_jar.clear()  # a stranger (no cookie, or a forged one) gets nothing
    forged = {"tsunagaru_chat": "0" * 32 + "." + "0" * 64}
    assert await (await client.get("/api/last-reply", cookies=forged)).json() == {"reply": None}


async def test_page_words_and_favicon(aiohttp_client: object, tmp_path: Path) -> None:
    from knowledge.messages import Messages

    client = await _client(aiohttp_client, tmp_path)
    words = await (await client.get("/api/words")).json()
    messages = Messages.load()
    assert words["ja"]["typing"] == messages.get("web_typing", "ja")
    assert words["en"]["send"] == messages.get("web_send", "en") == "Send"
    assert set(words["ja"]) == set(words["en"]) >= {"title", "placeholder", "error", "other"}
    icon = await client.get("/favicon.ico")
    assert icon.status == 200
    assert icon.content_type == "image/svg+xml"
    assert (await icon.read()).startswith(b"<svg")
    assert "default-src 'self'" in icon.headers["Content-Security-Policy"]


async def test_the_page_s_words_live_in_messages_toml(
    aiohttp_client: object, tmp_path: Path
) -> None:
    """chat.html and chat.js carry no words of their own: the page comes with the Japanese
    ones filled in, and the script takes every language's from /api/words."""
    import re

    from bot.adapters.web import STATIC
    from knowledge.messages import Messages

    for name in ("chat.html", "chat.js"):
        code = (STATIC / name).read_text(encoding="utf-8")
        code = re.sub(r"//[^\n]*|<!--.*?-->", "", code)  # comments may quote a word
        assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", code), name
    client = await _client(aiohttp_client, tmp_path)
    page = await (await client.get("/")).text()
    messages = Messages.load()
    assert f"<title>{messages.get('web_title', 'ja')}</title>" in page
    assert f'placeholder="{messages.get("web_placeholder", "ja")}"' in page
    assert f'data-error="{messages.get("web_unreachable", "ja")}"' in page  # if /api/words fails
    assert "{{" not in page
