"""The command-line chat (``python -m bot ask``): interactive, or JSON lines for scripts."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from bot.cli_words import say, words
from intents.conversation import Conversation
from intents.types import Inbound

PLATFORM = "cli"


def run_json(conversation: Conversation, user: str, stdin: TextIO, stdout: TextIO) -> int:
    """One utterance per input line → one JSON object per output line."""
    for line in stdin:
        reply = conversation.handle(Inbound(PLATFORM, user, text=line.rstrip("\r\n")))
        stdout.write(json.dumps(reply.to_dict(), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def run_interactive(conversation: Conversation, user: str, stdin: TextIO, stdout: TextIO) -> int:
    """A terminal chat. Type a number to tap a choice; Ctrl-D or 「終了」 to leave."""
    stdout.write(say("chat", "hello") + "\n")
    first = conversation.handle(Inbound(PLATFORM, user, payload="welcome"))
    stdout.write(first.as_plain_text() + "\n")
    while True:
        stdout.write("\n" + say("chat", "you"))
        stdout.flush()
        line = stdin.readline()
        if not line or line.strip() in words("chat", "quit_words"):
            stdout.write("\n" + say("chat", "bye") + "\n")
            return 0
        reply = conversation.handle(Inbound(PLATFORM, user, text=line.rstrip("\r\n")))
        stdout.write("\n" + say("chat", "bot") + reply.as_plain_text() + "\n")


def ask(conversation: Conversation, user: str, as_json: bool) -> int:
    """Entry point of ``python -m bot ask``."""
    if as_json or not sys.stdin.isatty():
        return run_json(conversation, user, sys.stdin, sys.stdout)
    return run_interactive(conversation, user, sys.stdin, sys.stdout)
