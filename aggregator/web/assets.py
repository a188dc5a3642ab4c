"""Where the reader's templates/ and static/ live, and cache-busting static URLs.

In a source checkout (plain or editable install) they are the top-level templates/
and static/ beside the aggregator package; a wheel ships them inside the package as
aggregator/templates and aggregator/static (see [tool.setuptools.package-dir]).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import url_for

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def asset_dir(name: str) -> Path:
    """Return the folder ``name`` ("templates" or "static"). Raises FileNotFoundError."""
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the reader's {name}/ folder is missing next to {PACKAGE_DIR}")


@cache
def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """Return the URL of a static file, changing whenever its content changes.

    Static responses may then be cached for long (see security.py): a new release
    gets new URLs.
    """
    version = _fingerprint(asset_dir("static") / filename)
    return url_for("reader.static", filename=filename, v=version)
