"""Command line: ``python -m bot ask|serve|worker|migrate|staff|groups|line|telegram``."""

from __future__ import annotations

import argparse
import logging

from bot.cli_words import say
from bot.config import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=say("cli", "description"))
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="chat on the command line")
    ask.add_argument("--json", action="store_true", help="read lines, print one JSON per line")
    ask.add_argument("--user", default="cli-user", help="user id kept across calls")
    serve = sub.add_parser("serve", help="serve the bot (web chat and webhooks)")
    serve.add_argument("--host", help="bind address (default $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default $PORT or 8080)")
    sub.add_parser("migrate", help="apply database migrations")
    admin = sub.add_parser("admin", help="the center's console").add_subparsers(
        dest="admin_command", required=True
    )
    create = admin.add_parser("create-user", help="the same as: staff add NAME")
    create.add_argument("username")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    staff = sub.add_parser("staff", help="the console's staff accounts").add_subparsers(
        dest="staff_command", required=True
    )
    staff.add_parser("list", help="every account: last sign-in, locked, disabled")
    for name, text in (
        ("add", "create an account (asks for a password)"),
        ("reset-password", "set a new password (asks for it); ends the account's sessions"),
        ("unlock", "forget the account's failed sign-ins"),
        ("disable", "no more sign-ins; ends the account's sessions"),
        ("enable", "allow a disabled account to sign in again"),
    ):
        command = staff.add_parser(name, help=text)
        command.add_argument("username")
        if name in ("add", "reset-password"):
            command.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )
    groups = sub.add_parser("groups", help="the group directory").add_subparsers(
        dest="groups_command", required=True
    )
    imp = groups.add_parser("import", help="import a directory CSV (all rows or none)")
    imp.add_argument("file", help="CSV file (UTF-8 or Shift_JIS)")
    exp = groups.add_parser("export", help="print the directory as CSV")
    exp.add_argument("--out", help="write to this file (UTF-8 with BOM, for Excel)")
    exp.add_argument("--samples", action="store_true", help="include the sample groups")
    inv = groups.add_parser("invite", help="issue a one-time invite code for a representative")
    inv.add_argument("group_key", help="the group's key in the directory")
    line = sub.add_parser("line", help="LINE set-up").add_subparsers(
        dest="line_command", required=True
    )
    menu = line.add_parser("setup-richmenu", help="create the rich menu and make it the default")
    menu.add_argument("--font", help="draw the images now with this font (default: the kept ones)")
    menu.add_argument("--save", help="also save the image to this PNG file")
    drawing = line.add_parser(
        "draw-richmenu", help="draw the rich menu images again (after knowledge/richmenu.toml)"
    )
    drawing.add_argument("--font", help="a font that can draw Japanese (default: one installed)")
    drawing.add_argument("--out", help="folder to write to (default: bot/static/richmenu)")
    tg = sub.add_parser("telegram", help="Telegram set-up").add_subparsers(
        dest="telegram_command", required=True
    )
    tg.add_parser("set-webhook", help="register PUBLIC_URL/callback/telegram with the secret")
    worker = sub.add_parser("worker", help="send reminders and deliver notices")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the process exit code."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "ask":
        from bot.adapters.cli import ask
        from bot.runtime import open_conversation

        return ask(open_conversation(settings), args.user, args.json)
    if args.command == "serve":
        from bot.server import serve

        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        serve(settings, host=args.host, port=args.port)
        return 0
    if args.command == "groups":
        from bot.groups_cli import run

        return run(args, settings)
    if args.command == "line" and args.line_command == "draw-richmenu":
        return _draw_richmenu(args)
    if args.command in ("worker", "line", "telegram"):
        import asyncio

        from bot.platforms import run_platform_command

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        return asyncio.run(run_platform_command(args, settings))
    if args.command == "admin":
        args.staff_command = "add"
    if args.command in ("admin", "staff"):
        from bot.staff_cli import run as run_staff

        return run_staff(args, settings)
    if args.command == "migrate":
        from storage import create_db_engine, migrate

        migrate(create_db_engine(settings.database_url))
        return 0
    return 2


def _draw_richmenu(args: argparse.Namespace) -> int:
    """``line draw-richmenu``: both menu images, drawn with a Japanese font, written out."""
    from pathlib import Path

    from bot.richmenu import ASSETS, save_assets  # Pillow, only for this command

    try:
        written = save_assets(args.font, Path(args.out) if args.out else ASSETS)
    except ValueError as exc:
        print(say("cli", "no_font", error=exc))
        return 2
    for path in written:
        print(say("cli", "drawn", path=path))
    return 0
