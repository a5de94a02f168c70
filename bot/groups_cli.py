"""``python -m bot groups import|export``: the directory as the 市民活動センター keeps it."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from bot import directory_csv
from bot.cli_words import say
from bot.config import Settings
from knowledge.fields import FieldIndex
from knowledge.places import PlaceIndex
from knowledge.when import TOKYO
from storage import Store, create_db_engine, migrate


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a groups sub-command; returns the exit code."""
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine)
    try:
        if args.groups_command == "import":
            return _import(store, Path(args.file))
        if args.groups_command == "invite":
            if settings.sample_groups:  # as `make run` would: the demo directory, if empty
                directory_csv.load_samples_if_empty(store, FieldIndex.load(), PlaceIndex.load())
            return _invite(store, args.group_key)
        return _export(store, args.out, args.samples)
    finally:
        store.close()


def _import(store: Store, path: Path) -> int:
    try:
        size = path.stat().st_size
        if size > directory_csv.MAX_BYTES:
            limit = directory_csv.MAX_BYTES
            print(say("groups", "too_large", size=f"{size:,}", limit=f"{limit:,}"))
            return 1
        data = path.read_bytes()
    except OSError as exc:
        print(say("groups", "unreadable", error=exc), file=sys.stderr)
        return 1
    parsed, summary = directory_csv.import_csv(store, data, FieldIndex.load(), PlaceIndex.load())
    for warning in parsed.warnings:
        print(say("groups", "warning", warning=warning))
    if summary is None:
        print(say("groups", "not_imported", n=len(parsed.errors)))
        for problem in parsed.errors[:200]:
            print(say("groups", "problem", problem=problem))
        if len(parsed.errors) > 200:
            print(say("groups", "more_problems", n=len(parsed.errors) - 200))
        return 1
    done = say("groups", "imported", encoding=parsed.encoding, created=summary.created,
               updated=summary.updated)  # fmt: skip
    left = say("groups", "samples_left", n=summary.samples_left) if summary.samples_left else ""
    print(done + left)
    return 0


def _export(store: Store, out: str | None, samples: bool) -> int:
    buffer = io.StringIO()
    count = directory_csv.write_rows(store.directory_rows(include_samples=samples), buffer)
    if out:
        # Excel in Japan opens UTF-8 only with a BOM.
        Path(out).write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
        print(say("groups", "exported", n=count, path=out), file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _invite(store: Store, group_key: str) -> int:
    issued = store.issue_invite(group_key)
    if issued is None:
        print(say("groups", "no_group", key=group_key))
        return 1
    code, expires = issued
    local = expires.astimezone(TOKYO)
    print(say("groups", "invite_code", code=code))
    print(say("groups", "invite_expires", expires=f"{local:%Y-%m-%d %H:%M}"))
    print(say("groups", "invite_how", code=code))
    return 0
