"""Stories read back in river order, keyset-paged: whole (StoryView) for the reader
and filtered outputs, or as references (StoryRef) for the merged feeds' pages."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar, overload

from sqlalchemy import (
    Connection,
    Select,
    String,
    Text,
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
from aggregator.types import (
    Enclosure,
    EntryView,
    ReportStamp,
    StoryCursor,
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


def _enclosures(raw: Any) -> tuple[Enclosure, ...]:
    return tuple(
        Enclosure(url=item["url"], type=item.get("type"), length=item.get("length"))
        for item in raw or ()
        if isinstance(item, dict) and item.get("url")
    )


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
                        _aware(row[1]),
                        _aware(row[2]),
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

    def section_versions(self, sections: tuple[str, ...]) -> dict[str, tuple[int, datetime]]:
        """Return section -> (version, changed_at) for the given section keys ("*" = all)."""
        with self.read() as conn:
            rows = conn.execute(
                select(section_versions).where(section_versions.c.section.in_(sections))
            )
            return {row.section: (row.version, row.changed_at) for row in rows}


# --- building StoryViews -----------------------------------------------------------------

# Columns in the order story_views unpacks them. Datetimes and JSON are read
# raw and converted in one step each (_aware, _json_list): with up to a thousand
# stories per merged-feed page, the per-value type processing was a third of the time.
_RAW_DATETIME = String()
_RAW_JSON = Text()
# Who reported a story: what story_stamp needs of each report, and where
# story_views starts.
_REPORT_COLUMNS = (
    entries.c.id,
    entries.c.story_id,
    entries.c.feed_id,
    feeds.c.config_title,
    feeds.c.feed_title,
    feeds.c.url,
    feeds.c.site_url,
)
_LEAN_COLUMNS = (
    *_REPORT_COLUMNS,
    entries.c.guid,
    entries.c.link,
    entries.c.title,
    entries.c.summary_html,
    entries.c.content_html,
    entries.c.summary_text,
    entries.c.author,
    type_coerce(entries.c.published_at, _RAW_DATETIME),
    type_coerce(entries.c.source_updated_at, _RAW_DATETIME),
    type_coerce(entries.c.first_seen_at, _RAW_DATETIME),
    type_coerce(entries.c.changed_at, _RAW_DATETIME),
    type_coerce(entries.c.sort_at, _RAW_DATETIME),
    type_coerce(entries.c.tags, _RAW_JSON),
    type_coerce(entries.c.enclosures, _RAW_JSON),
)


@overload
def _aware(value: str | datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: str | datetime | None) -> datetime | None:
    """A stored UTC datetime as an aware datetime: SQLite gives text, PostgreSQL a
    naive datetime (both hold UTC, see schema.UTCDateTime)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_list(value: Any) -> list[Any]:
    """A stored JSON list: SQLite gives text, PostgreSQL's driver has parsed it already."""
    if isinstance(value, str):
        parsed = [] if value == "[]" else json.loads(value)
        return parsed if isinstance(parsed, list) else []
    return value if isinstance(value, list) else []


_Report = TypeVar("_Report")


def _lead_first(
    reports: list[_Report], lead: _Report | None
) -> tuple[_Report, tuple[_Report, ...]]:
    """(lead, others) of a story's reports in first-seen order; the first report leads
    when the recorded lead is gone."""
    chosen = lead if lead is not None else reports[0]
    return chosen, tuple(report for report in reports if report is not chosen)


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
        type_coerce(stories.c.sort_at, _RAW_DATETIME),
        type_coerce(stories.c.changed_at, _RAW_DATETIME),
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
        select(*_REPORT_COLUMNS)
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
        lead, others = _lead_first(reports, leads.get(story_id))
        story = stories_read[story_id]
        stamp = story_stamp(
            story_id, story.sort_at, story.changed_at, story.sections, (lead, *others)
        )
        refs[story_id] = StoryRef(story_id, story.sort_at, story.changed_at, stamp, story.rendering)
    return refs


def story_views(conn: Connection, story_ids: list[int]) -> dict[int, StoryView]:
    """The StoryViews of these stories: every report with its feed and story in one
    query, unpacked by position (pages of the merged feeds hold up to a thousand)."""
    if not story_ids:
        return {}
    # The stories by primary key on their own: joined to the entries, PostgreSQL may
    # plan a scan of every story.
    story_rows = {
        story_id: (lead_entry_id, story_sort_at, story_changed_at)
        for story_id, lead_entry_id, story_sort_at, story_changed_at in conn.execute(
            select(
                stories.c.id,
                stories.c.lead_entry_id,
                type_coerce(stories.c.sort_at, _RAW_DATETIME),
                type_coerce(stories.c.changed_at, _RAW_DATETIME),
            ).where(in_ids(conn.dialect.name, stories.c.id, story_ids))
        )
    }
    rows = conn.execute(
        select(*_LEAN_COLUMNS)
        .join(feeds, feeds.c.id == entries.c.feed_id)
        .where(in_ids(conn.dialect.name, entries.c.story_id, story_ids))
        .order_by(entries.c.first_seen_at, entries.c.id)
    ).all()
    sections_of: dict[int, list[str]] = defaultdict(list)
    for entry_id, section in conn.execute(
        select(entry_sections.c.entry_id, entry_sections.c.section)
        .join(entries, entries.c.id == entry_sections.c.entry_id)
        .where(in_ids(conn.dialect.name, entries.c.story_id, story_ids))
        .order_by(entry_sections.c.section)
    ):
        sections_of[entry_id].append(section)
    by_story: dict[int, list[EntryView]] = defaultdict(list)
    for (
        entry_id,
        story_id,
        feed_id,
        config_title,
        feed_title,
        feed_url,
        site_url,
        guid,
        link,
        title,
        summary_html,
        content_html,
        summary_text,
        author,
        published_at,
        source_updated_at,
        first_seen_at,
        changed_at,
        sort_at,
        tags,
        enclosures,
    ) in rows:
        if story_id not in story_rows:
            continue  # removed between the two reads
        by_story[story_id].append(
            EntryView(
                id=entry_id,
                story_id=story_id,
                feed_id=feed_id,
                feed_title=config_title or feed_title or feed_url,
                feed_url=feed_url,
                feed_site_url=site_url,
                guid=guid,
                link=link,
                title=title,
                summary_html=summary_html,
                content_html=content_html,
                summary_text=summary_text,
                author=author,
                published=_aware(published_at),
                updated=_aware(source_updated_at),
                first_seen_at=_aware(first_seen_at),
                changed_at=_aware(changed_at),
                sort_at=_aware(sort_at),
                tags=tuple(_json_list(tags)),
                enclosures=_enclosures(_json_list(enclosures)),
                sections=tuple(sections_of.get(entry_id, ())),
            )
        )
    views = {}
    for story_id, story_entries in by_story.items():
        lead_entry_id, story_sort_at, story_changed_at = story_rows[story_id]
        lead, others = _lead_first(
            story_entries, next((e for e in story_entries if e.id == lead_entry_id), None)
        )
        views[story_id] = StoryView(
            id=story_id,
            sort_at=_aware(story_sort_at) or lead.sort_at,
            changed_at=_aware(story_changed_at) or lead.changed_at,
            lead=lead,
            others=others,
            sections=tuple(sorted({s for e in story_entries for s in e.sections})),
        )
    return views
