"""WebSub publishing over HTTP: telling a hub that topics changed (W3C WebSub §7).

Here because this package is the one user of urllib3. The hub is the admin's own
setting, not a feed's address, so it is reached directly, without the SSRF guard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from urllib.parse import urlencode

import urllib3

from aggregator.fetch._fetcher import USER_AGENT

log = logging.getLogger("aggregator.websub")  # one name for the WebSub logs

CONNECT_TIMEOUT = 3.0  # seconds
READ_TIMEOUT = 5.0
DEADLINE = 20.0  # for all the pings after one poll


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
