"""Faults against the real server processes on loopback: what is acknowledged, answered, lost
or answered twice, and how long the service takes to recover.

Starts the fake LINE API (as bench/fake_line.py, counting every reply per reply token) and
``python -m bot serve`` on SQLite, then on PostgreSQL when it answers, and fires signed
webhooks. Every event has its own reply token, so a reply names its event:

- acknowledged: webhooks the server answered 2xx (LINE sends those events never again);
- answered: acknowledged events with a reply at the fake (reply or push), lost: without;
- twice: events that got more than one reply;
- recover: seconds from the fault's end (restart, LINE back, disk freed, the burst over …) to
  the last reply.

Faults: ``kill -9`` of the server mid-load, then a restart; the LINE API answering 500 for a
while (the replies kept in the outbox, delivered by ``python -m bot worker``); PostgreSQL
terminating every connection six times mid-load; SQLite on a full disk (an 8 MB tmpfs: needs
root, skipped otherwise); a 10-second burst at 1.5× capacity; two servers and two workers on
one PostgreSQL, one server killed mid-run. Figures only; run with ``make bench``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from line_load import (  # noqa: E402 (after the path)
    SECRET,
    TOKEN,
    _free_port,
    _prepare_database,
    _sign,
    _wait_port,
)

FAQ = ["協働ってなに？", "基金はあるの？", "登録団体は何団体？", "協働の原則を教えて"]


# --- the fake LINE API, counting ------------------------------------------------------------


def _fake_main(port: int) -> None:
    """The fake as a process: every reply and push counted; ``POST /outage?seconds=`` makes
    message requests answer 500 for that long; ``GET /counts`` tells."""
    from aiohttp import web
    from fake_line import TimedFakeLine

    class CountingFake(TimedFakeLine):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.replies: Counter[str] = Counter()  # reply token → replies
            self.pushes: Counter[str] = Counter()  # user → pushes
            self.blank = 0
            self.down_until = 0.0
            self.app.router.add_get("/counts", self._counts)
            self.app.router.add_post("/outage", self._outage)

        async def _gate(self, request: web.Request) -> web.Response | None:
            if time.time() < self.down_until and "/message/" in request.path:
                return web.json_response({"message": "The server is busy"}, status=500)
            return await super()._gate(request)

        async def _record(self, sent: object) -> None:
            token, to = getattr(sent, "reply_token", None), getattr(sent, "to", None)
            messages = getattr(sent, "messages", [])
            if any(m.get("type") == "text" and not m.get("text", "").strip() for m in messages):
                self.blank += 1
            if token:
                self.replies[token] += 1
            elif to:
                self.pushes[to] += 1
            await super()._record(sent)  # type: ignore[arg-type]

        async def _counts(self, request: web.Request) -> web.Response:
            return web.json_response(
                {"replies": self.replies, "pushes": self.pushes, "blank": self.blank,
                 "rejected": len(self.rejected)}
            )  # fmt: skip

        async def _outage(self, request: web.Request) -> web.Response:
            self.down_until = time.time() + float(request.query.get("seconds", "10"))
            return web.json_response({})

    fake = CountingFake(token=TOKEN)  # remembers used reply tokens, as LINE does
    web.run_app(fake.app, host="127.0.0.1", port=port, print=None, access_log=None,
                shutdown_timeout=1)  # fmt: skip


# --- processes -------------------------------------------------------------------------------


@dataclass
class Rig:
    """The fake and the bot's processes for one database."""

    url: str
    fake_port: int = field(default_factory=_free_port)
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "DATABASE_URL": self.url,
                    "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                    "LINE_API_BASE_URL": f"http://127.0.0.1:{self.fake_port}"}  # fmt: skip

    def start(self, args: list[str], port: int | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(proc)
        if port is not None:
            _wait_port(port, proc)
        return proc

    def serve(self) -> tuple[subprocess.Popen[bytes], int]:
        port = _free_port()
        return self.start(["-m", "bot", "serve", "--port", str(port)], port), port

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        self.procs = []


@contextlib.contextmanager
def _rig(url: str) -> Iterator[Rig]:
    _prepare_database(url)
    rig = Rig(url)
    rig.start([str(ROOT / "bench" / "faults.py"), "--fake", str(rig.fake_port)], rig.fake_port)
    try:
        yield rig
    finally:
        rig.stop_all()


# --- load --------------------------------------------------------------------------------------


@dataclass
class Fired:
    acked: list[str] = field(default_factory=list)  # reply tokens of acknowledged events
    refused: list[bytes] = field(default_factory=list)  # bodies answered non-2xx (redeliver)
    failed: int = 0  # no answer at all (the server was down)
    sent_at: dict[str, float] = field(default_factory=dict)


def _body(token: str, user: str, n: int) -> bytes:
    event = {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "webhookEventId": f"F{token}"[:26].upper(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user}, "replyToken": token,
        "message": {"type": "text", "id": str(n), "quoteToken": "q", "text": FAQ[n % len(FAQ)]},
    }  # fmt: skip
    return json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()


async def _fire(ports: list[int], tag: str, count: int, rate: float, fired: Fired) -> None:
    """``count`` webhooks at ``rate`` per second, open loop, round robin over ``ports``; each
    from its own user (so nothing waits on a user's earlier message)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def one(i: int) -> None:
            token = f"{tag}-{i}"
            body = _body(token, f"U{tag}{i}", i)
            url = f"http://127.0.0.1:{ports[i % len(ports)]}/callback/line"
            fired.sent_at[token] = time.time()
            try:
                headers = {"X-Line-Signature": _sign(body), "Content-Type": "application/json"}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        fired.acked.append(token)
                    else:
                        fired.refused.append(body)
            except (aiohttp.ClientError, TimeoutError):
                fired.failed += 1
                fired.refused.append(body)

        start, tasks = time.time(), []
        for i in range(count):
            delay = start + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)


async def _redeliver(port: int, bodies: list[bytes], fired: Fired) -> None:
    """What LINE's webhook redelivery does with events we did not acknowledge."""
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            headers = {"X-Line-Signature": _sign(body), "Content-Type": "application/json"}
            async with session.post(
                f"http://127.0.0.1:{port}/callback/line", data=body, headers=headers
            ) as response:
                if response.status == 200:
                    fired.acked.append(json.loads(body)["events"][0]["replyToken"])


async def _get(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json() if response.content_type == "application/json" else {}
        return response.status, dict(body)


async def _counts(rig: Rig) -> dict[str, object]:
    return (await _get(f"http://127.0.0.1:{rig.fake_port}/counts"))[1]


async def _settle(rig: Rig, tokens: list[str], within: float) -> tuple[dict[str, object], float]:
    """Wait until every token has a reply (or ``within`` s); the counts, and when the last
    new reply came (wall clock)."""
    deadline, last_total, last_change = time.time() + within, -1, time.time()
    while True:
        counts = await _counts(rig)
        replies: dict[str, int] = counts["replies"]  # type: ignore[assignment]
        pushes: dict[str, int] = counts["pushes"]  # type: ignore[assignment]
        total = sum(replies.values()) + sum(pushes.values())
        if total != last_total:
            last_total, last_change = total, time.time()
        if all(t in replies or f"U{t.replace('-', '', 1)}" in pushes for t in tokens):
            return counts, last_change
        if time.time() > deadline:
            return counts, last_change
        await asyncio.sleep(0.25)


def _report(
    label: str, fault: str, fired: Fired, counts: dict[str, object], recover: float
) -> None:
    replies: dict[str, int] = counts["replies"]  # type: ignore[assignment]
    pushes: dict[str, int] = counts["pushes"]  # type: ignore[assignment]

    def got(token: str) -> int:
        return replies.get(token, 0) + pushes.get(f"U{token.replace('-', '', 1)}", 0)

    acked = set(fired.acked)
    answered = sum(1 for t in acked if got(t) >= 1)
    twice = sum(1 for t in acked if got(t) > 1)
    print(
        f"{label:10} {fault:34}: acknowledged {len(acked):4}, answered {answered:4}, "
        f"lost {len(acked) - answered:3}, twice {twice:2}, refused (redelivered) "
        f"{len(fired.refused):3}, blank texts {counts['blank']}, recover {recover:5.1f} s"
    )


# --- the faults ----------------------------------------------------------------------------------


async def kill_and_restart(rig: Rig, label: str) -> None:
    proc, port = rig.serve()
    fired = Fired()
    load = asyncio.create_task(_fire([port], "kill", 1200, 400.0, fired))  # near capacity
    await asyncio.sleep(2.0)
    proc.send_signal(signal.SIGKILL)  # mid-load: events stored, some answered, some not
    proc.wait()
    await load
    restarted_at = time.time()
    _, port = rig.serve()
    await _redeliver(port, fired.refused, fired)  # LINE redelivers what we did not ack
    counts, last = await _settle(rig, fired.acked, 90)
    _report(label, "kill -9 mid-load, restart", fired, counts, last - restarted_at)
    rig.stop_all()


async def line_outage(rig: Rig, label: str) -> None:
    _, port = rig.serve()
    async with aiohttp.ClientSession() as session:
        await session.post(f"http://127.0.0.1:{rig.fake_port}/outage?seconds=6")
    fired = Fired()
    await _fire([port], "outage", 100, 50.0, fired)  # replies fail: kept in the outbox
    await asyncio.sleep(6.0)
    back_at = time.time()
    rig.start(["-m", "bot", "worker", "--interval", "2"])
    rig.start(["-m", "bot", "worker", "--interval", "2"])  # two workers: still once each
    counts, last = await _settle(rig, fired.acked, 90)
    _report(label, "LINE API 500 for 6 s, two workers", fired, counts, last - back_at)
    rig.stop_all()


async def connection_drops(rig: Rig, label: str) -> None:
    import psycopg

    _, port = rig.serve()
    fired = Fired()
    load = asyncio.create_task(_fire([port], "drop", 600, 100.0, fired))
    dsn = rig.url.replace("postgresql+psycopg://", "postgresql://")
    for _ in range(6):
        await asyncio.sleep(0.8)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    await load
    done_at = time.time()
    counts, last = await _settle(rig, fired.acked, 90)
    _report(label, "pg_terminate_backend ×6 mid-load", fired, counts, max(0.0, last - done_at))
    rig.stop_all()


async def full_disk(label: str) -> None:
    mount = Path(tempfile.mkdtemp(prefix="tsunagaru-full-"))
    tool = shutil.which("mount") or "/bin/mount"
    mounted = await asyncio.to_thread(
        subprocess.run, [tool, "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        print(f"{label:10} {'full disk':34}: skipped (mounting a small tmpfs needs root)")
        return
    try:
        url = f"sqlite:///{mount}/bot.db"
        with _rig(url) as rig:
            _, port = rig.serve()
            filler = mount / "filler"
            with contextlib.suppress(OSError), filler.open("wb") as fh:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            health_full, _ = await _get(f"http://127.0.0.1:{port}/healthz")
            fired = Fired()
            await _fire([port], "full", 40, 20.0, fired)
            acked_while_full = len(fired.acked)
            filler.unlink()  # space again
            freed_at = time.time()
            health_after, _ = await _get(f"http://127.0.0.1:{port}/healthz")
            await _redeliver(port, fired.refused, fired)
            counts, last = await _settle(rig, fired.acked, 60)
            _report(label, "full disk, then space again", fired, counts, last - freed_at)
            print(
                f"{label:10} {'':34}  /healthz while full {health_full}, after "
                f"{health_after}; acknowledged while full {acked_while_full}"
            )
    finally:
        umount = shutil.which("umount") or "/bin/umount"
        await asyncio.to_thread(subprocess.run, [umount, str(mount)], capture_output=True)
        shutil.rmtree(mount, ignore_errors=True)


async def burst(rig: Rig, label: str) -> None:
    _, port = rig.serve()
    probe = Fired()
    await _fire([port], "probe", 2000, 2000.0, probe)  # faster than it goes: its capacity
    counts, last = await _settle(rig, probe.acked, 30)
    capacity = len(probe.acked) / max(last - min(probe.sent_at.values()), 1e-9)
    fired, after = Fired(), Fired()
    rate = 1.5 * capacity
    await _fire([port], "burst", int(rate * 10), rate, fired)
    burst_end = time.time()
    await _fire([port], "after", 2000, 100.0, after)  # 20 s of ordinary load
    counts, _ = await _settle(rig, fired.acked + after.acked, 60)
    arrivals: dict[str, float] = await _arrivals(rig)
    drained = max((arrivals[t] for t in fired.acked if t in arrivals), default=burst_end)
    recover = max(0.0, drained - burst_end)
    _report(label, f"burst 10 s at {rate:.0f} msg/s (1.5×)", fired, counts, recover)
    recovered = None
    for second in range(20):
        window = [t for t in after.acked
                  if burst_end + second <= after.sent_at[t] < burst_end + second + 1]  # fmt: skip
        lat = sorted((arrivals[t] - after.sent_at[t]) * 1000 for t in window if t in arrivals)
        if (
            lat
            and lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] < 100
            and recovered is None
        ):
            recovered = second
        elif lat and lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] >= 100:
            recovered = None
    every = sorted((arrivals[t] - after.sent_at[t]) * 1000 for t in after.acked if t in arrivals)
    p99_last = every[round(0.99 * (len(every) - 1))] if every else float("nan")
    print(
        f"{label:10} {'':34}  capacity {capacity:.0f} msg/s; after the burst at 100 msg/s: "
        f"p99 < 100 ms from second {recovered} on (p50 {statistics.median(every or [0]):.1f} ms "
        f"over 20 s, p99 {p99_last:.0f} ms)"
    )
    rig.stop_all()


async def _arrivals(rig: Rig) -> dict[str, float]:
    stats = (await _get(f"http://127.0.0.1:{rig.fake_port}/stats"))[1]
    return dict(stats["arrivals"])  # type: ignore[call-overload]


async def scale_out(rig: Rig, label: str) -> None:
    first, port1 = rig.serve()
    _, port2 = rig.serve()
    rig.start(["-m", "bot", "worker", "--interval", "2"])
    rig.start(["-m", "bot", "worker", "--interval", "2"])
    fired = Fired()
    load = asyncio.create_task(_fire([port1, port2], "scale", 800, 200.0, fired))
    await asyncio.sleep(2.0)
    first.send_signal(signal.SIGKILL)
    first.wait()  # reaped, as a supervisor (systemd, the platform) does
    killed_at = time.time()
    await load
    # The dead server's events wait for their lease (30 s) and are taken by the other.
    counts, last = await _settle(rig, fired.acked, 90)
    _report(label, "2 servers + 2 workers, one killed", fired, counts, last - killed_at)
    rig.stop_all()


SQLITE_FAULTS = (kill_and_restart, line_outage, burst)
POSTGRES_FAULTS = (kill_and_restart, line_outage, connection_drops, burst, scale_out)


def main() -> None:
    """SQLite, then PostgreSQL if reachable (a new database for each fault); then the full
    disk (SQLite on a tmpfs)."""
    if len(sys.argv) == 3 and sys.argv[1] == "--fake":
        _fake_main(int(sys.argv[2]))
        return
    from groups import _postgres  # the throw-away database helper

    only = set(sys.argv[1:])  # fault names, to run a few
    for fault in SQLITE_FAULTS:
        if only and fault.__name__ not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp, _rig(f"sqlite:///{tmp}/faults.db") as rig:
            asyncio.run(fault(rig, "SQLite"))
    for fault in POSTGRES_FAULTS:
        if only and fault.__name__ not in only:
            continue
        with _postgres() as url:
            if url is None:
                print("PostgreSQL: not reachable, skipped")
                break
            with _rig(url) as rig:
                asyncio.run(fault(rig, "PostgreSQL"))
    if not only or "full_disk" in only:
        asyncio.run(full_disk("SQLite"))


if __name__ == "__main__":
    main()
