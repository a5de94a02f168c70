"""Prints how much memory ``python -m bot serve`` holds after start and after some traffic.

Run with ``make bench``. Figures only. Starts the real server on a free loopback port with a
throw-away SQLite file, sends the blind question sets through the web chat API, and reads the
process's ``/proc/<pid>/smaps_rollup``: ``Anonymous`` is the private memory that is the
process's own; a memory-mapped file (Sudachi's dictionary) is shared with every other process
that maps it and is counted under ``Rss`` but not there.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import free_port, wait_for_port
from tests.judge import read_tsv

ROOT = Path(__file__).resolve().parents[1]
SETS = ("faq_blind_dev.tsv", "search_blind_dev.tsv", "faq_devset.tsv")


def _memory(pid: int) -> dict[str, int]:
    """kB figures of the process's mappings (Linux)."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    figures = {}
    for line in rollup.splitlines()[1:]:
        key, value, *_ = line.split()
        figures[key.rstrip(":")] = int(value)
    return figures


_people: dict[str, urllib.request.OpenerDirector] = {}


def _chat(port: int, user: str, text: str) -> None:
    """One message from ``user``: their own cookie (the server's id for them) and, through the
    trusted-proxy header, their own address, so the rate limits see 40 people, not one."""
    if user not in _people:
        _people[user] = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/chat",
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": _address(user)},
    )
    with _people[user].open(request, timeout=30) as response:  # a 429 raises: figures void
        response.read()


def _address(user: str) -> str:
    number = int(hashlib.sha256(user.encode()).hexdigest()[:4], 16)
    return f"10.{number >> 8}.{number & 255}.1"


def _messages() -> list[str]:
    texts = []
    for name in SETS:
        for row in read_tsv(name):
            texts.append(row.get("question") or row.get("message") or row.get("utterance") or "")
    return [t.split(" >> ")[-1] for t in texts if t]


def main() -> None:
    """Start, measure, send the sets, measure again."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/memory.db",
            "NO_PROXY": "127.0.0.1,localhost",
            "TRUSTED_PROXY": "1",  # the bench plays the proxy: X-Forwarded-For per person
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port(port)
            _chat(port, "warm", "こんにちは")
            started = _memory(proc.pid)
            messages = _messages()
            for i, text in enumerate(messages):
                _chat(port, f"user-{i % 40}", text)
            after = _memory(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    for label, figures in (("after start", started), (f"after {len(messages)} messages", after)):
        mb = {k: f"{v / 1024:.0f} MB" for k, v in figures.items()}
        print(
            f"python -m bot serve {label}: private (Anonymous) {mb['Anonymous']}, "
            f"Rss {mb['Rss']}, Pss {mb['Pss']} (shared file mappings such as the dictionary "
            "are in Rss, not in Anonymous)"
        )


if __name__ == "__main__":
    main()
