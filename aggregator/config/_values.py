"""The values feeds.yaml holds: durations, sizes, labels, slugs and URLs, checked and converted.

Pure functions raising ValueError with a message for the admin; the pydantic section
models (config_schema.py) use them as validators, and slugify/fold_label are also how
the rest of the program names and matches categories.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, BeforeValidator

_DURATION_HINT = "use e.g. 30m, 1h, 1d"
_SIZE_HINT = "use e.g. 512KB, 15MB"
DAY = 24 * 3600

# --- small pure helpers ------------------------------------------------------------------


def slugify(name: str) -> str:
    """Return the URL slug of a category name: "US Military" -> "us-military".

    Lower-cased, accents dropped, runs of anything but letters and digits turned into "-",
    leading and trailing "-" stripped. May be "" when the name has no letters or digits.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return re.sub(r"[\W_]+", "-", plain).strip("-")


def fold_label(label: str) -> str:
    """Return the matching key of a category name, alias or item tag.

    Case, accents, spacing and punctuation are folded away, so "Us News", "U.S. News",
    "us-news" and "US  NEWS" all give "usnews".
    """
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", label))
    kept = "".join(c for c in decomposed.casefold() if c.isalnum())
    return unicodedata.normalize("NFKC", kept)


_DURATION_RE = re.compile(
    r"(?:(?P<w>[0-9]+)\s*w)?\s*(?:(?P<d>[0-9]+)\s*d)?\s*(?:(?P<h>[0-9]+)\s*h)?"
    r"\s*(?:(?P<m>[0-9]+)\s*m)?\s*(?:(?P<s>[0-9]+)\s*s)?",
    re.IGNORECASE,
)
_DURATION_UNITS = {"w": 7 * DAY, "d": DAY, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str | int) -> int:
    """Return the number of seconds in "30m", "1h", "90s", "1d", "1h30m", "2w" or "45".

    A plain integer (or digits-only text) is seconds. Raises ValueError with a message
    suitable for the admin when the text is not a duration or is negative.
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ValueError(f"invalid duration {text!r} ({_DURATION_HINT})")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"invalid duration {text} (must not be negative)")
        return int(text)
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    match = _DURATION_RE.fullmatch(stripped)
    if not stripped or match is None or not any(match.groupdict().values()):
        raise ValueError(f"invalid duration {text!r} ({_DURATION_HINT})")
    return sum(int(n) * _DURATION_UNITS[unit] for unit, n in match.groupdict().items() if n)


def format_duration(seconds: int) -> str:
    """Return the shortest duration text for a number of seconds: 5400 -> "1h30m"."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _DURATION_UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmg]i?b?|b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str | int) -> int:
    """Return the number of bytes in "15MB", "512KB", "1.5GB", "2MiB" or "4096".

    Units are binary (1KB = 1024 bytes); a plain integer is bytes. Raises ValueError.
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ValueError(f"invalid size {text!r} ({_SIZE_HINT})")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"invalid size {text} (must not be negative)")
        return int(text)
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid size {text!r} ({_SIZE_HINT})")
    number, unit = match.groups()
    return int(Decimal(number) * _SIZE_UNITS[(unit or "")[:1].lower()])


# --- value checks used by the pydantic models ---------------------------------------------


def duration_between(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        seconds = parse_duration(value)
        if seconds < low:
            raise ValueError(
                f"duration {shown(value)} is too short (minimum {format_duration(low)})"
            )
        if seconds > high:
            raise ValueError(
                f"duration {shown(value)} is too long (maximum {format_duration(high)})"
            )
        return seconds

    return check


def count_between(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {shown(value)}")
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range (use {low} to {high})")
        return int(value)

    return check


def body_size(value: Any) -> int:
    size = parse_size(value)
    if not 1024 <= size <= 1024**3:
        raise ValueError(f"size {shown(value)} is out of range (use 1KB to 1GB)")
    return size


def share(value: Any) -> float:
    """A share of a whole: "50%", or a number from 0 to 1 (0.5)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1].strip()
        try:
            fraction = float(Decimal(number) / 100)
        except ArithmeticError:
            raise ValueError(f"invalid share {shown(value)} (use e.g. 50% or 0.5)") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        fraction = float(value)
    else:
        raise ValueError(f"invalid share {shown(value)} (use e.g. 50% or 0.5)")
    if not 0 <= fraction <= 1:
        raise ValueError(f"share {shown(value)} is out of range (use 0% to 100%)")
    return fraction


def as_list(value: Any) -> Any:
    # `aliases: Defense` is read as a one-item list; `aliases:` (empty) as none.
    if value is None:
        return []
    return [value] if isinstance(value, str | int | float) else value


def _label(value: str) -> str:
    if not fold_label(value):
        raise ValueError(f"{value!r} has no letters or digits")
    return " ".join(value.split())


def _text(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return " ".join(value.split())


def optional_text(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Duration = Annotated[int, BeforeValidator(duration_between(1, 365 * DAY))]
Timeout = Annotated[int, BeforeValidator(duration_between(1, DAY))]
Label = Annotated[str, AfterValidator(_label)]
Text = Annotated[str, AfterValidator(_text)]


def unique(values: list[str]) -> list[str]:
    """Return values without case-insensitive repeats, the first spelling kept."""
    seen: set[str] = set()
    kept: list[str] = []
    for value in values:
        folded = value.casefold()
        if folded not in seen:
            seen.add(folded)
            kept.append(value)
    return kept


def shown(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- URLs ----------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SQLITE_RE = re.compile(r"(?P<scheme>sqlite(?:\+\w+)?):///(?P<path>[^?]*)(?P<query>\?.*)?", re.S)
_DB_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+_\-]*://\S*")


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative sqlite path absolute against base_dir; other URLs pass unchanged."""
    sqlite = _SQLITE_RE.fullmatch(url)
    if sqlite:
        path = sqlite["path"]
        if path in ("", ":memory:") or path.startswith("file:"):
            return url
        absolute = os.path.abspath(base_dir / os.path.expanduser(path))
        return f"{sqlite['scheme']}:///{absolute}{sqlite['query'] or ''}"
    if url.lower().startswith("sqlite") and _DB_URL_RE.fullmatch(url):
        return url  # sqlite:// (in memory) and other forms SQLAlchemy understands
    if not _DB_URL_RE.fullmatch(url):
        raise ValueError(
            f"not a database URL: {url!r} "
            "(use e.g. sqlite:///aggregator.db or postgresql+psycopg://user@host/dbname)"
        )
    return url


def resolve_feed_url(url: str, base_dir: Path) -> str:
    """Return an http(s) URL as written, or a local path as an absolute file:// URL."""
    if not url:
        raise ValueError("empty URL")
    if url.startswith("//"):
        raise ValueError(f"URL {url!r} has no scheme; write 'https:{url}'")
    scheme_match = _SCHEME_RE.match(url)
    if scheme_match is None:
        return _local_file_url(os.path.expanduser(url), base_dir, url)
    scheme = scheme_match.group()[:-1].lower()
    if scheme == "file":
        return _local_file_url(_file_url_path(url), base_dir, url)
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r} (use http, https or file)")
    if any(c.isspace() for c in url):
        raise ValueError(f"URL {url!r} contains whitespace")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"URL {url!r} has an invalid port") from None
    if not parts.hostname:
        raise ValueError(f"URL {url!r} has no host")
    return url


def _file_url_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file URL {url!r} names a host; only local files are allowed")
    if parts.query or parts.fragment:
        raise ValueError(f"file URL {url!r} must not have a query or fragment")
    if not parts.path:
        raise ValueError(f"file URL {url!r} has no path")
    return unquote(parts.path)


def _local_file_url(path: str, base_dir: Path, written: str) -> str:
    absolute = Path(os.path.abspath(base_dir / path))
    try:
        exists, is_file = absolute.exists(), absolute.is_file()
    except (OSError, ValueError) as e:  # name too long, embedded NUL, ...
        raise ValueError(
            f"cannot use {str(absolute)!r}: {getattr(e, 'strerror', None) or e}"
        ) from e
    if not exists:
        hint = ""
        if re.match(r"(www\.|[\w-]+(\.[\w-]+)+/)", written):
            hint = f" (for a web feed write 'https://{written}')"
        raise ValueError(f"file not found: {absolute}{hint}")
    if not is_file:
        raise ValueError(f"not a file: {absolute}")
    return absolute.as_uri()


def url_identity(url: str) -> str:
    """Return the form in which two feed URLs are compared: scheme and host lower-cased."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{hostport.lower()}"
    return parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()
