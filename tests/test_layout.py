"""The module boundaries of DESIGN.md, checked on the source: one importer of
feedparser and one of feedgen, Flask only in the web package, SQL only in storage,
and the pure modules free of I/O libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aggregator"


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a source file imports (at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def importers_of(library: str) -> set[str]:
    return {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if library in imported_modules(path)
    }


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("feedparser", {"aggregator/parse.py"}),
        ("feedgen", {"aggregator/publish_feedgen.py"}),
        ("nh3", {"aggregator/sanitize.py"}),
    ],
)
def test_one_module_imports_each_wrapped_library(library: str, allowed: set[str]) -> None:
    assert importers_of(library) == allowed


def test_flask_only_in_the_web_package_and_sql_only_in_storage() -> None:
    assert all(path.startswith("aggregator/web/") for path in importers_of("flask"))
    assert all(path.startswith("aggregator/storage/") for path in importers_of("sqlalchemy"))


@pytest.mark.parametrize(
    "module",
    [
        "config.py",
        "sanitize.py",
        "dedup.py",
        "categorize.py",
        "schedule.py",
        "process/stories.py",
        "process/sections.py",
        "process/_features.py",
        "process/_prior.py",
    ],
)
def test_pure_modules_do_no_io(module: str) -> None:
    io_libraries = {"urllib3", "socket", "sqlalchemy", "flask", "requests", "httpx"}
    assert not imported_modules(PACKAGE / module) & io_libraries
