"""The console's sign-in and sessions (issue 15), through the real aiohttp app and the real
CLI, on SQLite and PostgreSQL: sessions the server can end (sign-out, a new password, a
disabled account), ``Secure`` cookies behind https, a sign-in that does not tell whether a name
exists or is locked, lock-out a stranger cannot aim at staff, and the staff page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

import storage.staff_accounts
from bot.admin.words import w
from bot.config import Settings
from bot.server import create_app
from storage import Store, create_db_engine, migrate
from storage.staff_accounts import ACCOUNT_LIMIT, ACCOUNT_WIDE_LIMIT, ADDRESS_LIMIT
from tests.test_admin import PASSWORD, AiohttpClient, conv, csrf_of
from tests.test_cli import run

COOKIE = "tsunagaru_staff"
NEW_PASSWORD = "a brand new staff password"


async def _client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    client = await aiohttp_client(create_app(settings))
    for name in ("staff1", "staff2"):
        conv(client).store.create_staff(name, PASSWORD)
    return client


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, db_url: str) -> TestClient:
    """The whole app on a fresh database with two staff accounts."""
    return await _client(aiohttp_client, Settings(database_url=db_url))


@pytest.fixture
async def proxied(aiohttp_client: AiohttpClient, db_url: str) -> TestClient:
    """The app behind a proxy we trust (TRUSTED_PROXY=1)."""
    return await _client(aiohttp_client, Settings(database_url=db_url, trusted_proxy=True))


async def attempt(
    client: TestClient, user: str, password: str, *, via: str | None = None
) -> tuple[int, str]:
    """One sign-in (optionally with ``X-Forwarded-For: via``): its status and page."""
    headers = {"X-Forwarded-For": via} if via else {}
    page = await client.get("/admin/login", headers=headers)
    response = await client.post(
        "/admin/login",
        data={"username": user, "password": password, "csrf": csrf_of(await page.text())},
        headers=headers,
        allow_redirects=False,
    )
    return response.status, await response.text()


def session_cookie(client: TestClient) -> str:
    """The session cookie the browser holds now."""
    return next(c.value for c in client.session.cookie_jar if c.key == COOKIE)


async def as_browser_with(client: TestClient, cookie: str, path: str = "/admin/") -> int:
    """The status of ``path`` for a browser holding only this session cookie."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: cookie})
    response = await client.get(path, allow_redirects=False)
    return response.status


async def post_on(client: TestClient, page_url: str, action: str, **fields: str) -> int:
    """Post ``action`` with the CSRF token of ``page_url``; the status."""
    page = await client.get(page_url)
    response = await client.post(
        action, data={"csrf": csrf_of(await page.text()), **fields}, allow_redirects=False
    )
    return response.status


def staff_id(client: TestClient, name: str) -> int:
    account = conv(client).store.find_staff(name, datetime.now(UTC))
    assert account is not None
    return account.id


# --- sessions the server can end -------------------------------------------------------------


async def test_a_cookie_captured_before_sign_out_is_refused_after(client: TestClient) -> None:
    assert (await attempt(client, "staff1", PASSWORD))[0] == 303
    captured = session_cookie(client)
    assert await as_browser_with(client, captured) == 200
    assert await post_on(client, "/admin/", "/admin/logout") == 303
    assert await as_browser_with(client, captured) == 303  # a copy of the cookie: signed out


async def test_a_password_reset_from_the_cli_ends_every_session(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    db = tmp_path / "console.db"
    client = await _client(aiohttp_client, Settings(database_url=f"sqlite:///{db}"))
    assert (await attempt(client, "staff1", PASSWORD))[0] == 303
    first = session_cookie(client)
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff1", PASSWORD))[0] == 303  # a second browser
    second = session_cookie(client)
    done = run(db, "staff", "reset-password", "staff1", "--password-stdin", stdin=NEW_PASSWORD)
    assert done.returncode == 0, done.stdout + done.stderr
    assert await as_browser_with(client, first) == 303
    assert await as_browser_with(client, second) == 303
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff1", PASSWORD))[0] == 401
    assert (await attempt(client, "staff1", NEW_PASSWORD))[0] == 303


@pytest.mark.parametrize(
    ("public_url", "trusted_proxy", "proto", "secure"),
    [
        ("https://bot.example.jp", False, None, True),
        ("", True, "https", True),
        ("", False, "https", False),  # the header alone is anyone's to send
        ("", True, "http", False),
    ],
)
async def test_secure_cookies_behind_https(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    public_url: str,
    trusted_proxy: bool,
    proto: str | None,
    secure: bool,
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tls.db'}",
        public_url=public_url,
        trusted_proxy=trusted_proxy,
    )
    client = await _client(aiohttp_client, settings)
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    page = await client.get("/admin/login", headers=headers)
    pre = page.cookies["tsunagaru_csrf"]
    assert bool(pre["secure"]) is secure
    # The test talks plain http: the jar keeps a Secure cookie to itself, so send it here.
    signed_in = await client.post(
        "/admin/login",
        data={"username": "staff1", "password": PASSWORD, "csrf": csrf_of(await page.text())},
        headers={**headers, "Cookie": f"tsunagaru_csrf={pre.value}"},
        allow_redirects=False,
    )
    assert signed_in.status == 303
    cookie = signed_in.cookies[COOKIE]
    assert bool(cookie["secure"]) is secure
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin"


# --- a sign-in that tells nothing -------------------------------------------------------------


async def test_unknown_locked_and_disabled_names_answer_like_a_wrong_password(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = conv(client).store
    store.create_staff("staff3", PASSWORD)
    store.set_staff_disabled(staff_id(client, "staff2"), True, datetime.now(UTC))
    for _ in range(ACCOUNT_LIMIT):
        assert (await attempt(client, "staff3", "not the password"))[0] == 401
    checked: list[str] = []
    real = storage.staff_accounts.check_password

    def spy(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(storage.staff_accounts, "check_password", spy)
    answers = {}
    for case, user, password in [
        ("wrong password", "staff1", "not the password"),
        ("unknown name", "nobody", PASSWORD),
        ("disabled", "staff2", PASSWORD),
        ("locked", "staff3", PASSWORD),
    ]:
        before = len(checked)
        answers[case] = await attempt(client, user, password)
        assert len(checked) == before + 1, f"{case}: one scrypt check, like any other"
    assert len(set(answers.values())) == 1, answers  # the same status and the same page
    status, page = answers["locked"]
    assert status == 401
    assert w("login", "wrong", n=ACCOUNT_LIMIT, minutes=15) in page


async def test_failures_from_one_address_do_not_stop_another(proxied: TestClient) -> None:
    attacker, office = "203.0.113.5", "198.51.100.7"
    for n in range(ADDRESS_LIMIT):
        status, _ = await attempt(proxied, "staff1", f"guess {n}", via=attacker)
        assert status == 401
    via = {"X-Forwarded-For": attacker}
    page = await proxied.get("/admin/login", headers=via)
    throttled = await proxied.post(
        "/admin/login",
        data={"username": "staff1", "password": PASSWORD, "csrf": csrf_of(await page.text())},
        headers=via,
    )
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "900"
    assert (await attempt(proxied, "staff1", PASSWORD, via=attacker))[0] == 429
    assert (await attempt(proxied, "staff2", PASSWORD, via=attacker))[0] == 429  # any name
    assert (await attempt(proxied, "staff1", PASSWORD, via=office))[0] == 303


async def test_a_spoofed_first_hop_does_not_make_a_new_client(proxied: TestClient) -> None:
    """Behind the proxy, the client is the hop the proxy appended: what the client put
    before it is not believed."""
    for n in range(ADDRESS_LIMIT):
        spoofed = f"10.0.0.{n}, 203.0.113.5"
        assert (await attempt(proxied, f"name{n}", "x" * 12, via=spoofed))[0] == 401
    assert (await attempt(proxied, "staff1", PASSWORD, via="10.9.9.9, 203.0.113.5"))[0] == 429


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(client: TestClient) -> None:
    for n in range(ADDRESS_LIMIT):
        status, _ = await attempt(client, f"name{n}", "x" * 12, via=f"192.0.2.{n}")
        assert status == 401
    assert (await attempt(client, "staff1", PASSWORD, via="192.0.2.200"))[0] == 429


async def test_an_ipv6_client_counts_as_its_64(proxied: TestClient) -> None:
    for n in range(ADDRESS_LIMIT):
        via = f"2001:db8:1:2::{n + 1:x}"
        assert (await attempt(proxied, "staff1", "x" * 12, via=via))[0] == 401
    assert (await attempt(proxied, "staff2", PASSWORD, via="2001:db8:1:2:ff::1"))[0] == 429
    assert (await attempt(proxied, "staff2", PASSWORD, via="2001:db8:1:3::1"))[0] == 303


def test_a_guess_spread_over_many_addresses(store: Store) -> None:
    """Many addresses failing on one name lock it for new addresses, not for one that has
    signed in to it before; unlocking clears it."""
    store.create_staff("staff1", PASSWORD)
    now = datetime.now(UTC)
    assert store.login("staff1", PASSWORD, "192.0.2.1", now).outcome == "ok"  # the office
    per_address = ADDRESS_LIMIT
    for a in range(ACCOUNT_WIDE_LIMIT // per_address):
        for n in range(per_address):
            result = store.login("staff1", f"guess {n}", f"198.51.100.{a}", now)
            assert result.outcome == "bad"
    (account,) = store.staff_accounts(now)
    assert account.locked
    assert store.login("staff1", PASSWORD, "203.0.113.9", now).outcome == "bad"
    assert store.login("staff1", PASSWORD, "192.0.2.1", now).outcome == "ok"
    assert store.unlock_staff(account.id)
    assert store.login("staff1", PASSWORD, "203.0.113.9", now).outcome == "ok"


def test_a_lock_lasts_15_minutes_and_a_success_clears_it(store: Store) -> None:
    store.create_staff("staff1", PASSWORD)
    now = datetime.now(UTC)
    for _ in range(ACCOUNT_LIMIT):
        assert store.login("staff1", "not it", "192.0.2.1", now).outcome == "bad"
    assert store.login("staff1", PASSWORD, "192.0.2.1", now).outcome == "bad"
    assert store.find_staff("staff1", now).locked  # type: ignore[union-attr]
    later = now + timedelta(minutes=16)
    assert not store.find_staff("staff1", later).locked  # type: ignore[union-attr]
    assert store.login("staff1", PASSWORD, "192.0.2.1", later).outcome == "ok"
    for _ in range(ACCOUNT_LIMIT - 1):
        assert store.login("staff1", "not it", "192.0.2.1", later).outcome == "bad"
    assert store.login("staff1", PASSWORD, "192.0.2.1", later).outcome == "ok"
    # the success forgot those four: four more do not lock
    for _ in range(ACCOUNT_LIMIT - 1):
        assert store.login("staff1", "not it", "192.0.2.1", later).outcome == "bad"
    assert store.login("staff1", PASSWORD, "192.0.2.1", later).outcome == "ok"


# --- sessions in storage ----------------------------------------------------------------------


def test_sessions_end_after_8_hours_and_after_2_idle_hours(store: Store) -> None:
    store.create_staff("staff1", PASSWORD)
    t0 = datetime.now(UTC)
    token = store.login("staff1", PASSWORD, "192.0.2.1", t0).session
    assert token
    for hour in range(1, 8):  # used every hour: never idle, but not for ever
        assert store.staff_session(token, t0 + timedelta(hours=hour)) is not None
    assert store.staff_session(token, t0 + timedelta(hours=8)) is None
    idle = store.login("staff1", PASSWORD, "192.0.2.1", t0).session
    assert idle
    assert store.staff_session(idle, t0 + timedelta(hours=1, minutes=59)) is not None
    assert store.staff_session(idle, t0 + timedelta(hours=3, minutes=59)) is None
    assert store.staff_session("not-a-session", t0) is None


def test_a_session_ended_in_one_process_ends_in_the_other(store: Store, db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine)
    other = Store(engine)  # a second serve process on the same database
    try:
        store.create_staff("staff1", PASSWORD)
        now = datetime.now(UTC)
        token = store.login("staff1", PASSWORD, "192.0.2.1", now).session
        kept = store.login("staff1", PASSWORD, "192.0.2.1", now).session
        assert token
        assert kept
        signed_in = other.staff_session(token, now)
        assert signed_in is not None
        assert signed_in.username == "staff1"
        store.end_staff_session(token, now)
        assert other.staff_session(token, now) is None
        assert other.staff_session(kept, now) is not None
        assert other.set_staff_password(signed_in.user_id, NEW_PASSWORD, now)
        assert store.staff_session(kept, now) is None
        assert store.login("staff1", PASSWORD, "192.0.2.1", now).outcome == "bad"
        assert store.login("staff1", NEW_PASSWORD, "192.0.2.1", now).outcome == "ok"
    finally:
        other.close()


# --- the staff page --------------------------------------------------------------------------


async def test_disabling_an_account_ends_its_sessions_at_once(client: TestClient) -> None:
    assert (await attempt(client, "staff2", PASSWORD))[0] == 303
    theirs = session_cookie(client)
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff1", PASSWORD))[0] == 303
    mine = session_cookie(client)
    other, me = staff_id(client, "staff2"), staff_id(client, "staff1")
    assert await post_on(client, "/admin/staff", f"/admin/staff/{other}/disable") == 303
    page = await (await client.get("/admin/staff")).text()
    assert w("staff", "disabled") in page
    assert f"/admin/staff/{me}/disable" not in page  # no button to disable oneself
    assert await post_on(client, "/admin/staff", f"/admin/staff/{me}/disable") == 400
    assert await as_browser_with(client, theirs) == 303
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff2", PASSWORD))[0] == 401
    assert await as_browser_with(client, mine) == 200  # still signed in: not disabled
    assert await post_on(client, "/admin/staff", f"/admin/staff/{other}/enable") == 303
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff2", PASSWORD))[0] == 303
    actions = [(a.actor, a.action, a.detail) for a in conv(client).store.audit_log()]
    assert ("staff1", "staff_disabled", w("staff", "audit_disabled", user="staff2")) in actions
    assert ("staff1", "staff_enabled", w("staff", "audit_enabled", user="staff2")) in actions


async def test_staff_page_resets_passwords_and_unlocks(client: TestClient) -> None:
    for _ in range(ACCOUNT_LIMIT):
        assert (await attempt(client, "staff2", "not the password"))[0] == 401
    assert (await attempt(client, "staff1", PASSWORD))[0] == 303
    other = staff_id(client, "staff2")
    page = await (await client.get("/admin/staff")).text()
    assert "staff2" in page
    assert w("staff", "locked") in page
    assert w("staff", "never") in page  # staff2 has never signed in
    no_token = await client.post(f"/admin/staff/{other}/unlock", allow_redirects=False)
    assert no_token.status == 403
    assert await post_on(client, "/admin/staff", f"/admin/staff/{other}/unlock") == 303
    assert w("staff", "locked") not in await (await client.get("/admin/staff")).text()
    short = await post_on(
        client, "/admin/staff", f"/admin/staff/{other}/password", password="short"
    )
    assert short == 400
    page = await (await client.get("/admin/staff")).text()
    shown = await client.post(
        f"/admin/staff/{other}/password", data={"csrf": csrf_of(page), "password": ""}
    )
    assert shown.status == 200
    assert shown.headers["Cache-Control"] == "no-store"
    generated = re.search(r'class="code">([^<]+)<', await shown.text())
    assert generated
    mine = session_cookie(client)
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff2", PASSWORD))[0] == 401  # the old one is gone
    assert (await attempt(client, "staff2", generated.group(1)))[0] == 303
    assert await as_browser_with(client, mine) == 200
    typed = await post_on(
        client, "/admin/staff", f"/admin/staff/{other}/password", password=NEW_PASSWORD
    )
    assert typed == 200
    client.session.cookie_jar.clear()
    assert (await attempt(client, "staff2", NEW_PASSWORD))[0] == 303
    details = {(a.action, a.detail) for a in conv(client).store.audit_log()}
    assert {
        ("staff_unlocked", w("staff", "audit_unlocked", user="staff2")),
        ("staff_password_reset", w("staff", "audit_password_generated", user="staff2")),
        ("staff_password_reset", w("staff", "audit_password_typed", user="staff2")),
    } <= details
