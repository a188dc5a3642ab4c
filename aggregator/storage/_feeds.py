"""Feeds: the config's list mirrored into the database, and each feed's poll state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update

from aggregator.config import FeedConfig
from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._history import read_history, record_attempt
from aggregator.storage._types import FeedFailure
from aggregator.types import FeedState, FetchAttempt

feeds = schema.feeds
RELEASE_LEASE = {"lease_owner": None, "lease_until": None}
# The feeds a poll visits when due: listed in the config, not gone, not paused.
_POLLED = (feeds.c.active.is_(True), feeds.c.gone.is_(False), feeds.c.paused.is_(False))


def feed_state(row: Row[Any]) -> FeedState:
    return FeedState(
        id=row.id,
        url=row.url,
        config_title=row.config_title,
        section=row.category,
        interval_seconds=row.interval_seconds,
        active=row.active,
        feed_title=row.feed_title,
        site_url=row.site_url,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        permanent_redirect_url=row.permanent_redirect_url,
        last_fetched_at=row.last_fetched_at,
        last_success_at=row.last_success_at,
        last_status=row.last_status,
        last_error=row.last_error,
        error_count=row.error_count,
        gone=row.gone,
        retry_after_until=row.retry_after_until,
        next_check_at=row.next_check_at,
        fetch_url=row.fetch_url,
        redirect_target=row.redirect_target,
        redirect_count=row.redirect_count or 0,
        publisher_hints=row.publisher_hints,
        paused=bool(row.paused),
    )


def _known_feeds(conn: Connection, configured: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(URL -> id of every stored feed, new address -> id of a feed that moved there
    permanently and is no longer listed under its old URL)."""
    rows = conn.execute(
        select(
            feeds.c.url,
            feeds.c.id,
            feeds.c.fetch_url,
            feeds.c.permanent_redirect_url,
            feeds.c.redirect_target,
        )
    ).all()
    existing = {row.url: row.id for row in rows}
    moved_to = {
        target: row.id
        for row in rows
        if row.url not in configured
        for target in (row.redirect_target, row.permanent_redirect_url, row.fetch_url)
        if target and target not in existing
    }
    return existing, moved_to


def _move_feed(
    conn: Connection, feed_id: int, new_url: str, values: dict[str, Any], existing: dict[str, int]
) -> None:
    """Give a feed that moved its new URL (from feeds.yaml), keeping its row, entries,
    validators and history; ``existing`` follows."""
    old_url = next(url for url, fid in existing.items() if fid == feed_id)
    del existing[old_url]
    existing[new_url] = feed_id
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id),
        {
            **values,
            "url": new_url,
            "fetch_url": None,
            "permanent_redirect_url": None,
            "redirect_target": None,
            "redirect_count": 0,
            "next_check_at": None,  # its new address is tried at once
        },
    )


class FeedsMixin(StorageBase):
    def sync_feeds(self, configured: tuple[FeedConfig, ...], now: datetime) -> None:
        """Make the stored feed list match the config.

        New feeds are added (due at once), listed ones get the config's title,
        category and interval, feeds no longer listed become inactive (their
        entries stay).

        A feed that moved permanently and whose new address replaces its old one in
        feeds.yaml (as the feeds page and `aggregator check` suggest) stays the
        same feed under its new URL: its entries, validators and history are kept
        and nothing is stored twice.
        """
        with self.write() as conn:
            existing, moved_to = _known_feeds(conn, {feed.url for feed in configured})
            for feed in configured:
                values = {
                    "config_title": feed.title,
                    "category": feed.section,
                    "interval_seconds": feed.interval_seconds,
                    "priority": feed.priority,
                    "labels": feed.labels,
                    "active": True,
                    "paused": feed.paused,
                }
                if feed.url in existing:
                    conn.execute(update(feeds).where(feeds.c.id == existing[feed.url]), values)
                elif feed.url in moved_to:
                    _move_feed(conn, moved_to.pop(feed.url), feed.url, values, existing)
                else:
                    conn.execute(
                        feeds.insert(),
                        {**values, "url": feed.url, "created_at": now, "error_count": 0},
                    )
            listed = {feed.url for feed in configured}
            gone_from_config = [fid for url, fid in existing.items() if url not in listed]
            if gone_from_config:
                conn.execute(
                    update(feeds).where(feeds.c.id.in_(gone_from_config)).values(active=False)
                )

    def fetch_history(self, feed_id: int) -> list[FetchAttempt]:
        """Return a feed's last attempts, newest first."""
        with self.read() as conn:
            return read_history(conn, feed_id)

    def list_feeds(self, *, active_only: bool = False) -> list[FeedState]:
        """Return stored feeds ordered by URL."""
        query = select(feeds).order_by(feeds.c.url)
        if active_only:
            query = query.where(feeds.c.active.is_(True))
        with self.read() as conn:
            return [feed_state(row) for row in conn.execute(query)]

    def get_feed(self, feed_id: int) -> FeedState | None:
        with self.read() as conn:
            row = conn.execute(select(feeds).where(feeds.c.id == feed_id)).first()
        return feed_state(row) if row else None

    def get_feed_by_url(self, url: str) -> FeedState | None:
        with self.read() as conn:
            row = conn.execute(select(feeds).where(feeds.c.url == url)).first()
        return feed_state(row) if row else None

    def due_feeds(self, now: datetime) -> list[FeedState]:
        """Return active feeds whose next check time has come, most overdue first."""
        query = (
            select(feeds)
            .where(*_POLLED)
            .where(or_(feeds.c.next_check_at.is_(None), feeds.c.next_check_at <= now))
            .order_by(feeds.c.next_check_at.is_not(None), feeds.c.next_check_at, feeds.c.id)
        )
        with self.read() as conn:
            return [feed_state(row) for row in conn.execute(query)]

    def claim_due_feeds(
        self, now: datetime, *, owner: str, lease_seconds: float, limit: int | None = None
    ) -> list[FeedState]:
        """Claim the due feeds no other poller holds, for ``lease_seconds``; return them.

        Two processes polling one database never get the same feed: the claim is
        one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: row locks,
        skipping rows another claimer has locked). Recording the poll's result
        releases the lease; a crashed poller's lease simply expires.
        """
        query = (
            select(feeds.c.id)
            .where(*_POLLED)
            .where(or_(feeds.c.next_check_at.is_(None), feeds.c.next_check_at <= now))
            .where(or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now))
            .order_by(feeds.c.next_check_at.is_not(None), feeds.c.next_check_at, feeds.c.id)
            .limit(limit)
        )
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.scalars(query))
            if not ids:
                return []
            conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            )
            rows = conn.execute(select(feeds).where(feeds.c.id.in_(ids)).order_by(feeds.c.id))
            return [feed_state(row) for row in rows]

    def release_leases(self, feed_ids: list[int], *, owner: str) -> None:
        """Give back leases on feeds a poller claimed but did not poll."""
        with self.write() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(feed_ids), feeds.c.lease_owner == owner)
                .values(**RELEASE_LEASE)
            )

    def record_not_modified(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        next_check_at: datetime,
        status: int = 304,
        duration_ms: int | None = None,
        redirect_target: str | None = None,
        redirect_count: int = 0,
        fetch_url: str | None = None,
    ) -> None:
        """Record a poll that found nothing new: only the check state changes.

        That is the check times, status, redirect sightings and the history.
        """
        with self.write() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id)
                .values(
                    last_fetched_at=fetched_at,
                    last_success_at=fetched_at,
                    last_status=status,
                    last_error=None,
                    error_count=0,
                    retry_after_until=None,
                    next_check_at=next_check_at,
                    redirect_target=redirect_target,
                    redirect_count=redirect_count,
                    **({"fetch_url": fetch_url} if fetch_url else {}),
                    **RELEASE_LEASE,
                )
            )
            record_attempt(
                conn,
                feed_id,
                FetchAttempt(fetched_at, "not_modified", status, duration_ms, None, 0, 0, None),
            )

    def record_failure(self, failure: FeedFailure) -> None:
        """Record a failed poll on its feed; entries and validators are left as they were."""
        values: dict[str, Any] = {
            "last_fetched_at": failure.fetched_at,
            "last_status": failure.status,
            "last_error": failure.error,
            "error_count": feeds.c.error_count + 1,
            "retry_after_until": failure.retry_after_until,
            "next_check_at": failure.next_check_at,
            **RELEASE_LEASE,
        }
        if failure.gone:
            values["gone"] = True
        if failure.permanent_redirect_url:
            values["permanent_redirect_url"] = failure.permanent_redirect_url
        with self.write() as conn:
            conn.execute(update(feeds).where(feeds.c.id == failure.feed_id).values(**values))
            record_attempt(
                conn,
                failure.feed_id,
                FetchAttempt(
                    attempted_at=failure.fetched_at,
                    outcome="failed",
                    http_status=failure.status,
                    duration_ms=failure.duration_ms,
                    bytes=None,
                    new_entries=0,
                    updated_entries=0,
                    error=failure.error,
                ),
            )

    def feed_health(self) -> list[tuple[FeedState, int]]:
        """Return every stored feed (ordered by URL) with its number of entries."""
        entries = schema.entries
        with self.read() as conn:
            feeds = conn.execute(select(schema.feeds).order_by(schema.feeds.c.url)).all()
            counts: dict[int, int] = {
                row.feed_id: row.entry_count
                for row in conn.execute(
                    select(entries.c.feed_id, func.count().label("entry_count")).group_by(
                        entries.c.feed_id
                    )
                )
            }
        return [(feed_state(row), counts.get(row.id, 0)) for row in feeds]
