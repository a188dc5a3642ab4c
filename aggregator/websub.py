"""WebSub publishing: after a poll, tell the hub which merged feeds changed.

The hub (``site.websub_hub``) is told ``hub.mode=publish&hub.url=<topic>`` for each
format of each output whose sections changed, then fetches the topics itself and
pushes them to subscribers. Pinging is best effort: failures are logged, never
raised, and short timeouts keep a dead hub from holding up the poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from urllib.parse import urlencode

import urllib3

from aggregator.errors import StorageError
from aggregator.fetch import USER_AGENT
from aggregator.models import Config, SiteConfig
from aggregator.publish import FORMATS, Output, changed_outputs, feed_url, version_keys_of

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0  # seconds
READ_TIMEOUT = 5.0
DEADLINE = 20.0  # for all the pings after one poll

Versions = Mapping[str, tuple[int, datetime]]


class HasSectionVersions(Protocol):
    def section_versions(self, sections: tuple[str, ...]) -> dict[str, tuple[int, datetime]]: ...


def topic_urls(site: SiteConfig, outputs: Sequence[Output]) -> list[str]:
    """Return the topic URL of every format of every output (their newest pages)."""
    return [feed_url(site, output.name, fmt) for output in outputs for fmt in FORMATS]


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
    outputs = changed_outputs(config, before, after)
    return ping_hub(hub, topic_urls(config.site, outputs)) if outputs else 0


def ping_hub(hub: str, topics: Sequence[str], *, deadline: float = DEADLINE) -> int:
    """POST ``hub.mode=publish`` for each topic to the hub; return how many it accepted.

    Stops at the first connection failure (the hub is down: the other pings would
    only wait out their timeouts) or when ``deadline`` seconds have passed. Never
    raises; every failure is logged.
    """
    accepted = 0
    started = time.monotonic()
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT}
    with urllib3.PoolManager() as pool:
        for topic in topics:
            if time.monotonic() - started > deadline:
                log.warning("websub: %s: deadline passed, %s not pinged", hub, topic)
                break
            body = urlencode({"hub.mode": "publish", "hub.url": topic})
            try:
                response = pool.request(
                    "POST",
                    hub,
                    body=body,
                    headers=headers,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                )
            except urllib3.exceptions.HTTPError as e:
                log.warning("websub: cannot reach hub %s: %s", hub, e)
                break
            except ValueError as e:  # a hub URL urllib3 cannot use
                log.warning("websub: invalid hub URL %s: %s", hub, e)
                break
            if 200 <= response.status < 300:
                accepted += 1
            else:
                log.warning("websub: hub %s refused %s: HTTP %d", hub, topic, response.status)
    log.info("websub: hub %s accepted %d of %d topics", hub, accepted, len(topics))
    return accepted
