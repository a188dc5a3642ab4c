"""Re-filing stored entries into sections after the categories change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from aggregator.storage import schema
from aggregator.storage._listings import index_stories
from aggregator.storage._sections import bump_versions, rebuild_story_sections

entries = schema.entries
feeds = schema.feeds
entry_sections = schema.entry_sections
BATCH = 1000


@dataclass(frozen=True)
class StoredForFiling:
    """What categorizing a stored entry needs."""

    title: str
    summary_text: str
    tags: tuple[str, ...]
    feed_category: str | None


Refile = Callable[[StoredForFiling], tuple[str, ...]]


def filing_batch(conn: Connection, after_id: int) -> Sequence[Any]:
    """The next BATCH entries after ``after_id``, with what filing them needs."""
    return conn.execute(
        select(
            entries.c.id,
            entries.c.story_id,
            entries.c.title,
            entries.c.summary_text,
            entries.c.source_tags,
            entries.c.tags,
            entries.c.sort_at,
            feeds.c.category,
        )
        .join(feeds, feeds.c.id == entries.c.feed_id)
        .where(entries.c.id > after_id)
        .order_by(entries.c.id)
        .limit(BATCH)
    ).all()


def refile_batch(conn: Connection, rows: Sequence[Any], sections_of: Refile, now: datetime) -> int:
    """File these entries (rows of ``filing_batch``) again; return how many changed."""
    ids = [row.id for row in rows]
    current: dict[int, set[str]] = {entry_id: set() for entry_id in ids}
    for entry_id, section in conn.execute(
        select(entry_sections.c.entry_id, entry_sections.c.section).where(
            entry_sections.c.entry_id.in_(ids)
        )
    ):
        current[entry_id].add(section)
    touched_sections: set[str] = set()
    touched_stories: set[int] = set()
    for row in rows:
        # Entries stored before source tags were kept have only the tags that
        # matched no section then.
        tags = tuple(row.source_tags or row.tags or ())
        wanted = set(sections_of(StoredForFiling(row.title, row.summary_text, tags, row.category)))
        if wanted == current[row.id]:
            continue
        conn.execute(delete(entry_sections).where(entry_sections.c.entry_id == row.id))
        if wanted:
            conn.execute(
                insert(entry_sections),
                [{"entry_id": row.id, "section": s, "sort_at": row.sort_at} for s in wanted],
            )
        touched_sections |= current[row.id] ^ wanted
        touched_stories.add(row.story_id)
    for story_id in sorted(touched_stories):
        rebuild_story_sections(conn, story_id)
    if touched_stories:
        index_stories(conn, touched_stories)
        bump_versions(conn, touched_sections, now)
    return sum(1 for row in rows if row.story_id in touched_stories)
