"""Poll many feeds concurrently: a worker pool with a per-host limit.

Fetching is blocking I/O in a thread pool (a sync client in threads was measured
about 4x cheaper per fetch than an async client here). Feeds are handed to the
pool only while their host has a free slot, so one slow host with many feeds
cannot occupy every worker.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aggregator.types import FeedState
from aggregator.update._feed import FeedOutcome, Updater
from aggregator.update._metrics import observe_poll

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollSummary:
    outcomes: tuple[FeedOutcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def new(self) -> int:
        return sum(outcome.new for outcome in self.outcomes)

    @property
    def updated(self) -> int:
        return sum(outcome.updated for outcome in self.outcomes)


def host_of(url: str) -> str:
    """The key feeds share a connection limit and host_spacing by: the host name. A
    local file is no host: each is its own key, so files are read without spacing."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() == "file":
        return url
    return (parts.hostname or "").lower()


def _safe_update(updater: Updater, feed: FeedState, now: datetime | None) -> FeedOutcome:
    started = time.monotonic()
    try:
        outcome = updater.update_feed(feed, now)
    except Exception as e:  # a bug must cost one feed, not the whole poll; logged in full
        log.exception("%s: unexpected error while updating", feed.url, extra={"feed_url": feed.url})
        outcome = FeedOutcome(
            feed_id=feed.id,
            url=feed.url,
            title=feed.title,
            status="failed",
            error=f"internal error: {type(e).__name__}: {e}",
        )
    observe_poll(outcome.status, time.monotonic() - started, outcome.new, outcome.updated)
    return outcome


def poll_feeds(
    feeds: Iterable[FeedState],
    updater: Updater,
    *,
    workers: int = 16,
    per_host: int = 2,
    on_outcome: Callable[[FeedOutcome], None] | None = None,
    now: datetime | None = None,
    should_stop: Callable[[], bool] | None = None,
    host_spacing: float = 0.0,
) -> PollSummary:
    """Update every feed given, at most ``workers`` at once and ``per_host`` per host.

    Returns the outcome of every feed, in completion order. Feeds that fail are
    recorded as failed; this never raises for a feed's fault. ``now`` fixes the
    poll's clock (tests); by default each feed uses the time it is polled. Once
    ``should_stop()`` is true no further feed is started; those in flight finish.
    Requests to one host start at least ``host_spacing`` seconds apart.
    """
    waiting: dict[str, deque[FeedState]] = defaultdict(deque)
    for feed in feeds:
        waiting[host_of(feed.url)].append(feed)
    running: dict[str, int] = defaultdict(int)
    last_start: dict[str, float] = {}
    in_flight: dict[Future[FeedOutcome], str] = {}
    outcomes: list[FeedOutcome] = []

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="poll") as pool:

        def dispatch() -> float | None:
            """Start what may start now; return seconds until a spaced host frees up."""
            if should_stop is not None and should_stop():
                return None
            next_free: float | None = None
            clock = time.monotonic()
            for host, queue in waiting.items():
                while queue and running[host] < per_host and len(in_flight) < workers:
                    ready_at = last_start.get(host, -math.inf) + host_spacing
                    if ready_at > clock:
                        wait_for = ready_at - clock
                        next_free = wait_for if next_free is None else min(next_free, wait_for)
                        break
                    future = pool.submit(_safe_update, updater, queue.popleft(), now)
                    in_flight[future] = host
                    running[host] += 1
                    last_start[host] = clock
            return next_free

        next_free = dispatch()
        while in_flight or (next_free is not None and any(waiting.values())):
            done, _ = wait(in_flight, timeout=next_free, return_when=FIRST_COMPLETED)
            for future in done:
                running[in_flight.pop(future)] -= 1
                outcome = future.result()
                outcomes.append(outcome)
                if on_outcome:
                    on_outcome(outcome)
            next_free = dispatch()
    return PollSummary(tuple(outcomes))


def feeds_to_poll(
    updater: Updater, *, ignore_schedule: bool, now: datetime | None = None
) -> list[FeedState]:
    """Return the feeds a poll should visit: the due ones, or every active one."""
    now = now or datetime.now(UTC)
    if ignore_schedule:
        return [feed for feed in updater.storage.list_feeds(active_only=True) if not feed.gone]
    return updater.storage.due_feeds(now)
