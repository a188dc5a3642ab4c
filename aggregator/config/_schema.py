"""The shape of feeds.yaml: one pydantic model per section, extra keys forbidden.

Values are checked by the validators of config_values.py; config.py builds the
typed Config from validated sections and checks what spans sections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

from aggregator.config._types import (
    LABEL_TRUST_VALUES,
    HealthConfig,
    PollingConfig,
    PublishConfig,
    SiteConfig,
    StorageConfig,
    StoriesConfig,
)
from aggregator.config._values import (
    DAY,
    Duration,
    Label,
    Text,
    Timeout,
    as_list,
    body_size,
    count_between,
    duration_between,
    optional_text,
    resolve_database_url,
    resolve_feed_url,
    share,
    shown,
    slugify,
)


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
        validate_default=True,  # so the default sqlite path is resolved like a written one
    )


class Top(_Section):
    site: Any = None
    storage: Any = None
    polling: Any = None
    categories: Any = None
    feeds: Any = None
    publish: Any = None
    outputs: Any = None
    stories: Any = None
    health: Any = None
    access: Any = None


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    if any(c.isspace() for c in value):
        raise ValueError(f"URL {value!r} contains whitespace")
    return value


class Site(_Section):
    title: Text = SiteConfig.title
    base_url: str = SiteConfig.base_url
    icon: Annotated[str | None, BeforeValidator(optional_text)] = None
    websub_hub: Annotated[str | None, BeforeValidator(optional_text)] = None

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
    return duration_between(DAY, 100 * 365 * DAY)(value)


class Storage(_Section):
    url: str = StorageConfig.url
    retention: Annotated[int | None, BeforeValidator(_retention)] = StorageConfig.retention_seconds

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str, info: ValidationInfo) -> str:
        return resolve_database_url(value, _base_dir(info))


class Polling(_Section):
    interval: Duration = PollingConfig.interval_seconds
    allow_private_networks: bool = False
    workers: Annotated[int, BeforeValidator(count_between(1, 256))] = PollingConfig.workers
    per_host: Annotated[int, BeforeValidator(count_between(1, 64))] = PollingConfig.per_host
    timeout: Timeout = int(PollingConfig.timeout_seconds)
    connect_timeout: Timeout | None = None
    max_body: Annotated[int, BeforeValidator(body_size)] = PollingConfig.max_body_bytes
    min_interval: Duration = PollingConfig.min_interval_seconds
    max_interval: Duration = PollingConfig.max_interval_seconds
    host_spacing: Annotated[int, BeforeValidator(duration_between(0, 60))] = int(
        PollingConfig.host_spacing_seconds
    )
    error_threshold: Annotated[int, BeforeValidator(count_between(1, 1000))] = (
        PollingConfig.error_threshold
    )


class Category(_Section):
    name: Label
    aliases: Annotated[list[Label], BeforeValidator(as_list)] = []
    keywords: Annotated[list[Text], BeforeValidator(as_list)] = []
    # Reading filters: phrases that hide the section's stories from its reader list.
    include: Annotated[list[Text], BeforeValidator(as_list)] = []
    exclude: Annotated[list[Text], BeforeValidator(as_list)] = []


class Health(_Section):
    failing_feeds: Annotated[float, BeforeValidator(share)] = HealthConfig.failing_share


def _label_trust(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower().replace("-", "_") in LABEL_TRUST_VALUES:
        return value.strip().lower().replace("-", "_")
    raise ValueError(f"{shown(value)} is not one of {', '.join(LABEL_TRUST_VALUES)}")


class Stories(_Section):
    window: Annotated[int, BeforeValidator(duration_between(3600, 30 * DAY))] = (
        StoriesConfig.window_seconds
    )
    new_report_unreads: bool = StoriesConfig.new_report_unreads


class Publish(_Section):
    page_size: Annotated[int, BeforeValidator(count_between(1, 1000))] = PublishConfig.page_size


class Output(_Section):
    name: str
    title: Text
    description: Annotated[str | None, BeforeValidator(optional_text)] = None
    categories: Annotated[list[str], BeforeValidator(as_list)] = []
    include: Annotated[list[Text], BeforeValidator(as_list)] = []
    exclude: Annotated[list[Text], BeforeValidator(as_list)] = []
    private: bool = False

    @field_validator("name")
    @classmethod
    def _url_slug(cls, value: str) -> str:
        if not value or slugify(value) != value:
            hint = f" (e.g. {slugify(value)!r})" if slugify(value) else ""
            raise ValueError(
                f"{value!r} is not a URL slug: use lower-case letters, digits and '-'{hint}"
            )
        return value


class Feed(_Section):
    url: str
    title: Annotated[str | None, BeforeValidator(optional_text)] = None
    category: Annotated[str | None, BeforeValidator(optional_text)] = None
    interval: Duration | None = None
    priority: Annotated[int, BeforeValidator(count_between(-1000, 1000))] = 0
    labels: Annotated[str, BeforeValidator(_label_trust)] = "trust"
    paused: bool = False
    full_text: bool = False
    # Reading filters: phrases that hide the feed's entries from the reader.
    include: Annotated[list[Text], BeforeValidator(as_list)] = []
    exclude: Annotated[list[Text], BeforeValidator(as_list)] = []

    @field_validator("url")
    @classmethod
    def _feed_url(cls, value: str, info: ValidationInfo) -> str:
        return resolve_feed_url(value, _base_dir(info))


# The keys feeds.yaml accepts, by section ("" is the top level; categories and feeds are
# the keys of one list item). For documentation tests and tools.
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "": tuple(Top.model_fields),
    "site": tuple(Site.model_fields),
    "storage": tuple(Storage.model_fields),
    "polling": tuple(Polling.model_fields),
    "categories": tuple(Category.model_fields),
    "feeds": tuple(Feed.model_fields),
    "publish": tuple(Publish.model_fields),
    "outputs": tuple(Output.model_fields),
    "health": tuple(Health.model_fields),
    "stories": tuple(Stories.model_fields),
}


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))
