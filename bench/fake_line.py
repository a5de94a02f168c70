"""The fake LINE API (tests/fakes/line_api.py) as a process, for the load benchmark.

``GET /stats`` returns ``{reply_token: wall-clock arrival time}`` for every accepted reply, and
the number of requests it refused for breaking LINE's limits. ``GET /arrivals`` streams the
reply token of each accepted reply, one per line, as it arrives: the load generator's
simulated users wait on it before they write again.

It checks every request as the tests' fake does, but remembers its verdict on a list of
messages it has seen before (the checks are a pure function of it): the benchmark sends the
same few answers thousands of times, and rebuilding each with the SDK's pydantic models cost
the fake 0.5 ms a request, CPU taken from the bot under test on a 2-core machine. (The real
LINE API checks on its own servers.) Only the reply token or recipient differs per request,
and those are still read from every request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from linebot.v3.messaging import PushMessageRequest, ReplyMessageRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.line_api import FakeLine, Sent


class TimedFakeLine(FakeLine):
    """Records when each reply arrived, by the wall clock shared with the load generator."""

    arrivals: dict[str, float]
    listeners: list[web.StreamResponse]
    verdicts: set[tuple[str, str]]  # (kind, messages) that passed every check

    def __post_init__(self) -> None:
        super().__post_init__()
        self.arrivals = {}
        self.listeners = []
        self.verdicts = set()
        self.app.router.add_get("/stats", self._stats)
        self.app.router.add_get("/arrivals", self._arrivals)

    async def _record(self, sent: Sent) -> None:
        if sent.reply_token:
            self.arrivals[sent.reply_token] = time.time()
            line = (sent.reply_token + "\n").encode()
            for listener in list(self.listeners):
                try:
                    await listener.write(line)
                except (ConnectionError, RuntimeError):  # that load generator has gone
                    self.listeners.remove(listener)
        self.sent_count = getattr(self, "sent_count", 0) + 1  # keep memory flat

    async def _messages(
        self,
        request: web.Request,
        model: type[ReplyMessageRequest] | type[PushMessageRequest],
        kind: str,
    ) -> tuple[Any, dict[str, Any]] | web.Response:
        body = await request.json()
        key = (kind, json.dumps(body.get("messages"), sort_keys=True, ensure_ascii=False))
        if key in self.verdicts and set(body) <= {"replyToken", "to", "messages"}:
            if (refused := await self._gate(request)) is not None:
                return refused
            to, token = body.get("to"), body.get("replyToken")
            if not isinstance(to or token, str):
                return web.json_response({"message": "bad request"}, status=400)
            return SimpleNamespace(to=to, reply_token=token), body
        checked = await super()._messages(_Replay(request, body), model, kind)
        if not isinstance(checked, web.Response):
            self.verdicts.add(key)
        return checked

    async def _arrivals(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        self.listeners.append(response)
        try:
            await asyncio.Event().wait()  # until shutdown (see shutdown_timeout below)
        finally:
            if response in self.listeners:
                self.listeners.remove(response)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"arrivals": self.arrivals, "rejected": len(self.rejected)})


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default="bench-token")
    args = parser.parse_args()
    fake = TimedFakeLine(token=args.token)
    fake.used_tokens = _Forgetful()  # tokens are unique in the benchmark; don't grow a set
    # shutdown_timeout: the /arrivals streams never end by themselves.
    web.run_app(
        fake.app,
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=1,
    )


class _Replay:
    """The request, its JSON body already read (aiohttp reads a body once)."""

    def __init__(self, request: web.Request, body: dict[str, Any]) -> None:
        self.headers, self._body = request.headers, body

    async def json(self) -> dict[str, Any]:
        return self._body


class _Forgetful(set[str]):
    def add(self, _item: str) -> None:
        return None


if __name__ == "__main__":
    main()
