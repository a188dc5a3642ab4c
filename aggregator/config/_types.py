"""The typed config: what feeds.yaml says, checked and converted (built by _load.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Newsroom"
    base_url: str = "http://localhost:8000"
    icon: str | None = None  # absolute http(s) URL of a square icon for the merged feeds
    websub_hub: str | None = None  # absolute http(s) URL of a WebSub hub to ping


@dataclass(frozen=True)
class StorageConfig:
    # Always an absolute SQLAlchemy URL once loaded (relative sqlite paths are
    # resolved against the config file's folder).
    url: str = "sqlite:///aggregator.db"
    retention_seconds: int | None = 90 * 86400  # None keeps entries forever


@dataclass(frozen=True)
class PollingConfig:
    interval_seconds: int = 30 * 60
    allow_private_networks: bool = False
    workers: int = 16
    per_host: int = 2
    timeout_seconds: float = 30.0  # total deadline per fetch
    connect_timeout_seconds: float = 10.0
    max_body_bytes: int = 15 * 1024 * 1024
    min_interval_seconds: int = 5 * 60  # no feed is polled more often, whatever it asks
    max_interval_seconds: int = 24 * 3600  # nor less often, unless it failed or is gone
    host_spacing_seconds: float = 1.0  # between two requests to one host
    error_threshold: int = 3  # consecutive errors before a feed is flagged


@dataclass(frozen=True)
class HealthConfig:
    # /healthz says "degraded" when more than this share of the source feeds fail.
    failing_share: float = 0.5


@dataclass(frozen=True)
class SectionConfig:
    name: str
    slug: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    # Reading filters: the section's reader list shows only stories mentioning one of
    # the include phrases (when there are any) and none of the exclude phrases.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedConfig:
    # For http(s) feeds: the URL as written. For local files: a file:// URL with
    # an absolute path (resolved against the config file's folder).
    url: str
    title: str | None = None
    section: str | None = None  # default section *name* (feeds.yaml: category)
    interval_seconds: int | None = None
    # Whose report leads a story several feeds tell: the highest priority, then the
    # earliest published.
    priority: int = 0
    # How far its labels are trusted when filing stories (process.LabelTrust):
    # trust, ignore_tags, default_last, ignore.
    labels: str = "trust"
    line: int | None = None  # line in feeds.yaml, for messages
    paused: bool = False  # listed, its stories kept and shown, but not polled
    # Fetch each new entry's article page and keep its main text (summary-only feeds).
    full_text: bool = False
    # Reading filters: its entries that miss every include phrase (when there are
    # any) or mention an exclude phrase are hidden from the reader.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


# How far a feed's labels are trusted (see aggregator.process.LabelTrust; kept in
# step by a test, since config may not import the process package).
LabelTrust = Literal["trust", "ignore_tags", "default_last", "ignore"]
LABEL_TRUST_VALUES: tuple[LabelTrust, ...] = get_args(LabelTrust)


@dataclass(frozen=True)
class StoriesConfig:
    """How entries of different source feeds become one story."""

    # Reports published this far apart may be one story (the same event).
    window_seconds: int = 72 * 3600
    # A read story stays read when another outlet reports it; True makes it unread.
    new_report_unreads: bool = False


@dataclass(frozen=True)
class PublishConfig:
    page_size: int = 50  # entries per page of a merged feed


@dataclass(frozen=True)
class OutputConfig:
    """A custom merged feed, published at /feeds/<name>.atom|.rss|.json."""

    name: str  # URL slug, unique among outputs and category slugs, never "all"
    title: str
    description: str | None = None
    sections: tuple[str, ...] = ()  # section *names*; () means every section
    include: tuple[str, ...] = ()  # phrases; a story must mention one (none: no filter)
    exclude: tuple[str, ...] = ()  # phrases; a story mentioning any is left out
    private: bool = False  # served only with a user's feed token in the URL
    line: int | None = None  # line in feeds.yaml, for messages


# Who may read the web reader once accounts exist (feeds.yaml: access).
PRIVATE = "private"  # every page needs a sign-in
PUBLIC = "public"  # anyone reads the lists and stories; state needs a sign-in
ACCESS_MODES = (PRIVATE, PUBLIC)


@dataclass(frozen=True)
class Config:
    path: str  # the feeds.yaml this came from
    site: SiteConfig = field(default_factory=SiteConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    sections: tuple[SectionConfig, ...] = ()  # feeds.yaml: categories
    feeds: tuple[FeedConfig, ...] = ()
    publish: PublishConfig = field(default_factory=PublishConfig)
    outputs: tuple[OutputConfig, ...] = ()
    health: HealthConfig = field(default_factory=HealthConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    access: str = PRIVATE  # PRIVATE or PUBLIC, once a user exists

    def section_names(self) -> dict[str, str]:
        """Section slug -> name, in the config's order (the one place they are paired)."""
        return {section.slug: section.name for section in self.sections}

    def section_slugs(self) -> dict[str, str]:
        """Section name -> slug, in the config's order."""
        return {section.name: section.slug for section in self.sections}
