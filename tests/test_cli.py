"""``python -m bot ask --json`` through a real subprocess, as a script would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ask(lines: list[str], db: Path, *args: str) -> list[dict[str, object]]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


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
    (picked,) = ask(["3"], db, "--user", "alice")
    assert picked["intent"] == "faq"
    (other,) = ask(["3"], db, "--user", "bob")  # bob has no menu on screen
    assert other["intent"] == "fallback"
    assert menu["intent"] == "help"
