"""The console never destroys data without asking (issue 14), through the real aiohttp app on
SQLite and PostgreSQL: adding a group keeps the sample directory, an existing key is refused,
removing the samples is its own confirmed action that tells the people affected, and a
broadcast's form token sends it once, however often (or however concurrently) it is posted."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select

from bot.admin.words import w
from bot.config import Settings
from bot.server import create_app
from storage import Store, create_db_engine, migrate
from storage.models import (
    AuditEntry,
    Group,
    OutboxMessage,
    RecruitmentCall,
    Representative,
    SignUp,
)
from storage.openings import CallDraft
from tests.helpers import in_threads, told
from tests.test_admin import PASSWORD, AiohttpClient, conv, csrf_of, sign_in

SAMPLES = 42  # rows of knowledge/sample_groups.csv
SAMPLE_CALLS, SAMPLE_SIGN_UPS = 6, 8  # knowledge/sample_calls.toml: the demo's calls, sign-ups


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, db_url: str) -> TestClient:
    """The whole app on a fresh database (the sample directory loaded), a staff member."""
    test_client = await aiohttp_client(create_app(Settings(database_url=db_url)))
    conv(test_client).store.create_staff("staff1", PASSWORD)
    await sign_in(test_client)
    return test_client


def _store(client: TestClient) -> Store:
    return conv(client).store


def _count(store: Store, model: type, *where: Any) -> int:
    with store.session() as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


def _samples(store: Store) -> int:
    return _count(store, Group, col(Group.is_sample))


def _link(store: Store, group_key: str, user: str) -> int:
    """A representative linked to the group by invite code; returns the user id."""
    rep = store.touch_user("line", user, "ja").id
    issued = store.issue_invite(group_key)
    assert issued is not None
    assert store.redeem_invite(rep, issued[0])[0] == "linked"
    return rep


def _call(store: Store, rep: int, group_key: str, title: str, volunteers: list[str]) -> int:
    """An open call of the group in three days, with these volunteers signed up."""
    group_id = next(g for g, _, _ in store.represented_groups(rep) if _key(store, g) == group_key)
    start = datetime.now(UTC) + timedelta(days=3)
    draft = CallDraft(title, "説明", "environment", "kamakura", "由比ガ浜", "駅前",
                      start, start + timedelta(hours=2), 10)  # fmt: skip
    call_id = store.create_call(rep, group_id, draft)
    assert call_id is not None
    for name in volunteers:
        user = store.touch_user("line", name, "ja").id
        store.save_profile(user, name=name, contact=f"{name}@example.jp", age_group="adult",
                           consent_at=datetime.now(UTC))  # fmt: skip
        assert store.sign_up(user, call_id, datetime.now(UTC)).outcome == "confirmed"
    return call_id


def _key(store: Store, group_id: int) -> str:
    group = store.get_group(group_id)
    assert group is not None
    return group.key


def _user(store: Store, name: str) -> int:
    return store.touch_user("line", name, "ja").id


async def _post(client: TestClient, page_url: str, action: str, **fields: str) -> tuple[int, str]:
    page = await client.get(page_url)
    response = await client.post(
        action, data={"csrf": csrf_of(await page.text()), **fields}, allow_redirects=False
    )
    return response.status, await response.text()


def _new_group(key: str, name: str) -> dict[str, str]:
    return {"key": key, "name": name, "fields": "environment", "areas": "koshigoe",
            "description": "浜の清掃", "contact": "info@example.jp", "verified": "1"}  # fmt: skip


def _sample_world(store: Store) -> dict[str, int]:
    """Two sample calls (three sign-ups, one volunteer on both), one representative linked to
    two sample groups; returns the user ids."""
    rep = _link(store, "sample-001", "Urep-sample")
    _link_again(store, rep, "sample-002")
    _call(store, rep, "sample-001", "サンプル浜そうじ", ["Uvol-a", "Uvol-b"])
    _call(store, rep, "sample-002", "サンプル花植え", ["Uvol-a"])
    return {"rep": rep, "a": _user(store, "Uvol-a"), "b": _user(store, "Uvol-b")}


def _link_again(store: Store, rep: int, group_key: str) -> None:
    issued = store.issue_invite(group_key)
    assert issued is not None
    assert store.redeem_invite(rep, issued[0])[0] == "linked"


# --- groups ----------------------------------------------------------------------------------


async def test_adding_one_group_keeps_every_sample(client: TestClient) -> None:
    store = _store(client)
    assert _samples(store) == SAMPLES
    _sample_world(store)
    before = (_count(store, RecruitmentCall), _count(store, SignUp), _count(store, Representative))
    status, _ = await _post(
        client, "/admin/groups/new", "/admin/groups/new", **_new_group("real-1", "本物の会")
    )
    assert status == 303
    assert _samples(store) == SAMPLES
    after = (_count(store, RecruitmentCall), _count(store, SignUp), _count(store, Representative))
    assert after == before == (2 + SAMPLE_CALLS, 3 + SAMPLE_SIGN_UPS, 2)
    assert [g.key for g in store.all_groups()] == ["real-1"]
    # Verifying or editing a group is no reason to drop the samples either.
    real = store.all_groups()[0]
    status, _ = await _post(client, "/admin/groups", f"/admin/groups/{real.id}/verify")
    assert status == 303
    sample = next(g for g in store.all_groups(include_samples=True) if g.key == "sample-003")
    status, _ = await _post(
        client, f"/admin/groups/{sample.id}", f"/admin/groups/{sample.id}",
        **_new_group("sample-003", "名前を直したサンプル（サンプル）"),
    )  # fmt: skip
    assert status == 303
    edited = store.get_group(sample.id)
    assert edited is not None
    assert (edited.name, edited.is_sample) == ("名前を直したサンプル（サンプル）", True)
    assert _samples(store) == SAMPLES
    assert _count(store, SignUp) == 3 + SAMPLE_SIGN_UPS
    assert not any(told(store, u) for u in (_user(store, "Uvol-a"), _user(store, "Uvol-b")))


@pytest.mark.parametrize("key", ["real-1", "sample-001"])
async def test_adding_an_existing_key_is_refused_and_changes_nothing(
    client: TestClient, key: str
) -> None:
    store = _store(client)
    await _post(client, "/admin/groups/new", "/admin/groups/new", **_new_group("real-1", "本物"))
    (before,) = [g for g in store.all_groups(include_samples=True) if g.key == key]
    status, html = await _post(
        client, "/admin/groups/new", "/admin/groups/new",
        key=key, name="上書きの会", fields="children", areas="ofuna", contact="x@example.jp",
    )  # fmt: skip
    assert status == 409
    assert w("groups", "key_taken", key=key) in html
    assert f'href="/admin/groups/{before.id}"' in html  # the way to change it: edit that group
    assert 'value="上書きの会"' in html  # what was typed is kept on the form
    assert store.get_group(before.id) == before
    assert _samples(store) == SAMPLES
    assert [a.action for a in store.audit_log()].count("group_saved") == 1  # the first add


async def test_csv_import_keeps_the_samples_and_says_what_it_updated(client: TestClient) -> None:
    from aiohttp import FormData

    store = _store(client)
    _sample_world(store)
    await _post(client, "/admin/groups/new", "/admin/groups/new", **_new_group("real-1", "旧名"))
    page = await (await client.get("/admin/groups")).text()
    form = FormData()
    form.add_field("csrf", csrf_of(page))
    csv_bytes = "key,name,fields,areas\nreal-1,新名の会,子ども,大船\nimp-2,取込の会,環境,\n"
    form.add_field("file", csv_bytes.encode(), filename="dir.csv", content_type="text/csv")
    response = await client.post("/admin/groups/import", data=form)
    html = await response.text()
    assert response.status == 200
    assert _samples(store) == SAMPLES
    assert _count(store, SignUp) == 3 + SAMPLE_SIGN_UPS
    assert w("groups", "import_done", created=1, updated=1, encoding="UTF-8") in html
    assert "real-1" in html  # the group whose details the file replaced is named
    assert w("groups", "import_samples_kept", n=SAMPLES) in html


# --- removing the sample directory --------------------------------------------------------------


async def test_removing_the_samples_is_asked_counted_told_and_logged(
    client: TestClient,
) -> None:
    store = _store(client)
    people = _sample_world(store)
    await _post(client, "/admin/groups/new", "/admin/groups/new", **_new_group("real-1", "本物"))
    real_rep = _link(store, "real-1", "Urep-real")
    real_call = _call(store, real_rep, "real-1", "本物の浜そうじ", ["Uvol-c"])

    groups_page = await (await client.get("/admin/groups")).text()
    assert 'href="/admin/groups/samples"' in groups_page  # the button, while samples exist
    confirm = await client.get("/admin/groups/samples")
    assert confirm.status == 200
    html = await confirm.text()
    # The sample people's sign-ups go too, and nobody is told about them (3 real people).
    for key, n in (("count_groups", SAMPLES), ("count_calls", 2 + SAMPLE_CALLS),
                   ("count_sign_ups", 3 + SAMPLE_SIGN_UPS), ("count_links", 2),
                   ("count_people", 3)):  # fmt: skip
        assert w("samples", key, n=n) in html, key
    assert _samples(store) == SAMPLES  # looking changes nothing

    forged = await client.post("/admin/groups/samples/remove", data={"csrf": "0" * 64})
    assert forged.status == 403
    assert _samples(store) == SAMPLES

    response = await client.post(
        "/admin/groups/samples/remove", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert response.status == 303
    assert _samples(store) == 0
    assert [g.key for g in store.all_groups(include_samples=True)] == ["real-1"]
    assert _count(store, RecruitmentCall) == 1
    assert store.get_call(real_call) is not None
    assert _count(store, SignUp) == 1  # Uvol-c's
    assert _count(store, Representative) == 1  # Urep-real's

    (to_a,) = told(store, people["a"])  # one message naming both calls
    assert "サンプル浜そうじ" in to_a
    assert "サンプル花植え" in to_a
    (to_b,) = told(store, people["b"])
    assert "サンプル浜そうじ" in to_b
    (to_rep,) = told(store, people["rep"])
    assert "大船こども食堂ネット（サンプル）" in to_rep
    assert told(store, _user(store, "Uvol-c")) == []
    assert told(store, real_rep) == []

    with store.session() as s:
        entry = s.exec(select(AuditEntry).where(col(AuditEntry.action) == "samples_removed")).one()
    assert entry.actor == "staff1"
    assert entry.detail == w(
        "samples", "audit", groups=SAMPLES, calls=2 + SAMPLE_CALLS,
        sign_ups=3 + SAMPLE_SIGN_UPS, links=2, people=3,
    )  # fmt: skip
    groups_page = await (await client.get("/admin/groups")).text()
    assert 'href="/admin/groups/samples"' not in groups_page

    again = await client.post(
        "/admin/groups/samples/remove", data={"csrf": csrf_of(html)}, allow_redirects=False
    )
    assert again.status == 303
    assert len(told(store, people["a"])) == 1  # a second confirm tells nobody again


# --- broadcasts -------------------------------------------------------------------------------


async def _preview(client: TestClient, text: str) -> str:
    form = await (await client.get("/admin/broadcast")).text()
    response = await client.post(
        "/admin/broadcast/preview",
        data={"csrf": csrf_of(form), "text": text, "field": "", "area": "",
              "token": _token(form)},
    )  # fmt: skip
    assert response.status == 200
    return await response.text()


def _token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, "the broadcast form carries a one-time token"
    return found.group(1)


def _send_form(preview: str, text: str) -> dict[str, str]:
    return {"csrf": csrf_of(preview), "token": _token(preview), "text": text,
            "field": "", "area": ""}  # fmt: skip


def _broadcasts_to(store: Store, user_id: int, text: str) -> int:
    return sum(text in n for n in told(store, user_id))


async def test_a_broadcast_posted_twice_is_sent_once(client: TestClient) -> None:
    store = _store(client)
    users = [_user(store, "Ua"), _user(store, "Ub")]
    text = "清掃の日のお知らせ"
    preview = await _preview(client, text)
    first = await client.post("/admin/broadcast/send", data=_send_form(preview, text))
    assert first.status == 200
    first_html = await first.text()
    assert w("broadcast", "sent", n=2) in first_html
    await asyncio.sleep(1.1)  # browser Back, then 送る again, a moment later
    second = await client.post("/admin/broadcast/send", data=_send_form(preview, text))
    assert second.status == 200
    assert w("broadcast", "already_sent_title") in await second.text()
    assert [_broadcasts_to(store, u, text) for u in users] == [1, 1]


async def test_two_concurrent_posts_of_one_token_send_once(client: TestClient) -> None:
    store = _store(client)
    users = [_user(store, f"U{i}") for i in range(5)]
    preview = await _preview(client, "同時に押した")
    form = _send_form(preview, "同時に押した")
    responses = await asyncio.gather(
        *(client.post("/admin/broadcast/send", data=form) for _ in range(4))
    )
    pages = [await r.text() for r in responses]
    assert all(r.status == 200 for r in responses)
    assert sum(w("broadcast", "sent", n=5) in p for p in pages) == 1
    assert sum(w("broadcast", "already_sent_title") in p for p in pages) == 3
    assert [_broadcasts_to(store, u, "同時に押した") for u in users] == [1] * 5


async def test_past_broadcasts_are_listed_newest_first_with_their_counts(
    client: TestClient,
) -> None:
    store = _store(client)
    _user(store, "Ua")
    preview = await _preview(client, "ひとつめ")
    await client.post("/admin/broadcast/send", data=_send_form(preview, "ひとつめ"))
    _user(store, "Ub")
    preview = await _preview(client, "ふたつめ")
    await client.post("/admin/broadcast/send", data=_send_form(preview, "ふたつめ"))
    html = await (await client.get("/admin/broadcast")).text()
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    listed = [r for r in rows if "ひとつめ" in r or "ふたつめ" in r]
    assert len(listed) == 2
    assert "ふたつめ" in listed[0]
    assert w("broadcast", "people", n=2) in listed[0]
    assert "ひとつめ" in listed[1]
    assert w("broadcast", "people", n=1) in listed[1]
    assert "staff1" in listed[0]
    assert w("broadcast", "audience_everyone") in listed[0]


@pytest.fixture
def migrated(db_url: str) -> Iterator[Store]:
    engine = create_db_engine(db_url)
    migrate(engine)
    store = Store(engine)
    yield store
    store.close()


def test_one_token_wins_among_threads(migrated: Store) -> None:
    """The database, not the page, decides: eight threads with one token, one INSERT wins."""
    store = migrated
    users = [store.touch_user("test", f"u{i}", "ja").id for i in range(3)]
    body = json.dumps({"text": "📣 同時", "choices": []}, ensure_ascii=False)
    results = in_threads(
        8,
        lambda i: store.send_broadcast(
            "tok-1", "同時", body, field=None, area=None, actor=f"s{i}"
        ),
    )
    assert sum(r.first for r in results) == 1  # type: ignore[attr-defined]
    assert {r.broadcast.id for r in results} == {results[0].broadcast.id}  # type: ignore[attr-defined]
    assert all(r.broadcast.recipients == 3 for r in results)  # type: ignore[attr-defined]
    assert [_broadcasts_to(store, u, "同時") for u in users] == [1, 1, 1]
    (listed,) = store.broadcasts()
    assert (listed.token, listed.recipients) == ("tok-1", 3)


def _load_samples(store: Store) -> None:
    from bot import directory_csv
    from knowledge.fields import FieldIndex
    from knowledge.places import PlaceIndex

    assert directory_csv.load_samples_if_empty(store, FieldIndex.load(), PlaceIndex.load())


def test_two_removals_at_once_tell_each_person_once(migrated: Store) -> None:
    """Two staff confirm at the same moment: one removal happens, nobody is told twice."""
    store = migrated
    _load_samples(store)
    people = _sample_world(store)
    results = in_threads(
        4, lambda i: store.remove_samples(lambda a: json.dumps({"text": f"gone {a.names}"}))
    )
    assert sum(r.removed for r in results) == 1  # type: ignore[attr-defined]
    assert _samples(store) == 0
    assert [len(told(store, u)) for u in people.values()] == [1, 1, 1]


def test_nothing_is_removed_when_it_is_not_what_staff_saw(migrated: Store) -> None:
    store = migrated
    _load_samples(store)
    shown = store.sample_directory()
    assert shown.counts == (SAMPLES, 0, 0, 0)
    _sample_world(store)  # a call and sign-ups appear while staff read the page
    result = store.remove_samples(lambda a: "{}", expected=shown.counts)
    assert not result.removed
    assert result.directory.counts == (SAMPLES, 2, 3, 2)
    assert _samples(store) == SAMPLES
    assert _count(store, OutboxMessage) == 0
