"""Fetch history per source feed: the last 20 attempts, written with each poll."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select

from aggregator.storage import schema
from aggregator.storage._dialect import chunked, in_ids
from aggregator.types import FetchAttempt

HISTORY_LENGTH = 20
attempts = schema.fetch_attempts


def record_attempt(conn: Connection, feed_id: int, attempt: FetchAttempt) -> None:
    """Add an attempt to a feed's history (in the caller's transaction), keeping the last 20."""
    record_attempts(conn, [(feed_id, attempt)])


def record_attempts(conn: Connection, polls: Sequence[tuple[int, FetchAttempt]]) -> None:
    """Add attempts to their feeds' histories, keeping each feed's last 20."""
    if not polls:
        return
    conn.execute(
        insert(attempts),
        [
            {
                "feed_id": feed_id,
                "attempted_at": attempt.attempted_at,
                "outcome": attempt.outcome,
                "http_status": attempt.http_status,
                "duration_ms": attempt.duration_ms,
                "bytes": attempt.bytes,
                "new_entries": attempt.new_entries,
                "updated_entries": attempt.updated_entries,
                "error": attempt.error,
            }
            for feed_id, attempt in polls
        ],
    )
    feed_ids = sorted({feed_id for feed_id, _attempt in polls})
    for chunk in chunked(feed_ids):
        ranked = (
            select(
                attempts.c.id,
                func.row_number()
                .over(
                    partition_by=attempts.c.feed_id,
                    order_by=(attempts.c.attempted_at.desc(), attempts.c.id.desc()),
                )
                .label("position"),
            )
            .where(in_ids(conn.dialect.name, attempts.c.feed_id, chunk))
            .subquery()
        )
        conn.execute(
            delete(attempts).where(
                attempts.c.id.in_(select(ranked.c.id).where(ranked.c.position > HISTORY_LENGTH))
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
