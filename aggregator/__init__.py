"""aggregator: a self-hosted RSS/Atom/JSON Feed aggregator and reader.

The public face. ``Aggregator`` is the one way in; the types its methods take and
return and the errors they raise are here too. Everything else in the package is
private and may change::

    from aggregator import Aggregator

    with Aggregator.open("feeds.yaml") as aggregator:
        aggregator.update_feeds()
        for item in aggregator.get_stories("all", limit=10).stories:
            print(item.story.lead.title)

Names are loaded on first use, so ``import aggregator`` (and the command line's start)
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from aggregator.config import (
        Config,
        FeedConfig,
        OutputConfig,
        PollingConfig,
        PublishConfig,
        SectionConfig,
        SiteConfig,
        StorageConfig,
        load_config,
    )
    from aggregator.core import Aggregator, Clock
    from aggregator.errors import (
        AccountError,
        AggregatorError,
        AuthenticationError,
        BlockedAddressError,
        ConfigError,
        ConfigErrors,
        FeedError,
        FeedGoneError,
        FetchError,
        FetchTimeoutError,
        HTTPStatusError,
        InvalidCursorError,
        ParseError,
        ResponseTooLargeError,
        StorageError,
        TooManyAttemptsError,
        TooManyRedirectsError,
    )
    from aggregator.publish import BuiltPage, Output
    from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
    from aggregator.types import (
        ANONYMOUS,
        AppPassword,
        Enclosure,
        EntryView,
        FeedHealth,
        FeedIcon,
        FeedState,
        FeedStatus,
        FetchAttempt,
        FullText,
        Neighbours,
        ReaderPage,
        ReaderStory,
        SearchPage,
        StoryCursor,
        StoryState,
        StoryView,
        StreamFilter,
        UnreadCounts,
        User,
    )
    from aggregator.update import FeedOutcome, PollSummary

_HOMES = {
    "aggregator.core": ("Aggregator", "Clock"),
    "aggregator.config": (
        "SectionConfig",
        "Config",
        "FeedConfig",
        "OutputConfig",
        "PollingConfig",
        "PublishConfig",
        "SiteConfig",
        "StorageConfig",
        "load_config",
    ),
    "aggregator.errors": (
        "AccountError",
        "AggregatorError",
        "AuthenticationError",
        "BlockedAddressError",
        "ConfigError",
        "ConfigErrors",
        "FeedError",
        "FeedGoneError",
        "FetchError",
        "FetchTimeoutError",
        "HTTPStatusError",
        "InvalidCursorError",
        "ParseError",
        "ResponseTooLargeError",
        "StorageError",
        "TooManyAttemptsError",
        "TooManyRedirectsError",
    ),
    "aggregator.publish": ("BuiltPage", "Output"),
    "aggregator.scopes": ("ALL", "STARRED", "feed_scope", "section_scope"),
    "aggregator.types": (
        "ANONYMOUS",
        "AppPassword",
        "Enclosure",
        "EntryView",
        "FeedHealth",
        "FeedIcon",
        "FeedState",
        "FeedStatus",
        "FetchAttempt",
        "FullText",
        "Neighbours",
        "ReaderPage",
        "ReaderStory",
        "SearchPage",
        "StoryCursor",
        "StoryState",
        "StoryView",
        "StreamFilter",
        "UnreadCounts",
        "User",
    ),
    "aggregator.update": ("FeedOutcome", "PollSummary"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ALL",
    "ANONYMOUS",
    "STARRED",
    "AccountError",
    "Aggregator",
    "AggregatorError",
    "AppPassword",
    "AuthenticationError",
    "BlockedAddressError",
    "BuiltPage",
    "Clock",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "Enclosure",
    "EntryView",
    "FeedConfig",
    "FeedError",
    "FeedGoneError",
    "FeedHealth",
    "FeedIcon",
    "FeedOutcome",
    "FeedState",
    "FeedStatus",
    "FetchAttempt",
    "FetchError",
    "FetchTimeoutError",
    "FullText",
    "HTTPStatusError",
    "InvalidCursorError",
    "Neighbours",
    "Output",
    "OutputConfig",
    "ParseError",
    "PollSummary",
    "PollingConfig",
    "PublishConfig",
    "ReaderPage",
    "ReaderStory",
    "ResponseTooLargeError",
    "SearchPage",
    "SectionConfig",
    "SiteConfig",
    "StorageConfig",
    "StorageError",
    "StoryCursor",
    "StoryState",
    "StoryView",
    "StreamFilter",
    "TooManyAttemptsError",
    "TooManyRedirectsError",
    "UnreadCounts",
    "User",
    "__version__",
    "feed_scope",
    "load_config",
    "section_scope",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
