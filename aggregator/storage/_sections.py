"""A story's sections, lead report and section versions: kept in step by every write
that changes a story's reports (a poll, filing again, a split, retention). The reader's
filters are decided here too, as stored flags (entries.hidden, story_sections.hidden):
a list page then reads them from story_listings, never matching phrases itself.

A story is filed as a whole: the filer (the update package's rules, given by the
caller) weighs the evidence of all its reports, and every report is listed in the
story's sections, so a story never shows in one section through one report and in
another through another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from aggregator.process import html_to_text, match_text
from aggregator.storage import schema
from aggregator.storage._dialect import chunked, dialect_insert, in_ids
from aggregator.storage._types import FilingReport, StoryFiler

entries = schema.entries
feeds = schema.feeds
stories = schema.stories
entry_sections = schema.entry_sections
story_sections = schema.story_sections
section_versions = schema.section_versions
ALL_SECTIONS = "*"  # the version key of outputs that show every section


def bump_versions(conn: Connection, sections: Iterable[str], now: datetime) -> None:
    """Mark these sections and "*" (everything) as changed, for cached published outputs."""
    keys = sorted(set(sections) | {ALL_SECTIONS})
    conn.execute(
        dialect_insert(conn, section_versions)
        .values([{"section": key, "version": 1, "changed_at": now} for key in keys])
        .on_conflict_do_update(
            index_elements=["section"],
            set_={"version": section_versions.c.version + 1, "changed_at": now},
        )
    )


def stored_text(summary_html: str, content_html: str) -> str:
    """The text a stored report is matched and filed on (as process.match_text)."""
    return match_text(html_to_text(summary_html), html_to_text(content_html))


# What a transaction knows of the entries it wrote: entry id -> (match text, given
# sections), so they are not made again from their HTML or read back.
Fresh = Mapping[int, tuple[str, tuple[str, ...]]]


def file_stories(
    conn: Connection,
    story_ids: Iterable[int],
    filer: StoryFiler,
    fresh: Fresh | None = None,
) -> tuple[set[str], set[str]]:
    """File these stories again from all their reports and choose their lead reports.

    Returns (the section slugs a story joined or left, the section slugs the stories
    are in now): outputs of the first changed what they list; outputs of the second
    show the stories, whose content may have changed.
    """
    ids = sorted(set(story_ids))
    membership: set[str] = set()
    shown: set[str] = set()
    for chunk in chunked(ids):
        changed, now_in = _file_chunk(conn, chunk, filer, fresh or {})
        membership |= changed
        shown |= now_in
    return membership, shown


_REPORT_COLUMNS = (
    entries.c.id,
    entries.c.story_id,
    entries.c.feed_id,
    entries.c.title,
    entries.c.summary_html,
    entries.c.content_html,
    entries.c.source_tags,
    entries.c.tags,
    entries.c.sort_at,
    entries.c.first_seen_at,
    entries.c.hidden,
    feeds.c.config_title,
    feeds.c.feed_title,
    feeds.c.url,
    feeds.c.category,
    feeds.c.labels,
    feeds.c.priority,
)


def _file_chunk(
    conn: Connection, ids: Sequence[int], filer: StoryFiler, fresh: Fresh
) -> tuple[set[str], set[str]]:
    reports: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(
        select(*_REPORT_COLUMNS)
        .join(feeds, feeds.c.id == entries.c.feed_id)
        .where(in_ids(conn.dialect.name, entries.c.story_id, ids))
        .order_by(entries.c.story_id, entries.c.first_seen_at, entries.c.id)
    ):
        reports[row.story_id].append(row)
    given: dict[int, list[str]] = defaultdict(list)  # stored entries' current sections
    stored_ids = [row.id for rows in reports.values() for row in rows if row.id not in fresh]
    for entry_chunk in chunked(stored_ids):
        for entry_id, section in conn.execute(
            select(entry_sections.c.entry_id, entry_sections.c.section).where(
                in_ids(conn.dialect.name, entry_sections.c.entry_id, entry_chunk)
            )
        ):
            given[entry_id].append(section)
    before: dict[int, set[str]] = defaultdict(set)
    for story_id, section in conn.execute(
        select(story_sections.c.story_id, story_sections.c.section).where(
            in_ids(conn.dialect.name, story_sections.c.story_id, ids)
        )
    ):
        before[story_id].add(section)
    sort_of = {
        row.id: row.sort_at
        for row in conn.execute(
            select(stories.c.id, stories.c.sort_at).where(
                in_ids(conn.dialect.name, stories.c.id, ids)
            )
        )
    }
    changed: set[str] = set()
    shown: set[str] = set()
    story_rows: list[dict[str, Any]] = []
    section_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    hidden_rows: list[dict[str, Any]] = []  # entries whose reading filter verdict changed
    for story_id in ids:
        rows = reports.get(story_id)
        if not rows:
            continue
        filing = filer([_filing_report(row, fresh, given) for row in rows])
        sections = filing.sections
        changed |= before[story_id] ^ set(sections)
        shown |= set(sections)
        hidden_rows.extend(
            {"b_id": row.id, "hidden": row.id in filing.hidden_reports}
            for row in rows
            if bool(row.hidden) != (row.id in filing.hidden_reports)
        )
        visible = [row for row in rows if row.id not in filing.hidden_reports]
        story_rows.append(
            {
                "b_id": story_id,
                "lead_entry_id": _lead(visible or rows).id,
                "filing": [dict(reason) for reason in filing.reasons],
            }
        )
        section_rows.extend(
            {
                "story_id": story_id,
                "section": section,
                "sort_at": sort_of[story_id],
                "hidden": section in filing.hidden_sections,
            }
            for section in sections
        )
        entry_rows.extend(
            {"entry_id": row.id, "section": section, "sort_at": row.sort_at}
            for row in rows
            for section in sections
        )
    dialect = conn.dialect.name
    conn.execute(delete(story_sections).where(in_ids(dialect, story_sections.c.story_id, ids)))
    entry_ids = [row.id for rows in reports.values() for row in rows]
    for entry_chunk in chunked(entry_ids):
        conn.execute(
            delete(entry_sections).where(in_ids(dialect, entry_sections.c.entry_id, entry_chunk))
        )
    if section_rows:
        conn.execute(insert(story_sections), section_rows)
    if entry_rows:
        conn.execute(insert(entry_sections), entry_rows)
    if story_rows:
        conn.execute(_UPDATE_STORY, story_rows)
    if hidden_rows:
        conn.execute(_UPDATE_HIDDEN, hidden_rows)
    return changed, shown


_UPDATE_STORY = (
    update(stories)
    .where(stories.c.id == bindparam("b_id"))
    .values(
        lead_entry_id=bindparam("lead_entry_id"),
        filing=bindparam("filing"),
    )
)


_UPDATE_HIDDEN = (
    update(entries).where(entries.c.id == bindparam("b_id")).values(hidden=bindparam("hidden"))
)


def _filing_report(row: Any, fresh: Fresh, given: Mapping[int, list[str]]) -> FilingReport:
    if row.id in fresh:
        text, sections = fresh[row.id]
    else:
        text = stored_text(row.summary_html, row.content_html)
        sections = tuple(given.get(row.id, ()))
    return FilingReport(
        entry_id=row.id,
        feed_id=row.feed_id,
        feed_title=row.config_title or row.feed_title or row.url,
        title=row.title,
        text=text,
        # Entries stored before source tags were kept have only their leftover tags.
        source_tags=tuple(row.source_tags or row.tags or ()),
        feed_section=row.category,
        feed_labels=row.labels or "trust",
        given_sections=sections,
        feed_url=row.url,
    )


def _lead(rows: Sequence[Any]) -> Any:
    """The report a story shows: its feed's priority highest, then the earliest
    published, then the first stored."""
    return min(rows, key=lambda row: (-(row.priority or 0), row.sort_at, row.id))
