"""``python -m bot groups import|export``: the directory as the 市民活動センター keeps it."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from bot import directory_csv
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
            print(f"エラー: ファイルが大きすぎます（{size:,} バイト。上限 {limit:,}）")
            return 1
        data = path.read_bytes()
    except OSError as exc:
        print(f"エラー: ファイルを読めません: {exc}", file=sys.stderr)
        return 1
    parsed, summary = directory_csv.import_csv(store, data, FieldIndex.load(), PlaceIndex.load())
    for warning in parsed.warnings:
        print(f"注意: {warning}")
    if summary is None:
        print(
            f"取り込みませんでした（{len(parsed.errors)}件の問題。データベースは変更していません）:"
        )
        for problem in parsed.errors[:200]:
            print(f"  {problem}")
        if len(parsed.errors) > 200:
            print(f"  …ほか{len(parsed.errors) - 200}件")
        return 1
    print(
        f"取り込みました（{parsed.encoding}）: 新規 {summary.created}件・更新 {summary.updated}件"
        + (
            f"（サンプル {summary.samples_left}件はそのまま。コンソールの「団体」で削除できます）"
            if summary.samples_left
            else ""
        )
    )
    return 0


def _export(store: Store, out: str | None, samples: bool) -> int:
    buffer = io.StringIO()
    count = directory_csv.write_rows(store.directory_rows(include_samples=samples), buffer)
    if out:
        # Excel in Japan opens UTF-8 only with a BOM.
        Path(out).write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
        print(f"{count}件を書き出しました: {out}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _invite(store: Store, group_key: str) -> int:
    issued = store.issue_invite(group_key)
    if issued is None:
        print(f"エラー: key「{group_key}」の団体はありません（groups export で確認できます）")
        return 1
    code, expires = issued
    local = expires.astimezone(TOKYO)
    print(f"招待コード: {code}")
    print(f"有効期限: {local:%Y-%m-%d %H:%M}（日本時間）まで・1回だけ使えます")
    print("代表者は、ボットに「招待コード " + code + "」と送ってください。")
    return 0
