"""When is a feed next due? Pure decisions of data and an injected ``now``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
MIN_RETRY = timedelta(minutes=1)
JITTER_FRACTION = 0.1  # up to +10 % so feeds added together do not poll together


def next_check_after_success(
    now: datetime, interval_seconds: int, *, rng: random.Random | None = None
) -> datetime:
    """Return the next check time after a successful poll: now + interval + jitter."""
    jitter = float((rng or random).uniform(0, JITTER_FRACTION)) * interval_seconds
    return now + timedelta(seconds=interval_seconds + jitter)


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
    with jitter, and never earlier than a server's Retry-After. Never gives up.
    """
    exponent = max(error_count - 1, 0)
    delay: timedelta = min(
        timedelta(seconds=interval_seconds) * (2 ** min(exponent, 16)), MAX_BACKOFF
    )
    delay = max(delay, MIN_RETRY)
    delay += delay * float((rng or random).uniform(0, JITTER_FRACTION))
    if retry_after_seconds is not None:
        delay = max(delay, timedelta(seconds=retry_after_seconds))
    return now + delay
