"""Source feeds' site icons (schema.feed_icons): one row per feed, written after a poll
now and then, read by the reader's pages (which feeds have one, and its version) and
by the icon URL (the picture)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import dialect_insert
from aggregator.types import FeedIcon

icons = schema.feed_icons


def icon_version(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:12]


class IconsMixin(StorageBase):
    def feed_icons_checked(self) -> dict[int, datetime]:
        """feed id -> when its icon was last looked for."""
        with self.read() as conn:
            rows = conn.execute(select(icons.c.feed_id, icons.c.fetched_at))
            return {feed_id: fetched_at for feed_id, fetched_at in rows}

    def store_feed_icon(
        self,
        feed_id: int,
        *,
        fetched_at: datetime,
        content_type: str | None = None,
        body: bytes | None = None,
        source_url: str | None = None,
    ) -> None:
        """Keep what the last look for a feed's icon found (``body`` None: nothing).

        A look that found nothing keeps the picture found before, if any."""
        values = {
            "fetched_at": fetched_at,
            "content_type": content_type,
            "body": body,
            "source_url": source_url,
            "version": icon_version(body) if body else None,
        }
        changed = values if body else {"fetched_at": fetched_at}
        with self.write() as conn:
            insert = dialect_insert(conn, icons).values(feed_id=feed_id, **values)
            conn.execute(insert.on_conflict_do_update(index_elements=["feed_id"], set_=changed))

    def feed_icon(self, feed_id: int) -> FeedIcon | None:
        """The stored icon of a feed, if it was ever looked for."""
        with self.read() as conn:
            row = conn.execute(select(icons).where(icons.c.feed_id == feed_id)).first()
        if row is None:
            return None
        return FeedIcon(
            feed_id=row.feed_id,
            content_type=row.content_type,
            body=row.body,
            source_url=row.source_url,
            fetched_at=row.fetched_at,
            version=row.version,
        )

    def feed_icon_versions(self) -> dict[int, str]:
        """feed id -> version of every feed that has an icon."""
        with self.read() as conn:
            rows = conn.execute(
                select(icons.c.feed_id, icons.c.version).where(icons.c.version.is_not(None))
            )
            return {feed_id: version for feed_id, version in rows}
