"""``python -m bot staff list|add|reset-password|unlock|disable|enable``: the console's staff
accounts from the server's shell. Passwords are asked for (twice) or read from stdin with
``--password-stdin``, never taken from the command line (other users can read it in ``ps``).
Every change is written to the console's audit log."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from bot.admin.words import w
from bot.config import Settings
from knowledge.when import TOKYO
from storage import Store, create_db_engine, migrate
from storage.staff_accounts import MIN_PASSWORD, StaffAccount


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a staff sub-command; returns the exit code."""
    password = ""
    if args.staff_command in ("add", "reset-password"):
        password = _read_password(args.password_stdin)
        if not password:
            return 1
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine)
    try:
        return _run(store, args.staff_command, getattr(args, "username", "")[:64], password)
    finally:
        store.close()


def _read_password(from_stdin: bool) -> str:
    """The password, or "" after saying what is wrong with it."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(w("staff_cli", "prompt"))
        if password != getpass.getpass(w("staff_cli", "prompt_again")):
            print(w("staff_cli", "mismatch"))
            return ""
    if len(password) < MIN_PASSWORD:
        print(w("staff_cli", "too_short", n=MIN_PASSWORD))
        return ""
    return password


def _run(store: Store, command: str, username: str, password: str) -> int:
    now = datetime.now(UTC)
    actor = w("staff_cli", "actor")
    if command == "list":
        for listed in store.staff_accounts(now):
            print(_line(listed))
        return 0
    if command == "add":
        if not store.create_staff(username, password):
            print(w("staff_cli", "taken", user=username))
            return 1
        store.audit(actor, "staff_added", w("staff", "audit_added", user=username))
        print(w("staff_cli", "added", user=username))
        return 0
    account = store.find_staff(username, now)
    if account is None:
        print(w("staff_cli", "no_such", user=username))
        return 1
    if command == "reset-password":
        store.set_staff_password(account.id, password, now)
        detail = w("staff", "audit_password_typed", user=username)
        store.audit(actor, "staff_password_reset", detail)
    elif command == "unlock":
        store.unlock_staff(account.id)
        store.audit(actor, "staff_unlocked", w("staff", "audit_unlocked", user=username))
    else:
        disabled = command == "disable"
        store.set_staff_disabled(account.id, disabled, now)
        action = "disabled" if disabled else "enabled"
        store.audit(actor, f"staff_{action}", w("staff", f"audit_{action}", user=username))
    print(w("staff_cli", command.replace("-", "_"), user=username))
    return 0


def _line(account: StaffAccount) -> str:
    states = [w("staff", "disabled")] if account.disabled else []
    if account.locked:
        states.append(w("staff", "locked"))
    last = (
        account.last_login_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
        if account.last_login_at
        else w("staff", "never")
    )
    return w(
        "staff_cli",
        "row",
        user=account.username,
        state=w("staff", "joiner").join(states) or w("staff", "active"),
        last=last,
        sessions=account.sessions,
    )
