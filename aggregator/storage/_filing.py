"""Filing every stored story again, after the sections or the feeds' labels change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from aggregator.storage import schema
from aggregator.storage._listings import index_stories
from aggregator.storage._sections import bump_versions, file_stories
from aggregator.storage._types import StoryFiler

stories = schema.stories
BATCH = 1000  # stories per transaction, so readers and pollers are never held up long


def refile_batch(
    conn: Connection, after_id: int, filer: StoryFiler, now: datetime
) -> tuple[int, int | None]:
    """File the next BATCH stories after ``after_id`` again; return (how many moved
    section or changed what the reader's filters hide, the last story id done, or None
    when there was none left)."""
    ids = list(
        conn.scalars(
            select(stories.c.id).where(stories.c.id > after_id).order_by(stories.c.id).limit(BATCH)
        )
    )
    if not ids:
        return 0, None
    before = _sections_of(conn, ids)
    membership, _shown = file_stories(conn, ids, filer)
    after = _sections_of(conn, ids)
    moved = [story_id for story_id in ids if before.get(story_id) != after.get(story_id)]
    if moved:
        index_stories(conn, moved)
        bump_versions(conn, membership, now)
    return len(moved), ids[-1]


def _sections_of(conn: Connection, ids: list[int]) -> dict[int, frozenset[tuple[str, int]]]:
    """Story id -> what its listings depend on: its sections (with the reader's filters'
    verdict) and its reports hidden by their feed's filter."""
    story_sections, entries = schema.story_sections, schema.entries
    found: dict[int, set[tuple[str, int]]] = {}
    for story_id, section, hidden in conn.execute(
        select(story_sections.c.story_id, story_sections.c.section, story_sections.c.hidden).where(
            story_sections.c.story_id.in_(ids)
        )
    ):
        found.setdefault(story_id, set()).add((section, -1 if hidden else 0))
    for story_id, entry_id in conn.execute(
        select(entries.c.story_id, entries.c.id).where(
            entries.c.story_id.in_(ids), entries.c.hidden.is_(True)
        )
    ):
        found.setdefault(story_id, set()).add(("", entry_id))
    return {story_id: frozenset(sections) for story_id, sections in found.items()}
