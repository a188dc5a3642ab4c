"""axe-core, the accessibility checker, for the browser tests.

Fetched at test time from the npm registry with ``npm pack`` (never from a CDN, never
committed) into test-artifacts/cache/, and run inside the page under test with
Playwright's ``evaluate`` (not a <script> tag: the reader's CSP forbids inline script,
and loosening it for tests would hide real violations). ``AGGREGATOR_AXE_JS`` names an
axe.min.js to use instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

AXE_VERSION = "4.14.1"
CACHE = REPO_ROOT / "test-artifacts" / "cache"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"  # left for a person to look at
# Rules as WCAG 2.1 A and AA state them, plus axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SERIOUS = {"serious", "critical"}


def axe_source() -> str:
    """Return axe.min.js, fetching it once; skip the test (saying why) when it cannot be."""
    given = os.environ.get("AGGREGATOR_AXE_JS")
    if given:
        return Path(given).read_text(encoding="utf-8")
    cached = CACHE / f"axe-core-{AXE_VERSION}.min.js"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: axe-core cannot be fetched (or set AGGREGATOR_AXE_JS)")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(CACHE)],
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"npm pack axe-core@{AXE_VERSION} failed: {e}")
    archive = CACHE / f"axe-core-{AXE_VERSION}.tgz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile("package/axe.min.js")
        assert member is not None
        source = member.read().decode("utf-8")
    cached.write_text(source, encoding="utf-8")
    archive.unlink()
    return source


def serious_violations(page: Any, source: str) -> list[str]:
    """Run axe on the page; return its serious and critical violations, described."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source + "\n;undefined")
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    found = []
    for violation in result["violations"]:
        if violation["impact"] in SERIOUS:
            nodes = violation["nodes"][:5]
            targets = [" ".join(map(str, node["target"])) for node in nodes]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
            found.extend(f"  {node['failureSummary']}" for node in nodes[:2])
    return found
