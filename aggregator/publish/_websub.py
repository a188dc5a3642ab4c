"""WebSub publishing: after a poll, tell the hub which merged feeds changed.

The hub (``site.websub_hub``) is told ``hub.mode=publish&hub.url=<topic>`` for each
format of each output whose sections changed, then fetches the topics itself and
pushes them to subscribers. Pinging is best effort: failures are logged, never
raised, and short timeouts keep a dead hub from holding up the poll.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from aggregator.config import Config, SiteConfig
from aggregator.errors import StorageError
from aggregator.fetch import ping_hub
from aggregator.publish._entries import output_url
from aggregator.publish._outputs import FORMATS, Output, changed_outputs, version_keys_of

log = logging.getLogger(__name__)

Versions = Mapping[str, tuple[int, datetime]]


class HasSectionVersions(Protocol):
    def section_versions(self, sections: tuple[str, ...]) -> dict[str, tuple[int, datetime]]: ...


def topic_urls(site: SiteConfig, outputs: Sequence[Output]) -> list[str]:
    """Return the topic URL of every format of every output (their newest pages)."""
    return [output_url(site, output.name, fmt) for output in outputs for fmt in FORMATS]


def ping_changes(config: Config, storage: HasSectionVersions, before: Versions) -> int:
    """Ping the hub for every output changed since ``before`` (the section versions
    read before the poll: feed_pages.versions_snapshot).

    Returns the number of topics the hub accepted; 0 when no hub is set or nothing
    changed. Never raises.
    """
    hub = config.site.websub_hub
    if not hub:
        return 0
    try:
        after = storage.section_versions(version_keys_of(config))
    except StorageError as e:
        log.warning("websub: cannot read section versions: %s", e)
        return 0
    # Private outputs are no topics (their addresses hold users' keys).
    outputs = [output for output in changed_outputs(config, before, after) if not output.private]
    return ping_hub(hub, topic_urls(config.site, outputs)) if outputs else 0
