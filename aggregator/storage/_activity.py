"""What the admin watches: how many source feeds fail, their recent fetches and new
entries per day, the local files to look at, and feeds made due at once."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import case, func, or_, select, update

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import chunked
from aggregator.storage._history import attempt_of
from aggregator.types import FetchAttempt

feeds = schema.feeds
attempts = schema.fetch_attempts
entries = schema.entries
# Feeds that count: listed in the config and not paused.
_WATCHED = (feeds.c.active.is_(True), feeds.c.paused.is_(False))


class ActivityMixin(StorageBase):
    def feed_counts(self) -> tuple[int, int]:
        """(source feeds listed and not paused, those of them failing or gone)."""
        failing = case((feeds.c.error_count > 0, 1), (feeds.c.gone.is_(True), 1), else_=0)
        query = select(func.count(), func.coalesce(func.sum(failing), 0)).where(*_WATCHED)
        with self.read() as conn:
            total, failed = conn.execute(query).one()
        return int(total), int(failed)

    def make_feeds_due(self, feed_ids: list[int], now: datetime) -> int:
        """Make feeds due at ``now`` (their fix should show at once); returns how many.

        Feeds a poller holds (an unexpired lease) are left to it."""
        changed = 0
        free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now)
        with self.write() as conn:
            for ids in chunked(sorted(set(feed_ids))):
                result = conn.execute(
                    update(feeds).where(feeds.c.id.in_(ids), free).values(next_check_at=now)
                )
                changed += result.rowcount
        return changed

    def recent_attempts(self) -> dict[int, list[FetchAttempt]]:
        """Every feed's kept fetch history (its last 20 attempts), newest first."""
        query = select(attempts).order_by(
            attempts.c.feed_id, attempts.c.attempted_at.desc(), attempts.c.id.desc()
        )
        found: dict[int, list[FetchAttempt]] = defaultdict(list)
        with self.read() as conn:
            for row in conn.execute(query):
                found[row.feed_id].append(attempt_of(row))
        return dict(found)

    def new_entries_per_day(self, since: datetime) -> dict[int, dict[str, int]]:
        """feed id -> UTC day ("2026-05-01") -> entries first seen that day, since ``since``."""
        day = func.date(entries.c.first_seen_at)
        query = (
            select(entries.c.feed_id, day.label("day"), func.count().label("new"))
            .where(entries.c.first_seen_at >= since)
            .group_by(entries.c.feed_id, day)
        )
        found: dict[int, dict[str, int]] = defaultdict(dict)
        with self.read() as conn:
            for row in conn.execute(query):
                found[row.feed_id][str(row.day)[:10]] = int(row.new)
        return dict(found)

    def local_file_feeds(self) -> list[tuple[int, str, str | None]]:
        """(id, URL, stored validator) of every watched local file feed, for the
        modification-time check of each tick."""
        query = (
            select(feeds.c.id, feeds.c.url, feeds.c.last_modified)
            .where(*_WATCHED, feeds.c.gone.is_(False), feeds.c.url.like("file:%"))
            .order_by(feeds.c.id)
        )
        with self.read() as conn:
            return [(row.id, row.url, row.last_modified) for row in conn.execute(query)]
