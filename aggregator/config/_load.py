"""Load and validate feeds.yaml into the typed Config of models.py.

Every problem is a ConfigError carrying file and line, and all problems in a file are
reported together (ConfigErrors), so an admin can fix them in one pass. Pure: reads one
file and stats local feed files, never touches the network or the database. The only
environment variables consulted are in default_config_path() and database_url().

Internally each section is validated by a pydantic model (extra keys forbidden) and the
error locations pydantic reports are mapped back to lines of the ruamel.yaml tree.
The work is shared with config_values.py (checking and converting single values),
config_schema.py (the section models) and config_yaml.py (reading the file, lines
and error wording); this module builds the Config and is the public face of all four.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from aggregator.config._schema import (
    Category,
    Feed,
    Health,
    Output,
    Polling,
    Publish,
    Site,
    Storage,
    Stories,
    Top,
)
from aggregator.config._types import (
    ACCESS_MODES,
    PRIVATE,
    Config,
    FeedConfig,
    HealthConfig,
    OutputConfig,
    PollingConfig,
    PublishConfig,
    SectionConfig,
    SiteConfig,
    StorageConfig,
    StoriesConfig,
)
from aggregator.config._values import (
    fold_label,
    format_duration,
    resolve_feed_url,
    shown,
    slugify,
    unique,
    url_identity,
)
from aggregator.config._yaml import (
    KEY_ERRORS,
    Loc,
    dotted,
    line_of,
    node_line,
    parse_yaml,
    read_text,
    wording,
)
from aggregator.errors import ConfigError, ConfigErrors

DEFAULT_CONFIG_PATH = "feeds.yaml"
CONFIG_PATH_ENV = "AGGREGATOR_CONFIG"
DATABASE_URL_ENV = "AGGREGATOR_DATABASE_URL"

# A category with this slug would publish at /feeds/all.atom, which means "everything".
RESERVED_SLUGS = frozenset({"all"})


def default_config_path() -> str:
    """Return the config path to use when none is given: $AGGREGATOR_CONFIG or feeds.yaml."""
    return os.environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH


def database_url(config: Config) -> str:
    """Return the SQLAlchemy URL to use: $AGGREGATOR_DATABASE_URL, else storage.url.

    The environment value is used as given (a relative sqlite path there is relative to
    the working directory, as SQLAlchemy treats it).
    """
    return os.environ.get(DATABASE_URL_ENV) or config.storage.url


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

    def where(self, loc: Loc) -> str:
        """``loc`` in the admin's words (feeds counted from 1 and named by URL)."""
        return dotted(loc, self.root)

    def line(self, loc: Loc, at_key: bool = False) -> int | None:
        return line_of(self.root, loc, at_key)

    def validate(self, model: type[M], data: Any, loc: Loc) -> M | None:
        """Validate data (found at loc) with model; record errors and return None on failure."""
        try:
            return model.model_validate(data, context={"base_dir": self.base_dir})
        except ValidationError as e:
            for error in e.errors():
                where = loc + tuple(error["loc"])
                at_key = error["type"] in KEY_ERRORS
                self.error(wording(error, where, model, self.root), self.line(where, at_key))
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
            self.error(f"{name}: expected a list, got {shown(data)}", self.line((name,)))
            return []
        return [
            (index, {shorthand: item} if isinstance(item, str) else item)
            for index, item in enumerate(data)
        ]

    def load(self) -> Config:
        if self.root is not None and not isinstance(self.root, dict):
            self.error(
                f"expected a mapping with keys {', '.join(Top.model_fields)} "
                f"at the top level, got {shown(self.root)}",
                node_line(self.root) or 1,
            )
            return Config(path=self.path)
        self.validate(Top, self.root or {}, ())
        site = self.section(Site, "site") or Site()
        storage = self.section(Storage, "storage")
        polling = self.section(Polling, "polling") or Polling()
        categories, known_labels = self.categories()
        feeds = self.feeds(known_labels)
        publish = self.section(Publish, "publish") or Publish()
        outputs = self.outputs(categories, known_labels)
        health = self.section(Health, "health") or Health()
        stories = self.section(Stories, "stories") or Stories()
        access = self.access()
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
            sections=tuple(categories),
            feeds=tuple(feeds),
            publish=PublishConfig(page_size=publish.page_size),
            outputs=tuple(outputs),
            health=HealthConfig(failing_share=health.failing_feeds),
            stories=StoriesConfig(
                window_seconds=stories.window, new_report_unreads=stories.new_report_unreads
            ),
            access=access,
        )

    def access(self) -> str:
        """Who may read the web reader once accounts exist: private (the default) or
        public."""
        value = self.root.get("access") if isinstance(self.root, dict) else None
        if value is None:
            return PRIVATE
        if isinstance(value, str) and value.strip().lower() in ACCESS_MODES:
            return value.strip().lower()
        self.error(
            f"access: expected {' or '.join(repr(mode) for mode in ACCESS_MODES)}, "
            f"got {shown(value)}",
            self.line(("access",)),
        )
        return PRIVATE

    def polling_config(self, polling: Polling) -> PollingConfig:
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

    def categories(self) -> tuple[list[SectionConfig], dict[str, str]]:
        """Return the valid categories and a map of every folded name/alias to its name.

        The names of invalid categories are kept in the map too, so that feeds naming
        them do not get a second, misleading "unknown category" error.
        """
        labels: dict[str, _Claim] = {}  # folded name or alias -> the category it means
        slugs: dict[str, tuple[str, int | None]] = {}
        result: list[SectionConfig] = []
        for index, data in self.items("categories", "name"):
            loc: Loc = ("categories", index)
            model = self.validate(Category, data, loc)
            if model is None:
                raw_name = data.get("name") if isinstance(data, dict) else None
                if isinstance(raw_name, str) and fold_label(raw_name):
                    labels.setdefault(fold_label(raw_name), _Claim(raw_name.strip(), None, loc))
                continue
            aliases = self.claim_labels(model, loc, labels)
            if aliases is None or not self.claim_slug(model.name, loc, slugs):
                continue
            keywords = unique(model.keywords)
            result.append(
                SectionConfig(
                    name=model.name,
                    slug=slugify(model.name),
                    aliases=tuple(aliases),
                    keywords=tuple(keywords),
                    include=tuple(unique(model.include)),
                    exclude=tuple(unique(model.exclude)),
                )
            )
        return result, {folded: claim.name for folded, claim in labels.items()}

    def claim_slug(self, name: str, loc: Loc, slugs: dict[str, tuple[str, int | None]]) -> bool:
        slug, line = slugify(name), self.line((*loc, "name"))
        if not slug:
            self.error(f"{self.where((*loc, 'name'))}: {name!r} gives an empty URL slug", line)
            return False
        if slug in RESERVED_SLUGS:
            self.error(
                f"{self.where((*loc, 'name'))}: {name!r} would publish at /feeds/{slug}.atom, "
                "which is reserved for all items; choose another name",
                line,
            )
            return False
        if slug in slugs:
            other, other_line = slugs[slug]
            self.error(
                f"{self.where((*loc, 'name'))}: {name!r} has the same URL slug {slug!r} as "
                f"category {other!r} (line {other_line})",
                line,
            )
            return False
        slugs[slug] = (name, line)
        return True

    def claim_labels(
        self, model: Category, loc: Loc, labels: dict[str, _Claim]
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
                    f"{self.where(label_loc)}: duplicate {what} {label!r}: already used by "
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
            model = self.validate(Feed, data, loc)
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
                    section=category,
                    interval_seconds=model.interval,
                    priority=model.priority,
                    labels=model.labels,
                    line=self.line(loc),
                    paused=model.paused,
                    full_text=model.full_text,
                    include=tuple(unique(model.include)),
                    exclude=tuple(unique(model.exclude)),
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
            return resolve_feed_url(raw.strip(), self.base_dir)
        except ValueError:
            return None

    def is_first_listing(self, url: str, loc: Loc, seen: dict[str, int | None]) -> bool:
        identity, line = url_identity(url), self.line(loc)
        if identity not in seen:
            seen[identity] = line
            return True
        self.error(
            f"{self.where(loc)}: duplicate feed URL {url!r} "
            f"(first listed on line {seen[identity]})",
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
        message = f"{self.where(where)}: unknown category {written!r}"
        self.error(message + _category_hint(written, known), self.line(where))
        return None

    def outputs(self, categories: list[SectionConfig], known: dict[str, str]) -> list[OutputConfig]:
        """Return the valid custom outputs; names must not collide with each other, with
        a category's URL slug or with "all"."""
        urls_taken = {category.slug: f"category {category.name!r}" for category in categories}
        result: list[OutputConfig] = []
        for index, data in self.items("outputs", "name"):
            loc: Loc = ("outputs", index)
            model = self.validate(Output, data, loc)
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
                    sections=tuple(dict.fromkeys(name for name in names if name)),
                    include=tuple(unique(model.include)),
                    exclude=tuple(unique(model.exclude)),
                    private=model.private,
                    line=self.line(loc),
                )
            )
        return result

    def claim_output_name(self, name: str, loc: Loc, urls_taken: dict[str, str]) -> bool:
        where = (*loc, "name")
        if name in RESERVED_SLUGS:
            self.error(
                f"{self.where(where)}: {name!r} would publish at /feeds/{name}.atom, "
                "which is reserved for all items; choose another name",
                self.line(where),
            )
            return False
        if name in urls_taken:
            self.error(
                f"{self.where(where)}: {name!r} would publish at /feeds/{name}.atom, "
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


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a feeds.yaml; return the Config it describes.

    Relative sqlite paths and local feed files are resolved against the file's folder.
    Raises ConfigErrors, holding every problem found (sorted by line), and nothing else.
    """
    display = os.fspath(path)
    return parse_config(read_text(display), display)


def parse_config(text: str, path: str) -> Config:
    """Validate the text of a feeds.yaml found at ``path`` (local feed files and sqlite
    paths resolve against its folder); return its Config. Raises ConfigErrors."""
    display = path
    root = parse_yaml(text, display)
    loader = _Loader(display, root)
    config = loader.load()
    if loader.errors:
        raise ConfigErrors(sorted(loader.errors, key=lambda e: e.line or 0))
    return config
