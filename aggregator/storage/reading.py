"""Queries for the reader and the publisher: stories in river order, keyset-paged."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select

from aggregator.models import Enclosure, EntryView, StoryCursor, StoryPage, StoryView
from aggregator.storage import schema
from aggregator.storage.base import StorageBase

entries = schema.entries
feeds = schema.feeds
stories = schema.stories
story_sections = schema.story_sections
entry_sections = schema.entry_sections
section_versions = schema.section_versions


def _enclosures(raw: Any) -> tuple[Enclosure, ...]:
    return tuple(
        Enclosure(url=item["url"], type=item.get("type"), length=item.get("length"))
        for item in raw or ()
        if isinstance(item, dict) and item.get("url")
    )


def _entry_view(row: Row[Any], sections: tuple[str, ...]) -> EntryView:
    return EntryView(
        id=row.id,
        story_id=row.story_id,
        feed_id=row.feed_id,
        feed_title=row.config_title or row.feed_title or row.feed_url,
        feed_url=row.feed_url,
        feed_site_url=row.site_url,
        guid=row.guid,
        link=row.link,
        title=row.title,
        summary_html=row.summary_html,
        content_html=row.content_html,
        summary_text=row.summary_text,
        author=row.author,
        published=row.published_at,
        updated=row.source_updated_at,
        first_seen_at=row.first_seen_at,
        changed_at=row.changed_at,
        sort_at=row.sort_at,
        tags=tuple(row.tags or ()),
        enclosures=_enclosures(row.enclosures),
        sections=sections,
    )


_ENTRY_COLUMNS = (
    entries,
    feeds.c.url.label("feed_url"),
    feeds.c.config_title,
    feeds.c.feed_title,
    feeds.c.site_url,
)


class ReadingMixin(StorageBase):
    def list_stories(
        self,
        *,
        sections: tuple[str, ...] | None = None,
        limit: int = 50,
        before: StoryCursor | None = None,
    ) -> StoryPage:
        """Return up to ``limit`` stories, newest first, optionally in any of ``sections``.

        Keyset-paged: pass the page's ``next_cursor`` as ``before`` for the next
        page; new arrivals never shift a page already seen.
        """
        with self.read() as conn:
            if sections:
                query = select(story_sections.c.story_id, story_sections.c.sort_at).where(
                    story_sections.c.section.in_(sections)
                )
                sort_col, id_col = story_sections.c.sort_at, story_sections.c.story_id
                if len(sections) > 1:
                    query = query.distinct()
            else:
                query = select(stories.c.id.label("story_id"), stories.c.sort_at)
                sort_col, id_col = stories.c.sort_at, stories.c.id
            if before is not None:
                query = query.where(
                    or_(
                        sort_col < before.sort_at,
                        and_(sort_col == before.sort_at, id_col < before.story_id),
                    )
                )
            query = query.order_by(sort_col.desc(), id_col.desc()).limit(limit + 1)
            keys = conn.execute(query).all()
            more = len(keys) > limit
            keys = keys[:limit]
            views = self._story_views(conn, [key.story_id for key in keys])
        cursor = StoryCursor(keys[-1].sort_at, keys[-1].story_id) if more and keys else None
        return StoryPage(
            tuple(views[key.story_id] for key in keys if key.story_id in views), cursor
        )

    def get_story(self, story_id: int) -> StoryView | None:
        with self.read() as conn:
            return self._story_views(conn, [story_id]).get(story_id)

    def section_versions(self, sections: tuple[str, ...]) -> dict[str, tuple[int, datetime]]:
        """Return section -> (version, changed_at) for the given section keys ("*" = all)."""
        with self.read() as conn:
            rows = conn.execute(
                select(section_versions).where(section_versions.c.section.in_(sections))
            )
            return {row.section: (row.version, row.changed_at) for row in rows}

    def _story_views(self, conn: Connection, story_ids: list[int]) -> dict[int, StoryView]:
        if not story_ids:
            return {}
        story_rows = {
            row.id: row for row in conn.execute(select(stories).where(stories.c.id.in_(story_ids)))
        }
        entry_rows = conn.execute(
            select(*_ENTRY_COLUMNS)
            .join(feeds, feeds.c.id == entries.c.feed_id)
            .where(entries.c.story_id.in_(story_ids))
            .order_by(entries.c.first_seen_at, entries.c.id)
        ).all()
        sections_of: dict[int, list[str]] = defaultdict(list)
        entry_ids = [row.id for row in entry_rows]
        for entry_id, section in conn.execute(
            select(entry_sections.c.entry_id, entry_sections.c.section)
            .where(entry_sections.c.entry_id.in_(entry_ids))
            .order_by(entry_sections.c.section)
        ):
            sections_of[entry_id].append(section)
        by_story: dict[int, list[EntryView]] = defaultdict(list)
        for row in entry_rows:
            by_story[row.story_id].append(_entry_view(row, tuple(sections_of[row.id])))
        views = {}
        for story_id, story_entries in by_story.items():
            story = story_rows[story_id]
            lead = next((e for e in story_entries if e.id == story.lead_entry_id), story_entries[0])
            others = tuple(e for e in story_entries if e is not lead)
            all_sections = sorted({s for e in story_entries for s in e.sections})
            views[story_id] = StoryView(
                id=story_id,
                sort_at=story.sort_at,
                changed_at=story.changed_at,
                lead=lead,
                others=others,
                sections=tuple(all_sections),
            )
        return views
