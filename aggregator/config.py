"""Load and validate feeds.yaml into the typed Config of models.py.

Every problem is a ConfigError carrying file and line, and all problems in a file are
reported together (ConfigErrors), so an admin can fix them in one pass. Pure: reads one
file and stats local feed files, never touches the network or the database. The only
environment variables consulted are in default_config_path() and database_url().

Internally each section is validated by a pydantic model (extra keys forbidden) and the
error locations pydantic reports are mapped back to lines of the ruamel.yaml tree.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NamedTuple, NoReturn, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from aggregator.errors import ConfigError, ConfigErrors
from aggregator.models import (
    CategoryConfig,
    Config,
    FeedConfig,
    OutputConfig,
    PollingConfig,
    PublishConfig,
    SiteConfig,
    StorageConfig,
)

DEFAULT_CONFIG_PATH = "feeds.yaml"
CONFIG_PATH_ENV = "AGGREGATOR_CONFIG"
DATABASE_URL_ENV = "AGGREGATOR_DATABASE_URL"

# A category with this slug would publish at /feeds/all.atom, which means "everything".
RESERVED_SLUGS = frozenset({"all"})

_DURATION_HINT = "use e.g. 30m, 1h, 1d"
_SIZE_HINT = "use e.g. 512KB, 15MB"
_DAY = 24 * 3600


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
_DURATION_UNITS = {"w": 7 * _DAY, "d": _DAY, "h": 3600, "m": 60, "s": 1}


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


def default_config_path() -> str:
    """Return the config path to use when none is given: $AGGREGATOR_CONFIG or feeds.yaml."""
    return os.environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH


def database_url(config: Config) -> str:
    """Return the SQLAlchemy URL to use: $AGGREGATOR_DATABASE_URL, else storage.url.

    The environment value is used as given (a relative sqlite path there is relative to
    the working directory, as SQLAlchemy treats it).
    """
    return os.environ.get(DATABASE_URL_ENV) or config.storage.url


# --- value checks used by the pydantic models ---------------------------------------------


def _duration_between(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        seconds = parse_duration(value)
        if seconds < low:
            raise ValueError(
                f"duration {_shown(value)} is too short (minimum {format_duration(low)})"
            )
        if seconds > high:
            raise ValueError(
                f"duration {_shown(value)} is too long (maximum {format_duration(high)})"
            )
        return seconds

    return check


def _count_between(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_shown(value)}")
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range (use {low} to {high})")
        return int(value)

    return check


def _body_size(value: Any) -> int:
    size = parse_size(value)
    if not 1024 <= size <= 1024**3:
        raise ValueError(f"size {_shown(value)} is out of range (use 1KB to 1GB)")
    return size


def _as_list(value: Any) -> Any:
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


def _optional_text(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Duration = Annotated[int, BeforeValidator(_duration_between(1, 365 * _DAY))]
Timeout = Annotated[int, BeforeValidator(_duration_between(1, _DAY))]
Label = Annotated[str, AfterValidator(_label)]
Text = Annotated[str, AfterValidator(_text)]


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
        validate_default=True,  # so the default sqlite path is resolved like a written one
    )


class _Top(_Section):
    site: Any = None
    storage: Any = None
    polling: Any = None
    categories: Any = None
    feeds: Any = None
    publish: Any = None
    outputs: Any = None


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    if any(c.isspace() for c in value):
        raise ValueError(f"URL {value!r} contains whitespace")
    return value


class _Site(_Section):
    title: Text = SiteConfig.title
    base_url: str = SiteConfig.base_url
    icon: Annotated[str | None, BeforeValidator(_optional_text)] = None
    websub_hub: Annotated[str | None, BeforeValidator(_optional_text)] = None

    @field_validator("icon", "websub_hub")
    @classmethod
    def _optional_absolute_http(cls, value: str | None) -> str | None:
        return None if value is None else _absolute_http_url(value)

    @field_validator("base_url")
    @classmethod
    def _absolute_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"must not have a query or fragment, got {value!r}")
        return value.rstrip("/")


def _retention(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().lower() in ("forever", "never"):
        return None
    return _duration_between(_DAY, 100 * 365 * _DAY)(value)


class _Storage(_Section):
    url: str = StorageConfig.url
    retention: Annotated[int | None, BeforeValidator(_retention)] = StorageConfig.retention_seconds

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_database_url(value, _base_dir(info))


class _Polling(_Section):
    interval: Duration = PollingConfig.interval_seconds
    allow_private_networks: bool = False
    workers: Annotated[int, BeforeValidator(_count_between(1, 256))] = PollingConfig.workers
    per_host: Annotated[int, BeforeValidator(_count_between(1, 64))] = PollingConfig.per_host
    timeout: Timeout = int(PollingConfig.timeout_seconds)
    connect_timeout: Timeout | None = None
    max_body: Annotated[int, BeforeValidator(_body_size)] = PollingConfig.max_body_bytes
    min_interval: Duration = PollingConfig.min_interval_seconds
    max_interval: Duration = PollingConfig.max_interval_seconds
    host_spacing: Annotated[int, BeforeValidator(_duration_between(0, 60))] = int(
        PollingConfig.host_spacing_seconds
    )
    error_threshold: Annotated[int, BeforeValidator(_count_between(1, 1000))] = (
        PollingConfig.error_threshold
    )


class _Category(_Section):
    name: Label
    aliases: Annotated[list[Label], BeforeValidator(_as_list)] = []
    keywords: Annotated[list[Text], BeforeValidator(_as_list)] = []


class _Publish(_Section):
    page_size: Annotated[int, BeforeValidator(_count_between(1, 1000))] = PublishConfig.page_size


class _Output(_Section):
    name: str
    title: Text
    description: Annotated[str | None, BeforeValidator(_optional_text)] = None
    categories: Annotated[list[str], BeforeValidator(_as_list)] = []
    include: Annotated[list[Text], BeforeValidator(_as_list)] = []
    exclude: Annotated[list[Text], BeforeValidator(_as_list)] = []

    @field_validator("name")
    @classmethod
    def _url_slug(cls, value: str) -> str:
        if not value or slugify(value) != value:
            hint = f" (e.g. {slugify(value)!r})" if slugify(value) else ""
            raise ValueError(
                f"{value!r} is not a URL slug: use lower-case letters, digits and '-'{hint}"
            )
        return value


class _Feed(_Section):
    url: str
    title: Annotated[str | None, BeforeValidator(_optional_text)] = None
    category: Annotated[str | None, BeforeValidator(_optional_text)] = None
    interval: Duration | None = None

    @field_validator("url")
    @classmethod
    def _feed_url(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_feed_url(value, _base_dir(info))


# The keys feeds.yaml accepts, by section ("" is the top level; categories and feeds are
# the keys of one list item). For documentation tests and tools.
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "": tuple(_Top.model_fields),
    "site": tuple(_Site.model_fields),
    "storage": tuple(_Storage.model_fields),
    "polling": tuple(_Polling.model_fields),
    "categories": tuple(_Category.model_fields),
    "feeds": tuple(_Feed.model_fields),
    "publish": tuple(_Publish.model_fields),
    "outputs": tuple(_Output.model_fields),
}


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


# --- URLs ----------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SQLITE_RE = re.compile(r"(?P<scheme>sqlite(?:\+\w+)?):///(?P<path>[^?]*)(?P<query>\?.*)?", re.S)
_DB_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+_\-]*://\S*")


def _resolve_database_url(url: str, base_dir: Path) -> str:
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


def _resolve_feed_url(url: str, base_dir: Path) -> str:
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


def _url_identity(url: str) -> str:
    """Return the form in which two feed URLs are compared: scheme and host lower-cased."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{hostport.lower()}"
    return parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()


# --- reading the file ------------------------------------------------------------------------


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigErrors([ConfigError(f"cannot read: {reason}", path)]) from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        message = f"cannot read: not UTF-8 text (byte 0x{data[e.start]:02x})"
        line = data[: e.start].count(b"\n") + 1
        raise ConfigErrors([ConfigError(message, path, line)]) from e


class _Constructor(RoundTripConstructor):
    """ruamel.yaml's round-trip constructor, refusing tags it does not know (`!foo`).

    feeds.yaml has no use for them, and ruamel.yaml's own fallback for them raises from a
    generator finaliser when the document fails elsewhere ("Exception ignored in ...")."""

    def refuse_unknown_tag(self, node: Any) -> NoReturn:
        raise ConstructorError(None, None, f"unknown tag {str(node.tag)!r}", node.start_mark)


_Constructor.add_constructor(None, _Constructor.refuse_unknown_tag)


def _parse_yaml(text: str, path: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        with warnings.catch_warnings():
            # A re-used anchor is legal YAML; ruamel.yaml only warns about it.
            warnings.simplefilter("ignore")
            return yaml.load(text)
    except MarkedYAMLError as e:
        raise ConfigErrors([_yaml_error(e, path)]) from e
    except ReaderError as e:
        line = text[: e.position].count("\n") + 1
        code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or " ")
        error = ConfigError(f"invalid YAML: {e.reason} (character U+{code:04X})", path, line)
        raise ConfigErrors([error]) from e
    except Exception as e:
        # ruamel.yaml's constructors let plain exceptions escape on some malformed input
        # (ValueError for `!!int abc`, IndexError for `!!float`, RecursionError for deep
        # nesting); to the admin these are all invalid YAML.
        reason = str(e) or type(e).__name__
        raise ConfigErrors([ConfigError(f"invalid YAML: {reason}", path)]) from e


def _yaml_error(error: MarkedYAMLError, path: str) -> ConfigError:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = str(error.problem or error.context or "syntax error")
    if isinstance(error, DuplicateKeyError):
        key = re.match(r'found duplicate key "(.*?)" with value', problem, re.S)
        problem = f"duplicate key {key.group(1)!r}" if key else problem
    elif error.context and error.problem:
        problem = f"{error.context}, {problem}"
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    elif "expected <block end>" in problem:
        problem += " (check the indentation)"
    return ConfigError(f"invalid YAML: {problem}", path, line)


# --- locating and wording validation errors --------------------------------------------------

Loc = tuple[str | int, ...]
_KEY_ERRORS = frozenset({"extra_forbidden", "invalid_key"})


def _line_of(root: Any, loc: Loc, at_key: bool) -> int | None:
    """Return the 1-based line of the node at loc (of its key when at_key), or the nearest
    enclosing node's line when loc leads somewhere the file does not have."""
    line: int | None = _node_line(root)
    node = root
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, CommentedMap):
            key = _find_key(node, part)
            if key is _MISSING:
                break
            key_line, value_line = _map_lines(node, key)
            child = node[key]
            use_key = (at_key and last) or isinstance(child, CommentedMap | CommentedSeq)
            line = (key_line if use_key else value_line) or line
            node = child
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = _item_line(node, part) or line
            node = node[part]
        else:
            break
    return line


_MISSING = object()


def _find_key(node: CommentedMap, part: str | int) -> Any:
    if part in node:
        return part
    return next((k for k in node if str(k) == str(part)), _MISSING)


def _map_lines(node: CommentedMap, key: Any) -> tuple[int | None, int | None]:
    try:
        position = node.lc.data[key]
    except (KeyError, TypeError, AttributeError):  # merged (<<:) keys have no position
        return None, None
    return position[0] + 1, position[2] + 1


def _item_line(node: CommentedSeq, index: int) -> int | None:
    try:
        return int(node.lc.data[index][0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _node_line(node: Any) -> int | None:
    try:
        return int(node.lc.line) + 1
    except (AttributeError, TypeError):
        return None


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
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


_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "model_type": "a mapping of keys to values",
    "dict_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def _wording(error: Any, loc: Loc, model: type[BaseModel]) -> str:
    """Return the admin-facing message for one pydantic error at loc (absolute)."""
    kind, where = error["type"], _dotted(loc)
    if kind in _KEY_ERRORS:
        key, parent = loc[-1], _dotted(loc[:-1])
        place = f"in {parent}" if parent else "at the top level"
        return f"unknown key {_shown(key)} {place}{_suggestion(str(key), model)}"
    if kind == "missing":
        return f"{_dotted(loc[:-1]) or 'top level'}: missing required key {loc[-1]!r}"
    if kind == "value_error":
        return f"{where}: {error['ctx']['error']}"
    if kind in _TYPE_WORDS:
        return f"{where}: expected {_TYPE_WORDS[kind]}, got {_shown(error.get('input'))}"
    if kind == "recursion_loop":
        return f"{where}: a YAML alias refers to itself"
    return f"{where}: {error['msg']}"


def _suggestion(key: str, model: type[BaseModel]) -> str:
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (allowed: {', '.join(allowed)})"


# --- building the Config ---------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


class _Claim(NamedTuple):
    """Which category a folded name or alias belongs to, for duplicate checks."""

    name: str
    line: int | None
    owner: Loc  # the category's location, ("categories", index)


class _Loader:
    """One pass over a parsed feeds.yaml, collecting every error before giving up."""

    def __init__(self, path: str, root: Any) -> None:
        self.path = path
        self.root = root
        self.base_dir = Path(os.path.abspath(path)).parent
        self.errors: list[ConfigError] = []

    def error(self, message: str, line: int | None) -> None:
        self.errors.append(ConfigError(message, self.path, line))

    def line(self, loc: Loc, at_key: bool = False) -> int | None:
        return _line_of(self.root, loc, at_key)

    def validate(self, model: type[M], data: Any, loc: Loc) -> M | None:
        """Validate data (found at loc) with model; record errors and return None on failure."""
        try:
            return model.model_validate(data, context={"base_dir": self.base_dir})
        except ValidationError as e:
            for error in e.errors():
                where = loc + tuple(error["loc"])
                at_key = error["type"] in _KEY_ERRORS
                self.error(_wording(error, where, model), self.line(where, at_key))
            return None

    def section(self, model: type[M], name: str) -> M | None:
        data = self.root.get(name) if isinstance(self.root, dict) else None
        return self.validate(model, {} if data is None else data, (name,))

    def items(self, name: str, shorthand: str) -> list[tuple[int, Any]]:
        """Return (index, mapping) for each item of the list at name; a bare string item
        stands for {shorthand: item}."""
        data = self.root.get(name) if isinstance(self.root, dict) else None
        if data is None:
            return []
        if not isinstance(data, list):
            self.error(f"{name}: expected a list, got {_shown(data)}", self.line((name,)))
            return []
        return [
            (index, {shorthand: item} if isinstance(item, str) else item)
            for index, item in enumerate(data)
        ]

    def load(self) -> Config:
        if self.root is not None and not isinstance(self.root, dict):
            self.error(
                f"expected a mapping with keys {', '.join(_Top.model_fields)} "
                f"at the top level, got {_shown(self.root)}",
                _node_line(self.root) or 1,
            )
            return Config(path=self.path)
        self.validate(_Top, self.root or {}, ())
        site = self.section(_Site, "site") or _Site()
        storage = self.section(_Storage, "storage")
        polling = self.section(_Polling, "polling") or _Polling()
        categories, known_labels = self.categories()
        feeds = self.feeds(known_labels)
        publish = self.section(_Publish, "publish") or _Publish()
        outputs = self.outputs(categories, known_labels)
        return Config(
            path=str(Path(os.path.abspath(self.path))),
            site=SiteConfig(
                title=site.title,
                base_url=site.base_url,
                icon=site.icon,
                websub_hub=site.websub_hub,
            ),
            storage=StorageConfig(
                url=storage.url if storage else StorageConfig.url,
                retention_seconds=storage.retention if storage else StorageConfig.retention_seconds,
            ),
            polling=self.polling_config(polling),
            categories=tuple(categories),
            feeds=tuple(feeds),
            publish=PublishConfig(page_size=publish.page_size),
            outputs=tuple(outputs),
        )

    def polling_config(self, polling: _Polling) -> PollingConfig:
        connect_timeout = polling.connect_timeout
        if connect_timeout is None:
            connect_timeout = min(int(PollingConfig.connect_timeout_seconds), polling.timeout)
        elif connect_timeout > polling.timeout:
            connect, total = format_duration(connect_timeout), format_duration(polling.timeout)
            self.error(
                f"polling.connect_timeout ({connect}) is longer than polling.timeout "
                f"({total}), the deadline for the whole fetch",
                self.line(("polling", "connect_timeout")),
            )
        if polling.min_interval > polling.max_interval:
            low, high = format_duration(polling.min_interval), format_duration(polling.max_interval)
            self.error(
                f"polling.min_interval ({low}) is longer than polling.max_interval ({high})",
                self.line(("polling", "min_interval")),
            )
        return PollingConfig(
            min_interval_seconds=polling.min_interval,
            max_interval_seconds=polling.max_interval,
            host_spacing_seconds=float(polling.host_spacing),
            error_threshold=polling.error_threshold,
            interval_seconds=polling.interval,
            allow_private_networks=polling.allow_private_networks,
            workers=polling.workers,
            per_host=polling.per_host,
            timeout_seconds=float(polling.timeout),
            connect_timeout_seconds=float(connect_timeout),
            max_body_bytes=polling.max_body,
        )

    def categories(self) -> tuple[list[CategoryConfig], dict[str, str]]:
        """Return the valid categories and a map of every folded name/alias to its name.

        The names of invalid categories are kept in the map too, so that feeds naming
        them do not get a second, misleading "unknown category" error.
        """
        labels: dict[str, _Claim] = {}  # folded name or alias -> the category it means
        slugs: dict[str, tuple[str, int | None]] = {}
        result: list[CategoryConfig] = []
        for index, data in self.items("categories", "name"):
            loc: Loc = ("categories", index)
            model = self.validate(_Category, data, loc)
            if model is None:
                raw_name = data.get("name") if isinstance(data, dict) else None
                if isinstance(raw_name, str) and fold_label(raw_name):
                    labels.setdefault(fold_label(raw_name), _Claim(raw_name.strip(), None, loc))
                continue
            aliases = self.claim_labels(model, loc, labels)
            if aliases is None or not self.claim_slug(model.name, loc, slugs):
                continue
            keywords = _unique(model.keywords)
            result.append(
                CategoryConfig(
                    name=model.name,
                    slug=slugify(model.name),
                    aliases=tuple(aliases),
                    keywords=tuple(keywords),
                )
            )
        return result, {folded: claim.name for folded, claim in labels.items()}

    def claim_slug(self, name: str, loc: Loc, slugs: dict[str, tuple[str, int | None]]) -> bool:
        slug, line = slugify(name), self.line((*loc, "name"))
        if not slug:
            self.error(f"{_dotted(loc)}.name: {name!r} gives an empty URL slug", line)
            return False
        if slug in RESERVED_SLUGS:
            self.error(
                f"{_dotted(loc)}.name: {name!r} would publish at /feeds/{slug}.atom, "
                "which is reserved for all items; choose another name",
                line,
            )
            return False
        if slug in slugs:
            other, other_line = slugs[slug]
            self.error(
                f"{_dotted(loc)}.name: {name!r} has the same URL slug {slug!r} as "
                f"category {other!r} (line {other_line})",
                line,
            )
            return False
        slugs[slug] = (name, line)
        return True

    def claim_labels(
        self, model: _Category, loc: Loc, labels: dict[str, _Claim]
    ) -> list[str] | None:
        """Register the category's name and aliases (folded) as belonging to it; return its
        aliases without repeats, or None when its name is taken by another category."""
        aliases: list[str] = []
        entries = [(model.name, (*loc, "name"))] + [
            (alias, (*loc, "aliases", i)) for i, alias in enumerate(model.aliases)
        ]
        for label, label_loc in entries:
            is_name = label_loc[-1] == "name"
            folded, line = fold_label(label), self.line(label_loc)
            other = labels.setdefault(folded, _Claim(model.name, line, loc))
            if other.owner != loc:
                what = "category name" if is_name else "alias"
                self.error(
                    f"{_dotted(label_loc)}: duplicate {what} {label!r}: already used by "
                    f"category {other.name!r}" + (f" (line {other.line})" if other.line else ""),
                    line,
                )
                if is_name:
                    return None
            elif not is_name and label.casefold() not in {a.casefold() for a in aliases}:
                aliases.append(label)
        return aliases

    def feeds(self, known_categories: dict[str, str]) -> list[FeedConfig]:
        seen: dict[str, int | None] = {}  # URL identity -> line of its first listing
        result: list[FeedConfig] = []
        for index, data in self.items("feeds", "url"):
            loc: Loc = ("feeds", index)
            model = self.validate(_Feed, data, loc)
            url = model.url if model else self.raw_feed_url(data)
            if url is not None and not self.is_first_listing(url, (*loc, "url"), seen):
                continue
            if model is None:
                continue
            category = self.feed_category(model.category, loc, known_categories)
            result.append(
                FeedConfig(
                    url=model.url,
                    title=model.title,
                    category=category,
                    interval_seconds=model.interval,
                    line=self.line(loc),
                )
            )
        return result

    def raw_feed_url(self, data: Any) -> str | None:
        """Return the resolved URL of a feed item that failed validation, if it has one,
        so that duplicates of it are still reported."""
        raw = data.get("url") if isinstance(data, dict) else None
        if not isinstance(raw, str):
            return None
        try:
            return _resolve_feed_url(raw.strip(), self.base_dir)
        except ValueError:
            return None

    def is_first_listing(self, url: str, loc: Loc, seen: dict[str, int | None]) -> bool:
        identity, line = _url_identity(url), self.line(loc)
        if identity not in seen:
            seen[identity] = line
            return True
        self.error(
            f"{_dotted(loc)}: duplicate feed URL {url!r} (first listed on line {seen[identity]})",
            line,
        )
        return False

    def feed_category(self, written: str | None, loc: Loc, known: dict[str, str]) -> str | None:
        """Return the canonical name of the category a feed names (by name or alias)."""
        if written is None:
            return None
        return self.category_named(written, (*loc, "category"), known)

    def category_named(self, written: str, where: Loc, known: dict[str, str]) -> str | None:
        """Return the canonical name of the category ``written`` (a name or alias) means,
        or None after recording an "unknown category" error at ``where``."""
        name = known.get(fold_label(written))
        if name is not None:
            return name
        message = f"{_dotted(where)}: unknown category {written!r}"
        self.error(message + _category_hint(written, known), self.line(where))
        return None

    def outputs(
        self, categories: list[CategoryConfig], known: dict[str, str]
    ) -> list[OutputConfig]:
        """Return the valid custom outputs; names must not collide with each other, with
        a category's URL slug or with "all"."""
        urls_taken = {category.slug: f"category {category.name!r}" for category in categories}
        result: list[OutputConfig] = []
        for index, data in self.items("outputs", "name"):
            loc: Loc = ("outputs", index)
            model = self.validate(_Output, data, loc)
            if model is None or not self.claim_output_name(model.name, loc, urls_taken):
                continue
            names = [
                self.category_named(written, (*loc, "categories", position), known)
                for position, written in enumerate(model.categories)
            ]
            if None in names:
                continue
            result.append(
                OutputConfig(
                    name=model.name,
                    title=model.title,
                    description=model.description,
                    categories=tuple(dict.fromkeys(name for name in names if name)),
                    include=tuple(_unique(model.include)),
                    exclude=tuple(_unique(model.exclude)),
                    line=self.line(loc),
                )
            )
        return result

    def claim_output_name(self, name: str, loc: Loc, urls_taken: dict[str, str]) -> bool:
        where = (*loc, "name")
        if name in RESERVED_SLUGS:
            self.error(
                f"{_dotted(where)}: {name!r} would publish at /feeds/{name}.atom, "
                "which is reserved for all items; choose another name",
                self.line(where),
            )
            return False
        if name in urls_taken:
            self.error(
                f"{_dotted(where)}: {name!r} would publish at /feeds/{name}.atom, "
                f"which is already the URL of {urls_taken[name]}; choose another name",
                self.line(where),
            )
            return False
        urls_taken[name] = f"output {name!r} (line {self.line(where)})"
        return True


def _category_hint(written: str, known: dict[str, str]) -> str:
    """Return "; did you mean ...?" or the list of categories, for an unknown category."""
    if not known:
        return " (no categories are defined under 'categories:')"
    close = difflib.get_close_matches(fold_label(written), list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {known[close[0]]!r}?"
    return f" (defined: {', '.join(dict.fromkeys(known.values()))})"


def _unique(values: list[str]) -> list[str]:
    """Return values without case-insensitive repeats, the first spelling kept."""
    seen: set[str] = set()
    kept: list[str] = []
    for value in values:
        folded = value.casefold()
        if folded not in seen:
            seen.add(folded)
            kept.append(value)
    return kept


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a feeds.yaml; return the Config it describes.

    Relative sqlite paths and local feed files are resolved against the file's folder.
    Raises ConfigErrors, holding every problem found (sorted by line), and nothing else.
    """
    display = os.fspath(path)
    root = _parse_yaml(_read_text(display), display)
    loader = _Loader(display, root)
    config = loader.load()
    if loader.errors:
        raise ConfigErrors(sorted(loader.errors, key=lambda e: e.line or 0))
    return config
