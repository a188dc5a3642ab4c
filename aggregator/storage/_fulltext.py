"""Full text: the article pages of entries, fetched and extracted by the update
package, kept beside the entry and searched with its story."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._listings import index_stories
from aggregator.types import FULL_TEXT_FAILED, FULL_TEXT_OK, FullText

entries = schema.entries

_COLUMNS = (
    entries.c.id,
    entries.c.full_text_html,
    entries.c.full_text_status,
    entries.c.full_text_error,
    entries.c.full_text_at,
)


class FullTextMixin(StorageBase):
    def get_full_text(self, entry_id: int) -> FullText | None:
        """The entry's article text as last fetched (or why it failed); None when it
        was never tried or there is no such entry."""
        with self.read() as conn:
            row = conn.execute(select(*_COLUMNS).where(entries.c.id == entry_id)).first()
        return None if row is None else _full_text(row)

    def entry_link(self, entry_id: int) -> tuple[int, str | None] | None:
        """(story id, link) of an entry, or None when there is no such entry."""
        with self.read() as conn:
            row = conn.execute(
                select(entries.c.story_id, entries.c.link).where(entries.c.id == entry_id)
            ).first()
        return None if row is None else (int(row.story_id), row.link)

    def entries_wanting_full_text(
        self, feed_ids: Sequence[int], limit: int
    ) -> list[tuple[int, str | None]]:
        """(entry id, link) of up to ``limit`` entries of these feeds whose article was
        never fetched, newest first."""
        if not feed_ids or limit <= 0:
            return []
        query = (
            select(entries.c.id, entries.c.link)
            .where(entries.c.feed_id.in_(list(feed_ids)), entries.c.full_text_status.is_(None))
            .order_by(entries.c.first_seen_at.desc(), entries.c.id.desc())
            .limit(limit)
        )
        with self.read() as conn:
            return [(int(row.id), row.link) for row in conn.execute(query)]

    def store_full_text(
        self, entry_id: int, html: str | None, error: str | None, now: datetime
    ) -> FullText | None:
        """Keep an entry's article text (``html``, sanitized) or, without it, why it
        failed (``error``; an article kept before stays). The story's search document
        is brought up to date. Returns what is stored now, None when there is no such
        entry."""
        values: dict[str, Any] = {"full_text_at": now}
        if html is not None:
            values |= {"full_text_html": html, "full_text_status": FULL_TEXT_OK}
            values["full_text_error"] = None
        else:
            values |= {"full_text_status": FULL_TEXT_FAILED, "full_text_error": error or ""}
        with self.write() as conn:
            story_id = conn.scalar(select(entries.c.story_id).where(entries.c.id == entry_id))
            if story_id is None:
                return None
            if html is None:
                kept = conn.scalar(select(entries.c.full_text_html).where(entries.c.id == entry_id))
                if kept:  # a page that fails now keeps the text it gave before
                    values = {"full_text_at": now, "full_text_error": error or ""}
            conn.execute(update(entries).where(entries.c.id == entry_id).values(**values))
            index_stories(conn, [story_id])
            row = conn.execute(select(*_COLUMNS).where(entries.c.id == entry_id)).one()
        return _full_text(row)


def _full_text(row: Any) -> FullText | None:
    if row.full_text_status is None:
        return None
    return FullText(
        entry_id=int(row.id),
        status=row.full_text_status,
        html=row.full_text_html,
        error=row.full_text_error,
        fetched_at=row.full_text_at,
    )
