"""Prints how fast every page of the staff console answers with a directory of 20,000 groups.

A throw-away database (SQLite, and PostgreSQL when ``TEST_POSTGRES_URL`` answers) is filled
with 20,000 groups, 3,000 calls over two years with 8,000 sign-ups, 300 representatives,
3,000 unanswered questions, 20,000 audit entries, failed deliveries and broadcasts. The real
app is served on loopback (aiohttp's test server), a staff member signs in through the
sign-in form, and every GET page under ``/admin`` the app has (other helpers' pages too) is
fetched, with the list pages' filters, sorts, last pages and folded searches, after two
warm-up rounds. Figures only: the median and p95 of each, no pass or fail.

    .venv/bin/python bench/console.py [--rounds 20] [--sqlite-only] [--only export]

``--only`` keeps the pages whose path holds that text (to look at one page again).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.web import conversation_key
from bot.config import Settings
from bot.server import create_app
from knowledge.fields import FieldIndex
from storage import Store, create_db_engine, migrate
from storage.models import (
    AuditEntry,
    Broadcast,
    OutboxMessage,
    RecruitmentCall,
    SignUp,
    UnansweredQuestion,
    User,
)
from storage.store import GroupRecord
from tests.helpers import throwaway_postgres

GROUPS = 20_000
CALLS = 3_000
SIGN_UPS = 8_000
REPRESENTATIVES = 300
QUESTIONS = 3_000
AUDIT = 20_000
PASSWORD = "bench password for the console"
AREAS = ["kamakura", "koshigoe", "fukasawa", "ofuna", "tamanawa"]
SURNAMES = ["髙橋", "高橋", "山﨑", "佐藤", "鈴木", "ミライ", "みらい", "ﾃｽﾄ", "テスト", "渡邊"]
SEARCHES = {  # what staff type → what it shows of folding
    "search: 1 hit (ﾍﾞﾝﾁ団体19999, half-width)": "ﾍﾞﾝﾁ団体19999",
    "search: 高橋 (finds 髙橋 too)": "高橋",
    "search: ミライ (finds みらい)": "ミライ",
    "search: a contact (e-mail)": "bench-777@example.jp",
    "search: 団体 (every group matches)": "団体",
    "search: nothing matches": "存在しない名前",
}


def _directory(fields: list[str]) -> list[GroupRecord]:
    rng = random.Random(2019)
    records = []
    for i in range(GROUPS):
        areas = () if rng.random() < 0.1 else tuple(rng.sample(AREAS, rng.choice((1, 1, 2))))
        who = SURNAMES[i % len(SURNAMES)]
        records.append(
            GroupRecord(
                key=f"bench-{i:05d}",
                name=f"ベンチ団体{i:05d}（{who}）",
                description=f"ベンチマーク用に生成した団体です。代表 {who}。" * 2,
                fields=tuple(set(rng.choices(fields, k=rng.choice((1, 2, 3))))),
                areas=areas,
                contact=f"bench-{i}@example.jp / 0467-00-{i % 10000:04d}",
                welcomes_newcomers=rng.random() < 0.7,
                welcomes_young=rng.random() < 0.3,
                verified=rng.random() < 0.9,
            )
        )
    return records


def fill(store: Store, fields: list[str]) -> dict[str, int]:
    """The directory, calls, sign-ups, questions, audit entries …; ids the pages need."""
    rng = random.Random(16)
    store.import_groups(_directory(fields))
    group_ids = [g for (g,) in _ids(store, "SELECT id FROM groups ORDER BY id")]
    for n in range(REPRESENTATIVES):
        platform, key = ("line" if n % 2 else "telegram"), f"bench-{n % 200:05d}"
        user = store.touch_user(platform, f"Ubenchrep{n:04d}", "ja").id
        issued = store.issue_invite(key)
        if issued is None:
            raise SystemExit(f"no group {key}")
        store.redeem_invite(user, issued[0])
        if n % 3:  # some names known, some not
            store.set_display_name(platform, f"Ubenchrep{n:04d}", f"代表者{n}")
        store.issue_invite(key)  # one code left open
    now = datetime.now(UTC)
    with store.session() as s:
        s.add_all(
            User(platform="line", platform_user_id=f"Ubenchvol{n:05d}", name=f"参加者{n}",
                 contact=f"vol{n}@example.jp", age_group="30", consent_at=now)
            for n in range(SIGN_UPS)
        )  # fmt: skip
    volunteers = [u for (u,) in _ids(store, "SELECT id FROM users WHERE name IS NOT NULL")]
    with store.session() as s:
        for n in range(CALLS):
            start = now + timedelta(days=rng.randint(-400, 300), hours=rng.randint(0, 12))
            s.add(
                RecruitmentCall(
                    group_id=group_ids[n % 500], title=f"ベンチ募集{n:04d}",
                    description="ベンチマーク用の募集です。" * 5, field=rng.choice(fields),
                    area=rng.choice(AREAS), place="由比ガ浜", meeting_point="駅前",
                    starts_at=start, ends_at=start + timedelta(hours=2), capacity=5,
                    status=rng.choice(("open", "open", "open", "closed", "hidden", "review")),
                    hidden_reason="ベンチ",
                )
            )  # fmt: skip
    call_ids = [c for (c,) in _ids(store, "SELECT id FROM recruitment_calls ORDER BY id")]
    taken: dict[int, int] = {}
    with store.session() as s:
        for n, user in enumerate(volunteers):
            call = call_ids[n % 400]  # crowded calls: waiting lists too
            confirmed = taken.get(call, 0) < 5
            taken[call] = taken.get(call, 0) + (1 if confirmed else 0)
            s.add(
                SignUp(call_id=call, user_id=user, status="confirmed" if confirmed else "waiting")
            )
        s.add_all(
            UnansweredQuestion(
                text=f"ベンチの質問{n % 700}ですか", normalized=f"べんちのしつもん{n % 700}"
            )
            for n in range(QUESTIONS)
        )
        s.add_all(
            AuditEntry(actor="bench", action="group_saved", detail=f"bench-{n:05d}")
            for n in range(AUDIT)
        )
        s.add_all(
            OutboxMessage(user_id=volunteers[n], body='{"text": "ベンチ"}', failed_at=now,
                          attempts=12, last_error="LINE push 400")
            for n in range(200)
        )  # fmt: skip
        s.add_all(
            Broadcast(token=f"bench-{n}", text="ベンチのお知らせ", actor="bench", recipients=n)
            for n in range(50)
        )
    with store.session() as s:
        for call, n in taken.items():
            s.execute(
                RecruitmentCall.__table__.update()  # type: ignore[attr-defined]
                .where(RecruitmentCall.__table__.c.id == call)  # type: ignore[attr-defined]
                .values(taken=n)
            )
    for n in range(5):
        store.create_staff(f"staff{n}", PASSWORD)
    return {"group": group_ids[7], "call": call_ids[7], "staff": 1}


def _ids(store: Store, sql: str) -> list[tuple[int]]:
    from sqlalchemy import text

    with store.session() as s:
        return [(int(r[0]),) for r in s.execute(text(sql)).all()]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def pages(client: TestClient, ids: dict[str, int]) -> tuple[dict[str, str], list[str]]:
    """Every GET page under /admin the app routes (dynamic ones with real ids), the list
    pages' variants and the searches; and the routes it could not fill in."""
    found: dict[str, str] = {}
    skipped = []
    for resource in client.server.app.router.resources():  # type: ignore[attr-defined]
        info = resource.get_info()
        path = info.get("path") or info.get("formatter", "")
        if not path.startswith("/admin") or path in ("/admin/login", "/admin"):
            continue
        if not any(r.method == "GET" for r in resource):
            continue
        filled = re.sub(r"\{id(:[^}]*)?\}", str(_id_for(path, ids)), path)
        if "{" in filled or "None" in filled:
            skipped.append(path)
            continue
        found[filled] = filled
    last = -(-GROUPS // 50)
    found.update({
        "/admin/groups?page=2": "/admin/groups?page=2",
        f"/admin/groups?page={last} (the last)": f"/admin/groups?page={last}",
        "/admin/groups?sort=updated": "/admin/groups?sort=updated",
        "/admin/groups?sort=unverified": "/admin/groups?sort=unverified",
        "/admin/groups?state=unverified": "/admin/groups?state=unverified",
        "/admin/groups?field=children&area=ofuna": "/admin/groups?field=children&area=ofuna",
        "/admin/calls?when=past": "/admin/calls?when=past",
        "/admin/calls?when=all&page=20": "/admin/calls?when=all&page=20",
        "/admin/calls?state=review&when=all": "/admin/calls?state=review&when=all",
        "/admin/calls?when=month": "/admin/calls?when=month",
    })  # fmt: skip
    for label, typed in SEARCHES.items():
        found[label] = "/admin/groups?" + urllib.parse.urlencode({"q": typed})
    return found, skipped


def _id_for(path: str, ids: dict[str, int]) -> int | None:
    for prefix, key in (("/admin/groups/", "group"), ("/admin/calls/", "call"),
                        ("/admin/staff/", "staff")):  # fmt: skip
        if path.startswith(prefix):
            return ids[key]
    return None


async def measure(url: str, label: str, rounds: int, only: str = "") -> None:
    """Fill the database at ``url``, serve the app, sign in and time every page."""
    engine = create_db_engine(url)
    migrate(engine)
    store = Store(engine)
    t = time.perf_counter()
    ids = fill(store, [f.code for f in FieldIndex.load().fields])
    print(f"{label}: filled in {time.perf_counter() - t:.0f} s", flush=True)
    store.close()
    # Built as `python -m bot serve` builds it (its start-up heap frozen).
    app = create_app(Settings(database_url=url, sample_groups=False), freeze_heap=True)
    async with TestClient(TestServer(app)) as client:
        login = await (await client.get("/admin/login")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', login)
        if token is None:
            raise SystemExit("no sign-in form")
        signed = await client.post(
            "/admin/login",
            data={"username": "staff0", "password": PASSWORD, "csrf": token.group(1)},
            allow_redirects=False,
        )
        if signed.status != 303:
            raise SystemExit(f"sign-in failed: {signed.status}")
        if app[conversation_key].store.count_groups() < GROUPS:
            raise SystemExit("the directory was not filled")
        targets, skipped = pages(client, ids)
        targets = {name: path for name, path in targets.items() if only in name}
        times: dict[str, list[float]] = {name: [] for name in targets}
        sizes: dict[str, tuple[int, int]] = {}
        for n in range(rounds + 2):  # two warm-up rounds
            for name, path in targets.items():
                start = time.perf_counter()
                response = await client.get(path, allow_redirects=False)
                body = await response.read()
                took = (time.perf_counter() - start) * 1000
                if n >= 2:
                    times[name].append(took)
                sizes[name] = (response.status, len(body))
    width = max(len(n) for n in targets)
    print(f"{label}: {GROUPS:,} groups, {CALLS:,} calls, {SIGN_UPS:,} sign-ups; {rounds} rounds")
    print(f"  {'page'.ljust(width)}  status      bytes   median      p95")
    over = []
    for name, values in times.items():
        status, size = sizes[name]
        median, p95 = statistics.median(values), _pct(values, 95)
        flag = "  > 300 ms" if p95 > 300 else ""
        if p95 > 300:
            over.append(name)
        figures = f"{status:>6}  {size:>9,}  {median:>6.1f} ms {p95:>6.1f} ms{flag}"
        print(f"  {name.ljust(width)}  {figures}")
    if skipped:
        print(f"  not measured (no id to fill in): {', '.join(skipped)}")
    print(f"  pages over 300 ms at p95: {len(over)}" + (f" ({', '.join(over)})" if over else ""))


@contextmanager
def _postgres() -> Iterator[str | None]:
    admin = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError:
        yield None
        return
    with throwaway_postgres(admin, prefix="tsunagaru_bench") as url:
        yield url


def main() -> None:
    """SQLite, then PostgreSQL when it answers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--only", default="", help="measure only pages whose path holds this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(f"sqlite:///{tmp}/console.db", "SQLite", args.rounds, args.only))
    if args.sqlite_only:
        return
    with _postgres() as url:
        if url is None:
            print("PostgreSQL: not reachable, skipped")
        else:
            asyncio.run(measure(url, "PostgreSQL", args.rounds, args.only))


if __name__ == "__main__":
    main()
