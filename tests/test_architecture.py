"""The layout rules a newcomer relies on: the core never imports a platform SDK."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANNED = {"linebot", "telegram", "aiohttp"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_platform_sdk() -> None:
    files = [p for pkg in ("intents", "knowledge", "storage") for p in (ROOT / pkg).rglob("*.py")]
    assert len(files) > 10
    offenders = {str(p.relative_to(ROOT)): _imports(p) & BANNED for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_storage_is_the_only_sql_speaker() -> None:
    for pkg in ("intents", "knowledge", "bot"):
        for path in (ROOT / pkg).rglob("*.py"):
            assert "sqlalchemy" not in _imports(path), path
            assert "sqlmodel" not in _imports(path), path
