"""Stories read whole (StoryView: every report with its feed), as the reader and the
filtered merged feeds show them."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from sqlalchemy import Connection, String, Text, select, type_coerce

from aggregator.storage import schema
from aggregator.storage._dialect import in_ids
from aggregator.types import Enclosure, EntryView, StoryView

entries = schema.entries
feeds = schema.feeds
stories = schema.stories
entry_sections = schema.entry_sections


def _enclosures(raw: Any) -> tuple[Enclosure, ...]:
    return tuple(
        Enclosure(url=item["url"], type=item.get("type"), length=item.get("length"))
        for item in raw or ()
        if isinstance(item, dict) and item.get("url")
    )


# Columns in the order _entry_view unpacks them. Datetimes and JSON are read
# raw and converted in one step each (aware, json_list): with up to a thousand
# stories per merged-feed page, the per-value type processing was a third of the time.
RAW_DATETIME = String()
RAW_JSON = Text()
# Who reported a story: what story_stamp needs of each report, and where
# story_views starts.
REPORT_COLUMNS = (
    entries.c.id,
    entries.c.story_id,
    entries.c.feed_id,
    feeds.c.config_title,
    feeds.c.feed_title,
    feeds.c.url,
    feeds.c.site_url,
)
_LEAN_COLUMNS = (
    *REPORT_COLUMNS,
    entries.c.guid,
    entries.c.link,
    entries.c.title,
    entries.c.summary_html,
    entries.c.content_html,
    entries.c.summary_text,
    entries.c.author,
    type_coerce(entries.c.published_at, RAW_DATETIME),
    type_coerce(entries.c.source_updated_at, RAW_DATETIME),
    type_coerce(entries.c.first_seen_at, RAW_DATETIME),
    type_coerce(entries.c.changed_at, RAW_DATETIME),
    type_coerce(entries.c.sort_at, RAW_DATETIME),
    type_coerce(entries.c.tags, RAW_JSON),
    type_coerce(entries.c.enclosures, RAW_JSON),
)


@overload
def aware(value: str | datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: str | datetime | None) -> datetime | None:
    """A stored UTC datetime as an aware datetime: SQLite gives text, PostgreSQL a
    naive datetime (both hold UTC, see schema.UTCDateTime)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_list(value: Any) -> list[Any]:
    """A stored JSON list: SQLite gives text, PostgreSQL's driver has parsed it already."""
    if isinstance(value, str):
        parsed = [] if value == "[]" else json.loads(value)
        return parsed if isinstance(parsed, list) else []
    return value if isinstance(value, list) else []


Report = TypeVar("Report")


def lead_first(reports: list[Report], lead: Report | None) -> tuple[Report, tuple[Report, ...]]:
    """(lead, others) of a story's reports in first-seen order; the first report leads
    when the recorded lead is gone."""
    chosen = lead if lead is not None else reports[0]
    return chosen, tuple(report for report in reports if report is not chosen)


def story_views(conn: Connection, story_ids: list[int]) -> dict[int, StoryView]:
    """The StoryViews of these stories: every report with its feed and story in one
    query, unpacked by position (pages of the merged feeds hold up to a thousand)."""
    if not story_ids:
        return {}
    story_rows = _story_rows(conn, story_ids)
    sections_of = _entry_sections(conn, story_ids)
    by_story: dict[int, list[EntryView]] = defaultdict(list)
    for row in conn.execute(
        select(*_LEAN_COLUMNS)
        .join(feeds, feeds.c.id == entries.c.feed_id)
        .where(in_ids(conn.dialect.name, entries.c.story_id, story_ids))
        .order_by(entries.c.first_seen_at, entries.c.id)
    ):
        entry = _entry_view(row, sections_of)
        if entry.story_id in story_rows:  # else removed between the two reads
            by_story[entry.story_id].append(entry)
    views = {}
    for story_id, story_entries in by_story.items():
        lead_entry_id, story_sort_at, story_changed_at = story_rows[story_id]
        lead, others = lead_first(
            story_entries, next((e for e in story_entries if e.id == lead_entry_id), None)
        )
        views[story_id] = StoryView(
            id=story_id,
            sort_at=aware(story_sort_at) or lead.sort_at,
            changed_at=aware(story_changed_at) or lead.changed_at,
            lead=lead,
            others=others,
            sections=tuple(sorted({s for e in story_entries for s in e.sections})),
        )
    return views


def _story_rows(conn: Connection, story_ids: list[int]) -> dict[int, tuple[Any, Any, Any]]:
    """story id -> (lead entry id, sort_at, changed_at), raw. By primary key on their
    own: joined to the entries, PostgreSQL may plan a scan of every story."""
    return {
        story_id: (lead_entry_id, sort_at, changed_at)
        for story_id, lead_entry_id, sort_at, changed_at in conn.execute(
            select(
                stories.c.id,
                stories.c.lead_entry_id,
                type_coerce(stories.c.sort_at, RAW_DATETIME),
                type_coerce(stories.c.changed_at, RAW_DATETIME),
            ).where(in_ids(conn.dialect.name, stories.c.id, story_ids))
        )
    }


def _entry_sections(conn: Connection, story_ids: list[int]) -> dict[int, list[str]]:
    """entry id -> its section slugs, for every entry of these stories."""
    sections_of: dict[int, list[str]] = defaultdict(list)
    for entry_id, section in conn.execute(
        select(entry_sections.c.entry_id, entry_sections.c.section)
        .join(entries, entries.c.id == entry_sections.c.entry_id)
        .where(in_ids(conn.dialect.name, entries.c.story_id, story_ids))
        .order_by(entry_sections.c.section)
    ):
        sections_of[entry_id].append(section)
    return sections_of


def _entry_view(row: Any, sections_of: dict[int, list[str]]) -> EntryView:
    """An EntryView from a row of _LEAN_COLUMNS, unpacked by position (fast)."""
    (
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
    ) = row
    return EntryView(
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
        published=aware(published_at),
        updated=aware(source_updated_at),
        first_seen_at=aware(first_seen_at),
        changed_at=aware(changed_at),
        sort_at=aware(sort_at),
        tags=tuple(json_list(tags)),
        enclosures=_enclosures(json_list(enclosures)),
        sections=tuple(sections_of.get(entry_id, ())),
    )
