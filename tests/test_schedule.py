"""Schedule decisions as tables of cases, with an injected clock and a seeded RNG."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.update import (
    Bounds,
    PublisherHints,
    RedirectState,
    adapted_interval,
    cache_hints_from_headers,
    next_check_after_error,
    next_check_after_success,
    observe_redirect,
    skip_forward,
)

NOW = datetime(2026, 11, 30, 10, 15, tzinfo=UTC)  # a Monday
BOUNDS = Bounds(min_seconds=300, max_seconds=86400)


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


class MaxJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def wait_after_success(**kwargs: object) -> float:
    at = next_check_after_success(NOW, 1800, bounds=BOUNDS, rng=NoJitter(), **kwargs)  # type: ignore[arg-type]
    return (at - NOW).total_seconds()


@pytest.mark.parametrize(
    ("hints", "expected_seconds"),
    [
        (PublisherHints(), 1800),
        (PublisherHints(max_age_seconds=3600), 3600),
        (PublisherHints(max_age_seconds=60), 1800),  # never sooner than the interval
        (PublisherHints(expires_at=NOW + timedelta(hours=2)), 7200),
        (PublisherHints(expires_at=NOW - timedelta(hours=2)), 1800),
        (PublisherHints(ttl_minutes=90), 5400),
        (PublisherHints(update_period="hourly", update_frequency=1), 3600),
        (PublisherHints(update_period="daily", update_frequency=4), 21600),
        (PublisherHints(update_period="weekly"), 86400),  # bounded by max_interval
        (PublisherHints(max_age_seconds=10**9), 86400),
        (PublisherHints(ttl_minutes=60, max_age_seconds=7200), 7200),  # the longest wins
    ],
)
def test_publisher_hints_raise_the_wait(hints: PublisherHints, expected_seconds: int) -> None:
    assert wait_after_success(hints=hints) == expected_seconds


@pytest.mark.parametrize(
    ("interval", "entries", "expected"),
    [
        (1800, 0, 1800),  # no history: the configured interval
        (1800, 1, 1800),
        (1800, 14 * 48 * 4, 1800),  # busy feed: never more often than configured
        (1800, 14, 43200),  # one a day: poll about twice a day
        (1800, 2, 86400),  # one a week: bounded by max_interval
        (60, 0, 300),  # configured below min_interval: raised to it
    ],
)
def test_interval_adapts_to_publishing_rate(interval: int, entries: int, expected: int) -> None:
    assert adapted_interval(interval, entries, timedelta(days=14), BOUNDS) == expected


@pytest.mark.parametrize(
    ("headers", "max_age", "expires"),
    [
        ({}, None, None),
        ({"cache-control": "public, max-age=600"}, 600, None),
        ({"cache-control": "max-age=600, s-maxage=1200"}, 1200, None),
        ({"cache-control": "no-cache, max-age=600"}, None, None),
        (
            {"expires": "Mon, 30 Nov 2026 12:00:00 GMT"},
            None,
            datetime(2026, 11, 30, 12, tzinfo=UTC),
        ),
        ({"expires": "0"}, None, None),
    ],
)
def test_cache_hints_from_headers(
    headers: dict[str, str], max_age: int | None, expires: datetime | None
) -> None:
    assert cache_hints_from_headers(headers) == (max_age, expires)


@pytest.mark.parametrize(
    ("when", "hours", "days", "expected"),
    [
        (NOW, (), (), NOW),
        (NOW, (10, 11), (), datetime(2026, 11, 30, 12, tzinfo=UTC)),
        (NOW, (9,), (), NOW),
        (NOW, (), ("Monday",), datetime(2026, 12, 1, 0, tzinfo=UTC)),
        (NOW, (0, 1), ("monday",), datetime(2026, 12, 1, 2, tzinfo=UTC)),
        (NOW, tuple(range(24)), (), NOW),  # skipping every hour is ignored
    ],
)
def test_skip_hours_and_days(
    when: datetime, hours: tuple[int, ...], days: tuple[str, ...], expected: datetime
) -> None:
    assert skip_forward(when, hours, days) == expected


def test_skip_hours_apply_to_the_next_check() -> None:
    at = next_check_after_success(
        NOW, 1800, hints=PublisherHints(skip_hours=(10, 11)), bounds=BOUNDS, rng=NoJitter()
    )
    assert at == datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_jitter_stays_within_ten_percent() -> None:
    low = next_check_after_success(NOW, 1800, bounds=BOUNDS, rng=NoJitter())
    high = next_check_after_success(NOW, 1800, bounds=BOUNDS, rng=MaxJitter())
    assert (low - NOW).total_seconds() == 1800
    assert (high - NOW).total_seconds() == 1980
    for seed in range(50):
        at = next_check_after_success(NOW, 1800, bounds=BOUNDS, rng=random.Random(seed))
        assert 1800 <= (at - NOW).total_seconds() <= 1980


def test_error_backoff_sequence_doubles_up_to_a_day_and_never_stops() -> None:
    waits = [
        (next_check_after_error(NOW, 1800, n, rng=NoJitter()) - NOW).total_seconds()
        for n in range(1, 10)
    ]
    assert waits == [1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400, 86400]
    assert (next_check_after_error(NOW, 1800, 500, rng=NoJitter()) - NOW) == timedelta(hours=24)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (120, 1800),  # shorter than the backoff: the backoff wins
        (7200, 7200),
        (30 * 86400, 7 * 86400),  # absurd values are capped
    ],
)
def test_retry_after_is_honoured(retry_after: int, expected: int) -> None:
    at = next_check_after_error(NOW, 1800, 1, retry_after_seconds=retry_after, rng=NoJitter())
    assert (at - NOW).total_seconds() == expected


def test_permanent_redirect_needs_three_sightings_in_a_row() -> None:
    state = RedirectState()
    state = observe_redirect(state, "https://new.example/feed")
    state = observe_redirect(state, "https://new.example/feed")
    assert not state.confirmed
    interrupted = observe_redirect(state, None)
    assert interrupted == RedirectState()
    other = observe_redirect(state, "https://other.example/feed")
    assert other.count == 1
    state = observe_redirect(state, "https://new.example/feed")
    assert state.confirmed
