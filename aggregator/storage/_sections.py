"""A story's sections and the section versions: kept in step by every write that
changes which stories a section shows (a poll, filing again, retention)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from aggregator.storage import schema
from aggregator.storage._dialect import dialect_insert

entries = schema.entries
stories = schema.stories
entry_sections = schema.entry_sections
story_sections = schema.story_sections
section_versions = schema.section_versions
ALL_SECTIONS = "*"  # the version key of outputs that show every section


def bump_versions(conn: Connection, sections: set[str], now: datetime) -> None:
    """Mark these sections and "*" (everything) as changed, for cached published outputs."""
    keys = sorted(sections | {ALL_SECTIONS})
    conn.execute(
        dialect_insert(conn, section_versions)
        .values([{"section": key, "version": 1, "changed_at": now} for key in keys])
        .on_conflict_do_update(
            index_elements=["section"],
            set_={"version": section_versions.c.version + 1, "changed_at": now},
        )
    )


def rebuild_story_sections(conn: Connection, story_id: int) -> None:
    """Make a story's sections the union of its entries' sections again."""
    sort_at = conn.scalar(select(stories.c.sort_at).where(stories.c.id == story_id))
    conn.execute(delete(story_sections).where(story_sections.c.story_id == story_id))
    sections = conn.scalars(
        select(entry_sections.c.section)
        .join(entries)
        .where(entries.c.story_id == story_id)
        .distinct()
    ).all()
    if sections:
        conn.execute(
            insert(story_sections),
            [{"story_id": story_id, "section": s, "sort_at": sort_at} for s in sorted(sections)],
        )
