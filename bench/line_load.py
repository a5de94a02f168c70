"""LINE load benchmark: our bot vs. a minimal echo bot on the same SDK and aiohttp.

Starts, as separate processes on loopback: the fake LINE API (bench/fake_line.py), then
``python -m bot serve`` (SQLite, then PostgreSQL when it answers) and the echo bot
(bench/echo_bot.py), each pointed at the fake. This process is the load generator: it fires
correctly signed webhooks and the fake notes when each reply arrives (wall clock).

Three measurements per bot:
- capacity: 40 simulated users, each writing again as soon as the reply to their last message
  reached the fake (closed loop, the same for both bots: the echo bot replies before it
  answers the webhook, ours answers first and replies a moment later) → messages per second;
- burst: the same 40 users, but each writes again as soon as the webhook is answered (the echo
  bot still answers only after its reply; ours answers first, so a backlog builds up and
  replies wait their turn: a harsher test for us, printed beside the first);
- latency at a fixed 100 messages per second for 10 s → p50/p99 from webhook sent to reply
  received at the fake;
- open-loop capacity: webhooks at a fixed rate for 3 s, the rate raised by 15% a step from
  200 msg/s, until a step's p99 reaches 100 ms or a reply is missing → the highest rate whose
  p99 stayed under 100 ms (what a real channel, whose users do not wait for each other, gets).

CPU time per message of the bot and of the fake is printed too (from /proc): the two cores are
shared by the bot, the fake and this process, so CPU per message says where the time goes.

With ``--against REV``, only the open loop, of this checkout and of a git revision (checked out
in a temporary worktree), in turns: what "not lower than before" means on this machine.

The message mix: 60% FAQ questions, 25% group searches, 15% volunteer sign-up steps (taps).
Figures only; run with ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-channel-secret"
TOKEN = "bench-token"
FAQ = [
    "協働ってなに？", "市民活動センターは何をするところ？", "ボランティア中のケガの補償は？",
    "基金はあるの？", "登録団体は何団体？", "高齢化の割合は？", "協働の原則を教えて",
    "きょうどうのげんそく", "重点施策って何？", "会議室を借りたい",
]  # fmt: skip
GROUPS = [
    "大船駅の近くで子ども関係の団体", "由比ヶ浜でごみ拾いしてる団体を探してます",
    "腰越で国際交流のグループある？", "玉縄で防災の団体", "鎌倉山で環境の団体を紹介して",
]  # fmt: skip
ROUNDS = 3  # capacity rounds per bot; the median is reported
USERS = 40  # simulated users writing at once
CAPACITY_MESSAGES = 1500
SIGN_UP_STEPS = ["ol", "od:1", "gs", "gf:environment", "ga:kamakura", "mine"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def _event(user: str, token: str, rng: random.Random) -> dict[str, object]:
    roll = rng.random()
    base: dict[str, object] = {
        "timestamp": int(time.time() * 1000),
        "mode": "active",
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "replyToken": token,
    }
    if roll < 0.85:
        text = rng.choice(FAQ) if roll < 0.6 else rng.choice(GROUPS)
        message = {
            "type": "text",
            "id": str(rng.randrange(10**17)),
            "quoteToken": "q",
            "text": text,
        }
        return {**base, "type": "message", "message": message}
    return {**base, "type": "postback", "postback": {"data": rng.choice(SIGN_UP_STEPS)}}


@dataclass
class Result:
    sent: int
    replied: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.replied / self.seconds if self.seconds else 0.0


async def _fire(
    port: int, fake_port: int, count: int, rate: float | None, seed: int, wait: bool = True
) -> Result:
    """Send ``count`` webhooks: at ``rate`` per second, or (None) from USERS users who each wait
    for their reply before they write again (``wait``), or only for the webhook's answer."""
    rng = random.Random(seed)
    sent_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Future[None]] = {}
    all_arrived = asyncio.Event()
    url = f"http://127.0.0.1:{port}/callback/line"
    async with aiohttp.ClientSession() as session:
        stream = await session.get(f"http://127.0.0.1:{fake_port}/arrivals")

        async def listen() -> None:
            async for line in stream.content:
                token = line.decode().strip()
                if not token.startswith(f"bench-{seed}-"):
                    continue  # a late reply to an earlier run
                arrived[token] = time.time()
                future = waiting.pop(token, None)
                if future is not None and not future.done():
                    future.set_result(None)
                if len(arrived) >= count:
                    all_arrived.set()

        listener = asyncio.create_task(listen())

        async def one(i: int, wait: bool) -> None:
            token = f"bench-{seed}-{i}"
            body = json.dumps(
                {"destination": "Ubench", "events": [_event(f"Ubench{i % 200}", token, rng)]},
                ensure_ascii=False,
            ).encode()
            if wait:
                waiting[token] = asyncio.get_running_loop().create_future()
            sent_at[token] = time.time()
            async with session.post(
                url,
                data=body,
                headers={"X-Line-Signature": _sign(body), "Content-Type": "application/json"},
            ) as response:
                await response.read()
            if wait and token not in arrived:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiting[token], 30)

        start = time.time()
        if rate is None:
            queue = iter(range(count))

            async def user() -> None:
                for i in queue:
                    await one(i, wait=wait)

            await asyncio.gather(*(user() for _ in range(USERS)))
        else:
            tasks = []
            for i in range(count):
                delay = start + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, wait=False)))
            await asyncio.gather(*tasks)
        with contextlib.suppress(TimeoutError):  # the last replies
            await asyncio.wait_for(all_arrived.wait(), 30)
        listener.cancel()
        stream.close()
    mine = [t for t in sent_at if t in arrived]
    latencies = [(arrived[t] - sent_at[t]) * 1000 for t in mine]
    last = max((arrived[t] for t in mine), default=start)
    return Result(count, len(mine), last - start, latencies)


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited early: {proc.args}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


@contextmanager
def _process(args: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port, proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _prepare_database(url: str) -> None:
    """The demo directory, and one open call so sign-up taps have something to open."""
    from datetime import UTC, datetime, timedelta

    from bot.config import Settings
    from bot.runtime import open_conversation
    from storage.openings import CallDraft

    conversation = open_conversation(Settings(database_url=url))
    store = conversation.store
    rep = store.touch_user("line", "Ubench-rep", "ja").id
    code, _ = store.issue_invite("sample-001") or ("", None)
    store.redeem_invite(rep, code)
    group_id = store.represented_groups(rep)[0][0]
    start = datetime.now(UTC) + timedelta(days=30)
    draft = CallDraft("浜そうじ", "ごみ拾い", "environment", "kamakura", "由比ガ浜", "駅前",
                      start, start + timedelta(hours=2), 1000)  # fmt: skip
    store.create_call(rep, group_id, draft)
    store.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Capacity:
    rates: list[float]  # messages per second, one per round
    bot_cpu_ms: float  # CPU per message: the bot process
    fake_cpu_ms: float  # the fake LINE API

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def rounds(self) -> str:
        return "/".join(f"{r:.0f}" for r in self.rates)


def _capacity(
    port: int,
    fake_port: int,
    bot: subprocess.Popen[bytes],
    fake: subprocess.Popen[bytes],
    wait: bool = True,
) -> Capacity:
    rates, messages = [], 0
    bot_cpu, fake_cpu = _cpu_seconds(bot.pid), _cpu_seconds(fake.pid)
    for round_ in range(ROUNDS):
        result = asyncio.run(
            _fire(port, fake_port, CAPACITY_MESSAGES, None, seed=10 + round_, wait=wait)
        )
        rates.append(result.rate)
        messages += result.replied
    return Capacity(
        rates,
        1000 * (_cpu_seconds(bot.pid) - bot_cpu) / max(messages, 1),
        1000 * (_cpu_seconds(fake.pid) - fake_cpu) / max(messages, 1),
    )


ONLY: str | None = None  # --only: one bot
OPEN_LOOP_ONLY = False  # --open-loop-only
OPEN_LOOP_START = 200.0  # msg/s
OPEN_LOOP_STEP = 1.15
OPEN_LOOP_SECONDS = 3
OPEN_LOOP_P99_MS = 100.0


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies) or [float("inf")]
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _open_loop_capacity(port: int, fake_port: int) -> tuple[float, list[tuple[int, float]]]:
    """The highest fixed rate whose replies all came with p99 < 100 ms, and each step's
    (rate, p99)."""
    rate, best, steps = OPEN_LOOP_START, 0.0, []
    for seed in range(100, 140):
        count = int(rate * OPEN_LOOP_SECONDS)
        result = asyncio.run(_fire(port, fake_port, count, rate, seed=seed))
        p99 = _p99(result.latencies_ms)
        steps.append((round(rate), p99))
        if result.replied < result.sent or p99 >= OPEN_LOOP_P99_MS:
            break
        best = rate
        rate *= OPEN_LOOP_STEP
        time.sleep(1.0)  # the last step's stragglers settle
    return best, steps


def _run_pair(database_url: str, label: str) -> None:
    fake_port, bot_port, echo_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DATABASE_URL": database_url,
           "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
           "LINE_API_BASE_URL": f"http://127.0.0.1:{fake_port}"}  # fmt: skip
    python = sys.executable
    _prepare_database(database_url)
    with _process(
        [python, "bench/fake_line.py", "--port", str(fake_port), "--token", TOKEN], fake_port, env
    ) as fake:
        results: dict[str, tuple[Capacity, Capacity, Result]] = {}
        open_loop: dict[str, tuple[float, list[tuple[int, float]]]] = {}
        for name, args, port in (
            ("tsunagaru", [python, "-m", "bot", "serve", "--port", str(bot_port)], bot_port),
            ("echo", [python, "bench/echo_bot.py", "--port", str(echo_port), "--secret", SECRET,
                      "--token", TOKEN, "--api", f"http://127.0.0.1:{fake_port}"], echo_port),
        ):  # fmt: skip
            if ONLY and name != ONLY:
                continue
            with _process(args, port, env) as bot:
                asyncio.run(_fire(port, fake_port, 300, None, seed=1))  # warm up
                open_loop[name] = _open_loop_capacity(port, fake_port)
                if OPEN_LOOP_ONLY:
                    continue
                capacity = _capacity(port, fake_port, bot, fake)
                burst = _capacity(port, fake_port, bot, fake, wait=False)
                steady = asyncio.run(_fire(port, fake_port, 1000, 100.0, seed=3))
                results[name] = (capacity, burst, steady)
        for name, (best, steps) in open_loop.items():
            tried = ", ".join(f"{r} → {p:.0f} ms" for r, p in steps)
            print(f"{label:10} {name:9}: open loop, p99 < 100 ms up to {best:5.0f} msg/s")
            print(f"{label:10} {name:9}:   steps: {tried}")
        if len(results) < 2:
            return
        for name, (capacity, burst, steady) in results.items():
            lat = sorted(steady.latencies_ms) or [0.0]
            p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
            print(
                f"{label:10} {name:9}: capacity {capacity.rate:5.0f} msg/s "
                f"(rounds {capacity.rounds}); "
                f"CPU per message: bot {capacity.bot_cpu_ms:.2f} ms, "
                f"fake {capacity.fake_cpu_ms:.2f} ms; at 100 msg/s: "
                f"{steady.replied}/{steady.sent} replied, p50 {statistics.median(lat):5.1f} ms, "
                f"p99 {p99:6.1f} ms"
            )
            print(
                f"{label:10} {name:9}: burst (users wait only for the webhook's answer) "
                f"{burst.rate:5.0f} msg/s (rounds {burst.rounds}); "
                f"CPU per message: bot {burst.bot_cpu_ms:.2f} ms"
            )
        ours, echo = results["tsunagaru"], results["echo"]
        ratio = ours[0].rate / max(echo[0].rate, 1e-9)
        burst_ratio = ours[1].rate / max(echo[1].rate, 1e-9)
        open_ratio = open_loop["tsunagaru"][0] / max(open_loop["echo"][0], 1e-9)
        print(
            f"{label:10} ratio    : tsunagaru / echo throughput = {ratio:.0%} "
            f"(users waiting for replies), {burst_ratio:.0%} (burst), "
            f"{open_ratio:.0%} (open loop at p99 < 100 ms)"
        )


AGAINST_ROUNDS = 3  # --against: open-loop runs of each revision, interleaved


def _against(revision: str, databases: list[str]) -> None:
    """The open-loop capacity of this checkout and of ``revision`` (a git revision of this
    repository, checked out in a temporary worktree with this very benchmark copied in),
    measured in turns on the same machine: the figures of two sessions on different machines
    do not compare, these do."""
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        git = shutil.which("git") or "git"
        subprocess.run([git, "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(other),
                        revision], check=True)  # fmt: skip
        try:
            (other / "bench" / "line_load.py").write_bytes(Path(__file__).read_bytes())
            for database in databases:
                found: dict[str, list[float]] = {"this checkout": [], revision: []}
                for _ in range(AGAINST_ROUNDS):
                    for label, root in (("this checkout", ROOT), (revision, other)):
                        args = [sys.executable, "bench/line_load.py", "--open-loop-only",
                                "--only", "tsunagaru", f"--{database}-only"]  # fmt: skip
                        out = subprocess.run(args, cwd=root, capture_output=True, text=True)
                        rate = _open_loop_rate(out.stdout)
                        found[label].append(rate)
                        print(f"{database:10} {label:14}: open loop, p99 < 100 ms up to "
                              f"{rate:5.0f} msg/s", flush=True)  # fmt: skip
                mine, theirs = (statistics.median(v) for v in found.values())
                print(f"{database:10} median: this checkout {mine:.0f} msg/s, {revision} "
                      f"{theirs:.0f} msg/s ({mine / max(theirs, 1e-9):.0%})")  # fmt: skip
        finally:
            subprocess.run([git, "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                           check=False)  # fmt: skip


def _open_loop_rate(output: str) -> float:
    for line in output.splitlines():
        if "open loop, p99 < 100 ms up to" in line:
            return float(line.rsplit("up to", 1)[1].split()[0])
    return 0.0


def main() -> None:
    """SQLite, then PostgreSQL if reachable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--only", choices=("tsunagaru", "echo"), help="one bot, not both")
    parser.add_argument("--open-loop-only", action="store_true", help="only the open loop")
    parser.add_argument(
        "--against", metavar="REV", help="the open loop of this checkout and of a git revision"
    )
    args = parser.parse_args()
    if args.against:
        databases = ["sqlite"] if args.sqlite_only else ["postgres"] if args.postgres_only else []
        _against(args.against, databases or ["sqlite", "postgres"])
        return
    global ONLY, OPEN_LOOP_ONLY
    ONLY, OPEN_LOOP_ONLY = args.only, args.open_loop_only
    if not args.postgres_only:
        with tempfile.TemporaryDirectory() as tmp:
            _run_pair(f"sqlite:///{tmp}/bench.db", "SQLite")
    if args.sqlite_only:
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from groups import _postgres  # the same throw-away database helper

    with _postgres() as url:
        if url is None:
            print("PostgreSQL: not reachable, skipped")
        else:
            _run_pair(url, "PostgreSQL")


if __name__ == "__main__":
    main()
