"""A feed's health: one function words it for the feeds page, a feed's page and
`aggregator feeds` (whose agreement the reader and CLI tests check end to end)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.types import FeedState
from aggregator.update import feed_status

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def feed(**changes: Any) -> FeedState:
    values: dict[str, Any] = {
        "id": 1,
        "url": "https://wire.example/feed",
        "config_title": None,
        "section": None,
        "interval_seconds": None,
        "active": True,
        "feed_title": "Wire",
        "site_url": None,
        "etag": None,
        "last_modified": None,
        "body_hash": None,
        "permanent_redirect_url": None,
        "last_fetched_at": NOW,
        "last_success_at": NOW,
        "last_status": 200,
        "last_error": None,
        "error_count": 0,
        "gone": False,
        "retry_after_until": None,
        "next_check_at": NOW,
    }
    values.update(changes)
    return FeedState(**values)


CASES = [
    # (what the feed is like, code, text, ⚠ for a feeds.yaml edit, ⚠ at all, needs attention)
    (
        {"gone": True, "error_count": 5},
        "GONE",
        "410 Gone: the publisher removed this feed; polling has stopped",
        True,
        True,
        True,
    ),
    (
        {"fetch_url": "https://new.example/feed", "error_count": 4},
        "MOVED",
        "Moved permanently to https://new.example/feed (seen 3 times in a row, now fetched "
        "there): update its URL in feeds.yaml",
        True,
        True,
        True,
    ),
    (
        {"permanent_redirect_url": "https://new.example/feed"},
        "MOVED",
        "Moved permanently to https://new.example/feed",
        True,
        True,
        True,
    ),
    (
        {"error_count": 3, "last_error": "HTTP 500"},
        "FLAGGED",
        "Flagged: failing 3 times in a row, still retried",
        False,
        True,
        True,
    ),
    ({"error_count": 2}, "failing", "Failing (2 in a row)", False, False, True),
    ({"active": False}, "inactive", "Not in feeds.yaml any more", False, False, False),
    ({"last_fetched_at": None}, "new", "Not fetched yet", False, False, False),
    ({}, "ok", "OK", False, False, False),
]


@pytest.mark.parametrize(("changes", "code", "text", "edit", "warn", "attention"), CASES)
def test_each_state_has_one_wording(
    changes: dict[str, Any], code: str, text: str, edit: bool, warn: bool, attention: bool
) -> None:
    status = feed_status(feed(**changes), error_threshold=3)
    assert (status.code, status.text, status.edit_config, status.warn, status.needs_attention) == (
        code,
        text,
        edit,
        warn,
        attention,
    )


def test_feeds_needing_the_admin_sort_first() -> None:
    statuses = [feed_status(feed(**changes), error_threshold=3) for changes, *_ in CASES]
    assert [s.code for s in sorted(reversed(statuses), key=lambda s: s.rank)] == [
        "GONE",
        "MOVED",
        "MOVED",
        "FLAGGED",
        "failing",
        "inactive",
        "new",
        "ok",
    ]
