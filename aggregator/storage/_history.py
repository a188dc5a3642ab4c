"""Fetch history per source feed: the last 20 attempts, written with each poll."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from aggregator.storage import schema
from aggregator.types import FetchAttempt

HISTORY_LENGTH = 20
attempts = schema.fetch_attempts


def record_attempt(conn: Connection, feed_id: int, attempt: FetchAttempt) -> None:
    """Add an attempt to a feed's history (in the caller's transaction), keeping the last 20."""
    conn.execute(
        insert(attempts).values(
            feed_id=feed_id,
            attempted_at=attempt.attempted_at,
            outcome=attempt.outcome,
            http_status=attempt.http_status,
            duration_ms=attempt.duration_ms,
            bytes=attempt.bytes,
            new_entries=attempt.new_entries,
            updated_entries=attempt.updated_entries,
            error=attempt.error,
        )
    )
    keep = (
        select(attempts.c.id)
        .where(attempts.c.feed_id == feed_id)
        .order_by(attempts.c.attempted_at.desc(), attempts.c.id.desc())
        .limit(HISTORY_LENGTH)
    )
    conn.execute(
        delete(attempts).where(
            attempts.c.feed_id == feed_id, attempts.c.id.not_in(keep.scalar_subquery())
        )
    )


def read_history(conn: Connection, feed_id: int) -> list[FetchAttempt]:
    """A feed's last attempts, newest first."""
    query = (
        select(attempts)
        .where(attempts.c.feed_id == feed_id)
        .order_by(attempts.c.attempted_at.desc(), attempts.c.id.desc())
    )
    return [attempt_of(row) for row in conn.execute(query)]


def attempt_of(row: Row[Any]) -> FetchAttempt:
    return FetchAttempt(
        attempted_at=row.attempted_at,
        outcome=row.outcome,
        http_status=row.http_status,
        duration_ms=row.duration_ms,
        bytes=row.bytes,
        new_entries=row.new_entries,
        updated_entries=row.updated_entries,
        error=row.error,
    )
