"""The Python API as the README shows it: the example runs, and the public face
exports what it promises (and loads lazily)."""

from __future__ import annotations

import re
import subprocess
import sys

import aggregator
from tests.clock import subprocess_env
from tests.conftest import REPO_ROOT


def readme_example() -> str:
    """The Python block of the README's "Use it from Python" section."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its Python example"
    return match.group(1)


def test_the_readme_example_runs_as_written() -> None:
    result = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"\d+ new entries from 6 feeds", lines[0]), lines
    assert int(lines[0].split()[0]) > 0
    assert len([line for line in lines if line.startswith("- ")]) == 5
    assert re.fullmatch(r"\d+ bytes of Atom; unread: \d+", lines[-1]), lines


def test_the_public_face_exports_every_name_it_lists() -> None:
    for name in aggregator.__all__:
        assert getattr(aggregator, name) is not None, name
    assert aggregator.Aggregator.__module__ == "aggregator.core"


def test_importing_the_package_loads_nothing_heavy() -> None:
    probe = (
        "import sys, aggregator; "
        "print(sorted(m for m in ('feedparser', 'sqlalchemy', 'flask', 'aggregator.core') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
