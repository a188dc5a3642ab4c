"""When is a feed next due? Pure decisions of data and an injected ``now``.

The next check after a success is the feed's interval, slowed down for feeds
that publish rarely, then raised to honour what the publisher asked for
(Cache-Control max-age, Expires, RSS <ttl>, sy:updatePeriod/Frequency), moved
out of <skipHours>/<skipDays>, bounded by the configured minimum and maximum,
plus a little jitter so feeds added together do not poll together. After an
error it backs off exponentially up to 24 h, never earlier than Retry-After, and
never gives up.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_BACKOFF = timedelta(hours=24)
MIN_RETRY = timedelta(minutes=1)
MAX_RETRY_AFTER = timedelta(days=7)  # a larger Retry-After is a misconfiguration
JITTER_FRACTION = 0.1  # up to +10 %
PERMANENT_REDIRECT_CONFIRMATIONS = 3  # a single 301 may be a man-in-the-middle
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UPDATE_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


@dataclass(frozen=True)
class Bounds:
    min_seconds: int = 5 * 60
    max_seconds: int = 24 * 3600


@dataclass(frozen=True)
class PublisherHints:
    """What a response and its feed say about how often to come back."""

    max_age_seconds: int | None = None  # Cache-Control max-age (s-maxage wins)
    expires_at: datetime | None = None  # Expires
    ttl_minutes: int | None = None  # RSS <ttl>
    skip_hours: tuple[int, ...] = ()  # RSS <skipHours>, GMT hours 0-23
    skip_days: tuple[str, ...] = ()  # RSS <skipDays>, day names
    update_period: str | None = None  # sy:updatePeriod
    update_frequency: int | None = None  # sy:updateFrequency


def cache_hints_from_headers(headers: Mapping[str, str]) -> tuple[int | None, datetime | None]:
    """Return (max-age seconds, Expires time) from response headers (lower-cased names)."""
    max_age = None
    cache_control = headers.get("cache-control", "").lower()
    if "no-cache" not in cache_control and "no-store" not in cache_control:
        found = dict(re.findall(r"(s-maxage|max-age)\s*=\s*\"?(\d+)", cache_control))
        value = found.get("s-maxage", found.get("max-age"))
        max_age = int(value) if value is not None else None
    expires = None
    if headers.get("expires"):
        try:
            expires = parsedate_to_datetime(headers["expires"])
        except (TypeError, ValueError, IndexError):
            expires = None  # "0", "-1" and garbage all mean "already expired"
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
    return max_age, expires


def adapted_interval(
    interval_seconds: int, entries_in_window: int, window: timedelta, bounds: Bounds
) -> int:
    """The feed's interval, slowed for feeds that publish less often than it polls.

    Polls aim at about two per new entry. The configured interval stays the
    floor: a busy feed is never polled more often than the admin asked.
    """
    interval = _clamp(interval_seconds, bounds)
    if entries_in_window < 2:
        return interval
    publish_gap = window.total_seconds() / entries_in_window
    return _clamp(max(interval, int(publish_gap / 2)), bounds)


def hinted_seconds(hints: PublisherHints, now: datetime) -> int:
    """The longest wait any publisher hint asks for (0 when none)."""
    waits = [0]
    if hints.max_age_seconds is not None:
        waits.append(hints.max_age_seconds)
    if hints.expires_at is not None:
        waits.append(int((hints.expires_at - now).total_seconds()))
    if hints.ttl_minutes is not None and hints.ttl_minutes > 0:
        waits.append(hints.ttl_minutes * 60)
    if hints.update_period:
        period = UPDATE_PERIODS.get(hints.update_period.strip().lower())
        frequency = hints.update_frequency or 1
        if period and frequency > 0:
            waits.append(period // frequency)
    return max(waits)


def skip_forward(
    when: datetime, skip_hours: tuple[int, ...], skip_days: tuple[str, ...]
) -> datetime:
    """Move ``when`` to the first hour (GMT) not in skipHours/skipDays.

    A feed that skips every hour or every day has made a mistake: it is ignored.
    """
    hours = {h for h in skip_hours if 0 <= h <= 23}
    days = {d.strip().lower() for d in skip_days} & set(DAY_NAMES)
    if len(hours) == 24 or len(days) == 7 or not (hours or days):
        return when
    candidate = when.astimezone(UTC)
    for _ in range(24 * 8):
        if candidate.hour not in hours and DAY_NAMES[candidate.weekday()] not in days:
            return candidate
        candidate = (candidate + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return when


def next_check_after_success(
    now: datetime,
    interval_seconds: int,
    *,
    hints: PublisherHints | None = None,
    bounds: Bounds | None = None,
    entries_in_window: int = 0,
    window: timedelta = timedelta(days=14),
    rng: random.Random | None = None,
) -> datetime:
    """Return the next check time after a successful poll (see the module docstring)."""
    bounds = bounds or Bounds()
    hints = hints or PublisherHints()
    wait = adapted_interval(interval_seconds, entries_in_window, window, bounds)
    wait = _clamp(max(wait, hinted_seconds(hints, now)), bounds)
    wait += int(wait * float((rng or random).uniform(0, JITTER_FRACTION)))
    return skip_forward(now + timedelta(seconds=wait), hints.skip_hours, hints.skip_days)


def next_check_after_error(
    now: datetime,
    interval_seconds: int,
    error_count: int,
    *,
    retry_after_seconds: int | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Return the next check time after the ``error_count``-th consecutive error.

    Backs off exponentially from the feed's interval (1×, 2×, 4×, …) up to 24 h,
    with jitter, and never earlier than the server's Retry-After (itself capped at
    7 days). Never gives up.
    """
    exponent = max(error_count - 1, 0)
    delay: timedelta = min(
        timedelta(seconds=interval_seconds) * (2 ** min(exponent, 16)), MAX_BACKOFF
    )
    delay = max(delay, MIN_RETRY)
    delay += delay * float((rng or random).uniform(0, JITTER_FRACTION))
    if retry_after_seconds is not None:
        delay = max(delay, min(timedelta(seconds=retry_after_seconds), MAX_RETRY_AFTER))
    return now + delay


@dataclass(frozen=True)
class RedirectState:
    """Consecutive sightings of one permanent redirect target."""

    target: str | None = None
    count: int = 0

    @property
    def confirmed(self) -> bool:
        return self.target is not None and self.count >= PERMANENT_REDIRECT_CONFIRMATIONS


def observe_redirect(state: RedirectState, permanent_target: str | None) -> RedirectState:
    """Update the count after a fetch that did (or did not) end in a permanent redirect.

    Only the same target seen three times in a row is confirmed; a fetch without
    it starts over. Temporary redirects (302/307) never reach here.
    """
    if permanent_target is None:
        return RedirectState()
    if permanent_target == state.target:
        return RedirectState(permanent_target, state.count + 1)
    return RedirectState(permanent_target, 1)


def _clamp(seconds: int, bounds: Bounds) -> int:
    return max(bounds.min_seconds, min(seconds, bounds.max_seconds))
