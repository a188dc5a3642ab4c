"""Stored renderings of each story's published entry (schema.story_renderings).

Written by whoever renders an entry that was missing or stale, usually the web
app building a page of a merged feed, and read back by every later build, in
this process or another, after a restart too. A cache: a failed write loses
nothing but time.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import SQLAlchemyError

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import chunked, dialect_insert, in_ids
from aggregator.storage._engine import SQLITE_BEGIN, SQLITE_BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

renderings = schema.story_renderings
stories = schema.stories
# How long a write of renderings waits for another writer (a poll) before giving
# up: it runs while a subscriber waits for the page, which it does not need.
SAVE_WAIT_MS = 200


class RenderingsMixin(StorageBase):
    def stored_renderings(
        self, story_ids: Sequence[int], fmt: str, context: str
    ) -> dict[int, tuple[str, bytes]]:
        """Return story id -> (stamp, body) of the stored renderings of these stories in
        a format, rendered in ``context``."""
        found: dict[int, tuple[str, bytes]] = {}
        with self.read() as conn:
            for chunk in chunked(story_ids):
                rows = conn.execute(
                    select(renderings.c.story_id, renderings.c.stamp, renderings.c.body).where(
                        in_ids(conn.dialect.name, renderings.c.story_id, chunk),
                        renderings.c.format == fmt,
                        renderings.c.context == context,
                    )
                )
                found.update({story_id: (stamp, bytes(body)) for story_id, stamp, body in rows})
        return found

    def save_renderings(
        self, fmt: str, context: str, rendered: Sequence[tuple[int, str, bytes]]
    ) -> bool:
        """Store (story id, stamp, body) renderings in a format, replacing older ones.

        Waits at most SAVE_WAIT_MS for the database; returns False (and logs why)
        when the renderings could not be stored, e.g. while a poll writes, or for a
        story removed meanwhile.
        """
        if not rendered:
            return True
        rows = [
            {"story_id": story_id, "format": fmt, "context": context, "stamp": stamp, "body": body}
            for story_id, stamp, body in rendered
        ]
        try:
            with self.engine.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:  # on the driver's connection: no transaction begins
                    _busy_timeout(conn, SAVE_WAIT_MS)
                    conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                try:
                    with conn.begin():
                        if not sqlite:
                            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{SAVE_WAIT_MS}ms'")
                        insert = dialect_insert(conn, renderings)
                        conn.execute(
                            insert.on_conflict_do_update(
                                index_elements=["story_id", "format"],
                                set_={
                                    "context": insert.excluded.context,
                                    "stamp": insert.excluded.stamp,
                                    "body": insert.excluded.body,
                                },
                            ),
                            rows,
                        )
                finally:
                    if sqlite:
                        _busy_timeout(conn, SQLITE_BUSY_TIMEOUT_MS)
        except SQLAlchemyError as e:
            log.info("entry renderings not stored (%d): %s", len(rows), e.__class__.__name__)
            return False
        return True

    def delete_renderings(self) -> int:
        """Delete every stored rendering (they are made again when needed)."""
        with self.write() as conn:
            return int(conn.execute(delete(renderings)).rowcount or 0)

    def prune_renderings(self, older_than: datetime, keep: Collection[int] = ()) -> int:
        """Delete the renderings of stories sorted before ``older_than``, except those
        of the stories in ``keep``. Returns how many were deleted."""
        with self.write() as conn:
            old = select(stories.c.id).where(stories.c.sort_at < older_than)
            if keep:
                old = old.where(stories.c.id.not_in(sorted(keep)))
            result = conn.execute(delete(renderings).where(renderings.c.story_id.in_(old)))
            return int(result.rowcount or 0)


def _busy_timeout(conn: Connection, milliseconds: int) -> None:
    driver_connection = conn.connection.dbapi_connection
    assert driver_connection is not None
    driver_connection.execute(f"PRAGMA busy_timeout={milliseconds}")
