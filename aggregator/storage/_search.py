"""Full-text search SQL: SQLite FTS5 and PostgreSQL full text, one document per story.

Hits come newest arrival first (story id descending) rather than by rank, so pages are
keyset-paged and stable while new stories arrive: FTS5 walks its index in rowid order
and stops after a page; PostgreSQL probes the GIN index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from aggregator.types import Highlight

# Matched text in a search hit is wrapped in these private-use characters by the
# database; the reader turns the pieces into <mark> after escaping. They are removed
# from every indexed text, so they can only come from the database's highlighter.
MATCH_START = "\ue000"
MATCH_END = "\ue001"

# A double-quoted phrase (the closing quote may be missing) or a bare word.
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")
_SNIPPET_TOKENS = 32

_PG_TITLE_OPTIONS = f"HighlightAll=true, StartSel={MATCH_START}, StopSel={MATCH_END}"
_PG_BODY_OPTIONS = (
    f'MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter=" … ", '
    f"StartSel={MATCH_START}, StopSel={MATCH_END}"
)
_IN_SECTION = (
    " AND EXISTS (SELECT 1 FROM story_sections"
    " WHERE story_sections.story_id = {id} AND story_sections.section = :section"
    " AND NOT story_sections.hidden)"
)


@dataclass(frozen=True)
class SearchMatch:
    story_id: int
    title_marked: str  # title with MATCH_START/MATCH_END around matches
    snippet_marked: str  # an excerpt of the body, marked the same way


def fts5_query(user_query: str) -> str | None:
    """Return an FTS5 MATCH expression for what a person typed, or None if it has no words.

    Every bare word and every "quoted phrase" must match (AND). Everything is passed
    as quoted phrases, so FTS5 operators and column filters in the input are just text.
    """
    phrases = []
    for phrase, word in _TERM.findall(user_query):
        words = _WORD.findall(phrase or word)
        if words:
            phrases.append('"' + " ".join(words) + '"')
    return " AND ".join(phrases) if phrases else None


def find_matches(
    conn: Connection, user_query: str, *, section: str | None, before: int | None, limit: int
) -> list[SearchMatch]:
    """Return up to ``limit`` matching stories with ids below ``before``, newest first."""
    user_query = user_query.replace("\x00", " ")  # PostgreSQL refuses NUL in text
    if conn.dialect.name == "postgresql":
        return _find_postgresql(conn, user_query, section, before, limit)
    return _find_sqlite(conn, user_query, section, before, limit)


def _find_sqlite(
    conn: Connection, user_query: str, section: str | None, before: int | None, limit: int
) -> list[SearchMatch]:
    match = fts5_query(user_query)
    if match is None:
        return []
    # Only constant fragments are put together; every value is a bound parameter.
    sql = (
        "SELECT rowid AS story_id,"  # noqa: S608
        " highlight(story_search, 0, :start, :end) AS title_marked,"
        f" snippet(story_search, 1, :start, :end, '…', {_SNIPPET_TOKENS}) AS snippet_marked"
        " FROM story_search WHERE story_search MATCH :match"
    )
    params: dict[str, Any] = {"match": match, "start": MATCH_START, "end": MATCH_END}
    if before is not None:
        sql += " AND rowid < :before"
        params["before"] = before
    if section is not None:
        sql += _IN_SECTION.format(id="story_search.rowid")
        params["section"] = section
    sql += " ORDER BY rowid DESC LIMIT :limit"
    params["limit"] = limit
    return [_match(row) for row in conn.execute(text(sql), params)]


def _find_postgresql(
    conn: Connection, user_query: str, section: str | None, before: int | None, limit: int
) -> list[SearchMatch]:
    if not _WORD.search(user_query):
        return []
    # The inner query picks one page of ids; only those get the (costly) headlines.
    inner = (
        "SELECT story_id FROM story_search"
        " WHERE document @@ websearch_to_tsquery('english', :query)"
    )
    params: dict[str, Any] = {
        "query": user_query,
        "title_options": _PG_TITLE_OPTIONS,
        "body_options": _PG_BODY_OPTIONS,
        "limit": limit,
    }
    if before is not None:
        inner += " AND story_id < :before"
        params["before"] = before
    if section is not None:
        inner += _IN_SECTION.format(id="story_search.story_id")
        params["section"] = section
    inner += " ORDER BY story_id DESC LIMIT :limit"
    sql = (  # constant fragments; every value is a bound parameter
        "SELECT s.story_id,"  # noqa: S608
        " ts_headline('english', s.title, q.query, :title_options) AS title_marked,"
        " ts_headline('english', s.body, q.query, :body_options) AS snippet_marked"
        f" FROM ({inner}) AS page JOIN story_search AS s ON s.story_id = page.story_id,"
        " websearch_to_tsquery('english', :query) AS q(query)"
        " ORDER BY s.story_id DESC"
    )
    return [_match(row) for row in conn.execute(text(sql), params)]


def _match(row: Any) -> SearchMatch:
    return SearchMatch(int(row.story_id), row.title_marked or "", row.snippet_marked or "")


def split_highlight(marked: str) -> Highlight:
    """Return the pieces of a text the database marked with MATCH_START/MATCH_END."""
    pieces: list[tuple[str, bool]] = []
    for index, chunk in enumerate(marked.split(MATCH_START)):
        if index == 0:
            matched, rest = "", chunk
        else:
            matched, _, rest = chunk.partition(MATCH_END)
        if matched:
            pieces.append((matched.replace(MATCH_END, ""), True))
        if rest:
            pieces.append((rest.replace(MATCH_END, ""), False))
    return tuple(pieces)
