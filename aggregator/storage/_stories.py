"""Stories read back in river order, keyset-paged: whole (StoryView) for the reader
and filtered outputs, or as references (StoryRef) for the merged feeds' pages."""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
)

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import in_ids
from aggregator.storage._views import RAW_DATETIME, REPORT_COLUMNS, aware, lead_first, story_views
from aggregator.types import (
    FilingReason,
    RelatedStory,
    ReportJoining,
    ReportStamp,
    StoryCursor,
    StoryDetails,
    StoryPage,
    StoryRef,
    StoryRefPage,
    StoryView,
    story_stamp,
)

entries = schema.entries
feeds = schema.feeds
stories = schema.stories
story_sections = schema.story_sections
entry_sections = schema.entry_sections
section_versions = schema.section_versions
renderings = schema.story_renderings


def _page_keys_query(
    sections: tuple[str, ...] | None, limit: int, before: StoryCursor | None
) -> Select[int, datetime]:
    """(story_id, sort_at) of up to ``limit`` stories older than ``before``, newest first."""
    query: Select[int, datetime]
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
    return query.order_by(sort_col.desc(), id_col.desc()).limit(limit)


class StoriesMixin(StorageBase):
    """Stories read back for the merged feeds: pages of story views or references."""

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
            keys = conn.execute(_page_keys_query(sections, limit + 1, before)).all()
            more = len(keys) > limit
            keys = keys[:limit]
            views = story_views(conn, [key.story_id for key in keys])
        cursor = StoryCursor(keys[-1].sort_at, keys[-1].story_id) if more and keys else None
        return StoryPage(
            tuple(views[key.story_id] for key in keys if key.story_id in views), cursor
        )

    def list_story_refs(
        self,
        *,
        sections: tuple[str, ...] | None = None,
        limit: int = 50,
        before: StoryCursor | None = None,
        rendered_as: tuple[str, str] | None = None,
    ) -> StoryRefPage:
        """Like list_stories, but only each story's id, dates and story_stamp: what a
        merged-feed page needs when its entries are rendered already. Reads no text.

        With ``rendered_as=(format, context)``, each StoryRef also carries the story's
        stored rendering in that format and context, if any (``rendering``).
        """
        with self.read() as conn:
            keys = conn.execute(_page_keys_query(sections, limit + 1, before)).all()
            more = len(keys) > limit
            keys = keys[:limit]
            with_stored = rendered_as is not None
            fmt, context = rendered_as or ("", "")
            parameters = {"ids": [key.story_id for key in keys], "fmt": fmt, "context": context}
            query = _refs_statements(conn.dialect.name, with_stored)[0]
            refs = _story_refs(
                conn,
                {
                    row[0]: _StoryRow(
                        aware(row[1]),
                        aware(row[2]),
                        row[3],
                        tuple(sorted(row[4].split(","))) if row[4] else (),
                        (row[5], bytes(row[6])) if with_stored and row[5] is not None else None,
                    )
                    for row in conn.execute(query, parameters)
                }
                if keys
                else {},
            )
        cursor = StoryCursor(keys[-1].sort_at, keys[-1].story_id) if more and keys else None
        found = tuple(refs[key.story_id] for key in keys if key.story_id in refs)
        return StoryRefPage(found, cursor)

    def newest_story_ids(self, sections: tuple[str, ...] | None, limit: int) -> list[int]:
        """The ids of the newest ``limit`` stories, optionally in any of ``sections``."""
        with self.read() as conn:
            return [row.story_id for row in conn.execute(_page_keys_query(sections, limit, None))]

    def get_story(self, story_id: int) -> StoryView | None:
        with self.read() as conn:
            return story_views(conn, [story_id]).get(story_id)

    def get_stories(self, story_ids: list[int]) -> dict[int, StoryView]:
        """Return the stories with these ids that exist, by id."""
        with self.read() as conn:
            return story_views(conn, story_ids)

    def story_details(self, story_id: int) -> StoryDetails | None:
        """How a story's reports joined it, why it is filed where it is, and its related
        stories (newest first); None when there is no such story."""
        with self.read() as conn:
            filing = conn.scalar(select(stories.c.filing).where(stories.c.id == story_id))
            exists = conn.scalar(select(stories.c.id).where(stories.c.id == story_id))
            if exists is None:
                return None
            joinings = {
                row.id: ReportJoining(
                    row.id,
                    row.story_rule or "first",
                    row.story_similarity,
                    row.story_matched_entry_id,
                )
                for row in conn.execute(
                    select(
                        entries.c.id,
                        entries.c.story_rule,
                        entries.c.story_similarity,
                        entries.c.story_matched_entry_id,
                    ).where(entries.c.story_id == story_id)
                )
            }
            related = _related(conn, story_id)
        reasons = tuple(
            FilingReason(
                str(item.get("section", "")),
                str(item.get("kind", "")),
                str(item.get("feed", "")),
                str(item.get("detail", "")),
                bool(item.get("counted", True)),
            )
            for item in (filing or ())
            if isinstance(item, dict)
        )
        return StoryDetails(joinings, reasons, related)

    def section_versions(self, sections: tuple[str, ...]) -> dict[str, tuple[int, datetime]]:
        """Return section -> (version, changed_at) for the given section keys ("*" = all)."""
        with self.read() as conn:
            rows = conn.execute(
                select(section_versions).where(section_versions.c.section.in_(sections))
            )
            return {row.section: (row.version, row.changed_at) for row in rows}


class _StoryRow(NamedTuple):
    """A story as list_story_refs reads it."""

    sort_at: datetime
    changed_at: datetime
    lead_entry_id: int | None
    sections: tuple[str, ...]
    rendering: tuple[str, bytes] | None  # (stamp, body) of a stored rendering


@functools.cache
def _refs_statements(dialect: str, with_stored: bool) -> tuple[Select[Any], Select[Any]]:
    """The statements of list_story_refs (stories, then their reports), built once:
    run with parameters ``ids`` (story ids) and, ``with_stored``, ``fmt`` and
    ``context`` of the renderings wanted."""
    # story_sections holds the union of the entries' sections (StoryView.sections).
    sections_of = (
        select(func.aggregate_strings(story_sections.c.section, ","))
        .where(story_sections.c.story_id == stories.c.id)
        .scalar_subquery()
    )
    # Looked up by primary key, not joined to the page's keys: PostgreSQL may plan a
    # scan of every story for such a join.
    stories_query = select(
        stories.c.id,
        type_coerce(stories.c.sort_at, RAW_DATETIME),
        type_coerce(stories.c.changed_at, RAW_DATETIME),
        stories.c.lead_entry_id,
        sections_of,
    ).where(in_ids(dialect, stories.c.id, name="ids"))
    if with_stored:
        stories_query = stories_query.add_columns(renderings.c.stamp, renderings.c.body).outerjoin(
            renderings,
            and_(
                renderings.c.story_id == stories.c.id,
                renderings.c.format == bindparam("fmt"),
                renderings.c.context == bindparam("context"),
            ),
        )
    reports_query = (
        select(*REPORT_COLUMNS)
        .join(feeds, feeds.c.id == entries.c.feed_id)
        .where(in_ids(dialect, entries.c.story_id, name="ids"))
        .order_by(entries.c.first_seen_at, entries.c.id)
    )
    return stories_query, reports_query


def _story_refs(conn: Connection, stories_read: dict[int, _StoryRow]) -> dict[int, StoryRef]:
    """The StoryRefs of stories read already (by id): with their reports, the
    story_stamp inputs of story_views, without any of the entries' text."""
    if not stories_read:
        return {}
    reports_query = _refs_statements(conn.dialect.name, False)[1]
    rows = conn.execute(reports_query, {"ids": list(stories_read)}).all()
    by_story: dict[int, list[ReportStamp]] = defaultdict(list)
    leads: dict[int, ReportStamp] = {}
    for entry_id, story_id, feed_id, config_title, feed_title, url, site_url in rows:
        report = (entry_id, feed_id, config_title or feed_title or url, url, site_url)
        by_story[story_id].append(report)
        if entry_id == stories_read[story_id].lead_entry_id:
            leads[story_id] = report
    refs = {}
    for story_id, reports in by_story.items():
        lead, others = lead_first(reports, leads.get(story_id))
        story = stories_read[story_id]
        stamp = story_stamp(
            story_id, story.sort_at, story.changed_at, story.sections, (lead, *others)
        )
        refs[story_id] = StoryRef(story_id, story.sort_at, story.changed_at, stamp, story.rendering)
    return refs


RELATED_SHOWN = 5  # the most alike, then shown newest first


def _related(conn: Connection, story_id: int) -> tuple[RelatedStory, ...]:
    related_stories = schema.related_stories
    rows = conn.execute(
        select(
            related_stories.c.related_id,
            related_stories.c.similarity,
            stories.c.sort_at,
            entries.c.title,
            feeds.c.config_title,
            feeds.c.feed_title,
            feeds.c.url,
        )
        .join(stories, stories.c.id == related_stories.c.related_id)
        .join(entries, entries.c.id == stories.c.lead_entry_id)
        .join(feeds, feeds.c.id == entries.c.feed_id)
        .where(related_stories.c.story_id == story_id)
        .order_by(related_stories.c.similarity.desc())
        .limit(RELATED_SHOWN)
    ).all()
    rows = sorted(rows, key=lambda row: (aware(row.sort_at), row.related_id), reverse=True)
    return tuple(
        RelatedStory(
            row.related_id,
            row.title,
            row.config_title or row.feed_title or row.url,
            aware(row.sort_at) if isinstance(row.sort_at, str) else row.sort_at,
            row.similarity,
        )
        for row in rows
    )
