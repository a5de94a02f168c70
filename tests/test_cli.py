"""``python -m bot ask --json`` through a real subprocess, as a script would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(
    db: Path, *args: str, stdin: str = "", now: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` on an SQLite file, optionally at a fixed time."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    if now:
        env["TSUNAGARU_NOW"] = now
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def ask(lines: list[str], db: Path, *args: str, now: str | None = None) -> list[dict[str, object]]:
    """One JSON reply per line said."""
    done = run(db, "ask", "--json", *args, stdin="\n".join(lines) + "\n", now=now)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_json_lines_carry_text_intent_slots_source(tmp_path: Path) -> None:
    replies = ask(["協働ってなに？", "鎌倉の天気は？", ""], tmp_path / "a.db")
    assert [r["intent"] for r in replies] == ["faq", "fallback", "fallback"]
    faq = replies[0]
    assert faq["slots"] == {"faq_id": "term-kyodo"}
    assert str(faq["source"]).startswith("指針 2(5)")
    assert "[1]" in str(faq["text"])  # choices listed in the plain text
    assert replies[1]["source"] is None
    assert replies[2]["slots"] == {"reason": "empty"}


def test_user_conversation_continues_across_calls(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    (menu,) = ask(["メニュー"], db, "--user", "alice")
    payloads = [c["payload"] for c in menu["choices"]]  # type: ignore[union-attr]
    n = next(i for i, p in enumerate(payloads, 1) if p.startswith("faq:"))
    (picked,) = ask([str(n)], db, "--user", "alice")
    assert picked["intent"] == "faq"
    (other,) = ask([str(n)], db, "--user", "bob")  # bob has no menu on screen
    assert other["intent"] == "fallback"
    assert menu["intent"] == "help"


def test_find_groups_slots_in_json(tmp_path: Path) -> None:
    (reply,) = ask(["大船駅の近くで子ども関係の団体"], tmp_path / "g.db")
    assert reply["intent"] == "find_groups"
    assert reply["slots"] == {
        "field": "子どもの健全育成を図る活動",
        "area": "大船地域",
        "place": "大船駅",
    }
    assert "（サンプル）" in str(reply["text"])  # the demo directory, clearly marked


def test_groups_import_and_export(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    good = tmp_path / "good.csv"
    good.write_bytes(
        "key,name,fields,areas\nr-1,本物の会,子ども,大船\nr-2,海の会,環境,腰越|深沢\n".encode(
            "cp932"
        )
    )
    done = run(db, "groups", "import", str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "新規 2件" in done.stdout
    assert "shift_jis" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("key,name,fields,areas\nr-3,,子ども,横浜\n", encoding="utf-8")
    refused = run(db, "groups", "import", str(bad))
    assert refused.returncode == 1
    assert "2行目・name列" in refused.stdout
    assert "2行目・areas列" in refused.stdout
    exported = run(db, "groups", "export")
    lines = exported.stdout.splitlines()
    assert lines[0].startswith("key,name,description,fields,areas")
    assert [line.split(",")[0] for line in lines[1:]] == ["r-1", "r-2"]  # no samples
    out = tmp_path / "out.csv"
    run(db, "groups", "export", "--out", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, for Excel


def test_import_refuses_a_huge_file(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as fh:
        fh.write(b"key,name,fields,areas\n")
        fh.truncate(100 * 1024 * 1024)  # a 100 MB file, sparse on disk
    done = run(tmp_path / "h.db", "groups", "import", str(huge))
    assert done.returncode == 1
    assert "大きすぎます" in done.stdout


def test_invite_post_sign_up_and_remind_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    noon = "2026-11-25T12:00+09:00"

    def chat(user: str, *lines: str, now: str = noon) -> list[dict[str, object]]:
        return ask(list(lines), db, "--user", user, now=now)

    issued = run(db, "groups", "invite", "sample-003")
    assert issued.returncode == 0, issued.stdout + issued.stderr
    code = issued.stdout.split("招待コード: ")[1].split()[0]
    assert run(db, "groups", "invite", "no-such-group").returncode == 1
    posted = chat(
        "rep",
        f"招待コード {code}",
        "募集する",
        "竹林の手入れ",
        "竹を切って運びます",
        "環境",
        "鎌倉山",
        "バス停前",
        "12月5日(土) 9時〜11時",
        "3",
        "どなたでも",
        "なし",
        "1",  # the first button on the preview: 公開
    )
    assert posted[0]["intent"] == "link_group"
    assert posted[-1]["intent"] == "post_call"
    assert "公開しました" in str(posted[-1]["text"])
    signed = chat("vol", "鎌倉山のボランティア", "1", "1", "山本", "090-1234-5678", "2", "1")
    assert signed[0]["slots"] == {"area": "深沢地域"}
    assert signed[-1]["slots"]["outcome"] == "confirmed"  # type: ignore[index]
    evening_before = "2026-12-04T19:00+09:00"
    worked = run(db, "worker", "--once", now=evening_before)
    assert "'reminders_queued': 1" in worked.stdout
    (reminded,) = chat("vol", "ありがとう", now=evening_before)
    assert "明日は「竹林の手入れ」" in str(reminded["text"])


def test_staff_accounts_through_the_cli(tmp_path: Path) -> None:
    """``python -m bot staff …``: passwords from stdin (never argv), every change audited."""
    from datetime import UTC, datetime

    from storage import Store, create_db_engine

    db = tmp_path / "s.db"
    password, new = "a long staff password", "another long password"
    assert run(db, "staff", "add", "tanaka", "--password-stdin", stdin=password).returncode == 0
    taken = run(db, "staff", "add", "tanaka", "--password-stdin", stdin=password)
    assert taken.returncode == 1
    assert "すでにあります" in taken.stdout
    short = run(db, "staff", "add", "sato", "--password-stdin", stdin="short")
    assert short.returncode == 1
    assert "12文字以上" in short.stdout
    in_argv = run(db, "staff", "add", "sato", password)  # refused: argv is readable in ps
    assert in_argv.returncode == 2
    old = run(db, "admin", "create-user", "suzuki", "--password-stdin", stdin=password)
    assert old.returncode == 0  # the older spelling still works
    listed = run(db, "staff", "list").stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["suzuki", "有効"], ["tanaka", "有効"]]
    assert run(db, "staff", "disable", "tanaka").returncode == 0
    assert run(db, "staff", "list").stdout.splitlines()[1].split("\t")[1] == "無効"
    assert run(db, "staff", "enable", "tanaka").returncode == 0
    assert run(db, "staff", "unlock", "tanaka").returncode == 0
    assert run(db, "staff", "unlock", "nobody").returncode == 1
    reset = run(db, "staff", "reset-password", "tanaka", "--password-stdin", stdin=new)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    store = Store(create_db_engine(f"sqlite:///{db}"))
    try:
        now = datetime.now(UTC)
        assert store.login("tanaka", password, "192.0.2.1", now).outcome == "bad"
        assert store.login("tanaka", new, "192.0.2.1", now).outcome == "ok"
        actions = [a.action for a in reversed(store.audit_log())]
        assert actions[:6] == [
            "staff_added", "staff_added", "staff_disabled", "staff_enabled",
            "staff_unlocked", "staff_password_reset",
        ]  # fmt: skip
    finally:
        store.close()
