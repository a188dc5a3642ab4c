"""feeds.yaml: loaded and validated into a typed ``Config`` (every problem reported as
``file:line: message``), and watched for edits while running.

The private modules: _types.py (the Config dataclasses), _load.py (validation),
_schema.py (the pydantic shape of the file), _values.py (durations, sizes, labels,
URLs), _yaml.py (ruamel.yaml and line numbers), _watch.py (reloading on edits),
_edit.py (the admin's edits: round trips that keep comments, atomic writes).
"""

from aggregator.config._edit import (
    FEED_KEYS,
    ConfigEdit,
    ConfigEditor,
    ConfigSnapshot,
    config_digest,
    read_snapshot,
    write_edit,
)
from aggregator.config._load import (
    CONFIG_PATH_ENV,
    DATABASE_URL_ENV,
    DEFAULT_CONFIG_PATH,
    RESERVED_SLUGS,
    database_url,
    default_config_path,
    load_config,
    parse_config,
)
from aggregator.config._schema import CONFIG_KEYS
from aggregator.config._types import (
    ACCESS_MODES,
    LABEL_TRUST_VALUES,
    PRIVATE,
    PUBLIC,
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
    parse_duration,
    parse_size,
    slugify,
)
from aggregator.config._watch import ConfigWatcher

__all__ = [
    "ACCESS_MODES",
    "CONFIG_KEYS",
    "CONFIG_PATH_ENV",
    "DATABASE_URL_ENV",
    "DEFAULT_CONFIG_PATH",
    "FEED_KEYS",
    "LABEL_TRUST_VALUES",
    "PRIVATE",
    "PUBLIC",
    "RESERVED_SLUGS",
    "Config",
    "ConfigEdit",
    "ConfigEditor",
    "ConfigSnapshot",
    "ConfigWatcher",
    "FeedConfig",
    "HealthConfig",
    "OutputConfig",
    "PollingConfig",
    "PublishConfig",
    "SectionConfig",
    "SiteConfig",
    "StorageConfig",
    "StoriesConfig",
    "config_digest",
    "database_url",
    "default_config_path",
    "fold_label",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
    "read_snapshot",
    "slugify",
    "write_edit",
]
