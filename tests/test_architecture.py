"""The layout rules a newcomer relies on: the core never imports a platform SDK."""

from __future__ import annotations

import ast
import re
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


# A path that leaves the repository: a parent folder, an absolute home of this machine, or a
# parent of the repository's root. A user's clone has nothing beside it.
OUTSIDE = re.compile(r"\.\./|/work/|/shared/|parents\[[2-9]\]|expanduser\(|Path\.home\(")
# .ci/run is the one place that may name the copy CI has (it sets TSUNAGARU_GUIDELINE).
OUTSIDE_ALLOWED = {".ci/run", "tests/test_architecture.py"}


# Folders that are made, not written: the venv, caches, the local database.
NOT_SOURCE = {".git", ".venv", "var", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}


def test_nothing_reads_a_path_outside_the_repository() -> None:
    files = [
        p
        for p in ROOT.rglob("*")
        if p.is_file()
        and not NOT_SOURCE & set(p.relative_to(ROOT).parts)
        and p.suffix != ".md"
        and p.relative_to(ROOT).as_posix() not in OUTSIDE_ALLOWED
    ]
    assert len(files) > 50
    hits = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (images, fonts)
        hits += [
            f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1)
            if OUTSIDE.search(line)
        ]
    assert hits == []
