"""Presentation helpers of the reader: URL parameters, times, highlights, the sidebar.

No business rules and no SQL: parsing what a URL says and shaping what a template shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import overload
from urllib.parse import urlsplit

from flask import Flask, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from werkzeug.exceptions import BadRequest

from aggregator.config import Config
from aggregator.process import safe_url, sanitize_html
from aggregator.scopes import ALL, STARRED, feed_scope, scope_feed, scope_section, section_scope
from aggregator.types import (
    EntryView,
    FullText,
    Highlight,
    ReaderPage,
    ReaderStory,
    SearchPage,
    StoryCursor,
    StoryView,
    UnreadCounts,
)
from aggregator.web.assets import static_url

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


# --- URL parameters ----------------------------------------------------------------------


def encode_position(cursor: StoryCursor) -> str:
    """Return a list position as a URL parameter: "<microseconds since 1970>_<story id>"."""
    # Integer arithmetic: a float timestamp could round a microsecond away and make a
    # page boundary skip or repeat a story.
    return f"{(cursor.sort_at - EPOCH) // MICROSECOND}_{cursor.story_id}"


def decode_position(value: str | None) -> StoryCursor | None:
    """Return the list position an ``encode_position`` value names (None for none).

    Raises BadRequest."""
    if not value:
        return None
    micros, _, story_id = value.partition("_")
    if not (micros.lstrip("-").isdigit() and story_id.isdigit()) or len(value) > 40:
        raise BadRequest("invalid page position")
    try:
        return StoryCursor(EPOCH + int(micros) * MICROSECOND, int(story_id))
    except OverflowError as e:
        raise BadRequest("invalid page position") from e


def positive_int(value: str | None, name: str) -> int | None:
    """Return an optional positive integer parameter. Raises BadRequest."""
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise BadRequest(f"invalid {name}")
    return int(value)


def local_path(target: str | None, default: str) -> str:
    """Return ``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or "\\" in target or any(ord(char) < 32 for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def parse_scope(value: str | None, config: Config) -> str | None:
    """Return the scope a URL or form names if the reader shows such a list, else None."""
    if value in (ALL, STARRED):
        return value
    if not value:
        return None
    section = scope_section(value)
    if section is not None:
        return value if section in config.section_names() else None
    return value if scope_feed(value) is not None else None


# --- text ----------------------------------------------------------------------------------


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """Return "just now", "5 min ago", "3 h ago", "2 d ago" or a date; "" for None."""
    if moment is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            if unit == "d" and seconds >= 30 * 86400:
                return moment.strftime("%-d %b %Y")
            amount = int(seconds // size)
            return f"in {amount} {unit}" if future else f"{amount} {unit} ago"
    return ""  # unreachable: seconds >= 60 matches "min"


def absolute_time(moment: datetime | None) -> str:
    """Return "2026-11-29 10:00 UTC" ("" for None); the script shows local time instead."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def iso_time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


def icon_tag(icons: dict[int, str] | None, root: str, feed_id: int, title: str | None) -> Markup:
    """Return a source feed's icon: its stored picture (served by reader.icon, cached
    for long since its URL changes with it), else a neutral badge with the feed's
    first letter. Built here, not in a macro: a list shows dozens."""
    version = icons.get(feed_id) if icons else None
    if version:
        return Markup(
            '<img class="icon" src="{}/icons/{}?v={}" alt="" width="16" height="16">'
        ).format(root, feed_id, version)
    letter = (title or "?")[:1].upper()
    return Markup('<span class="icon letter" aria-hidden="true">{}</span>').format(letter)


def story_position(story: StoryView) -> str:
    """Return a story's place in a list as a URL parameter (see encode_position)."""
    return encode_position(StoryCursor(story.sort_at, story.id))


def marked(pieces: Highlight) -> Markup:
    """Return highlight pieces as escaped HTML with the matches in <mark>."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(text) if is_match else escape(text)
        for text, is_match in pieces
    )


def article_html(entry: EntryView, full_text: FullText | None = None) -> Markup:
    """Return the entry's body for the item page: its article page's text when it was
    fetched (full text), else its content or summary.

    The stored HTML was sanitized when it was stored; it goes through the sanitizer
    again so rows written by an older, laxer version can never reach a page.
    """
    if full_text is not None and full_text.html:
        return Markup(sanitize_html(full_text.html))  # noqa: S704
    return Markup(sanitize_html(entry.content_html or entry.summary_html))  # noqa: S704


# --- the sidebar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    scope: str
    unread: int
    current: bool = False


@dataclass(frozen=True)
class Sidebar:
    lists: tuple[NavItem, ...]
    sections: tuple[NavItem, ...]
    feeds: tuple[NavItem, ...]
    feeds_open: bool

    @property
    def feeds_html(self) -> Markup:
        """The feeds' <li> items, built here rather than in the template.

        Every page shows every feed (hundreds of them); a Jinja loop costs a few
        milliseconds per page, this a fraction of one. The markup matches the
        template's lists in _sidebar.html.
        """
        return Markup("".join(_feed_li(item) for item in self.feeds))  # noqa: S704


_CURRENT = ' aria-current="page"'


def _feed_li(item: NavItem) -> str:
    # url ("/f/<id>") and scope ("feed:<id>") are built from an integer: only the
    # title needs escaping.
    current = _CURRENT if item.current else ""
    zero = "" if item.unread else " zero"
    return (
        f'<li><a href="{item.url}"{current}><span class="label">{escape(item.label)}'
        f'</span><span class="count{zero}" data-count="{item.scope}">{item.unread}'
        "</span></a></li>"
    )


def build_sidebar(
    config: Config,
    counts: UnreadCounts,
    feeds: list[tuple[int, str]],
    current: str,
    *,
    with_state: bool = True,
) -> Sidebar:
    """Return the sidebar for the list ``current`` (a scope); ``feeds`` is (id, title).
    Without a read state (a visitor), there is no Starred list."""
    lists: tuple[NavItem, ...] = (NavItem("All stories", "/", ALL, counts.of(ALL), current == ALL),)
    if with_state:
        starred = NavItem("Starred", "/starred", STARRED, counts.starred_total, current == STARRED)
        lists = (*lists, starred)
    sections = tuple(
        NavItem(name, f"/c/{slug}", scope, counts.of(scope), scope == current)
        for slug, name in config.section_names().items()
        for scope in [section_scope(slug)]
    )
    feed_items = tuple(
        NavItem(title, f"/f/{feed_id}", scope, counts.of(scope), scope == current)
        for feed_id, title in sorted(feeds, key=lambda pair: pair[1].casefold())
        for scope in [feed_scope(feed_id)]
    )
    return Sidebar(lists, sections, feed_items, any(item.current for item in feed_items))


@overload
def stateless(found: ReaderStory) -> ReaderStory: ...
@overload
def stateless(found: ReaderPage) -> ReaderPage: ...
@overload
def stateless(found: SearchPage) -> SearchPage: ...
def stateless(found: ReaderStory | ReaderPage | SearchPage) -> object:
    """A page or story as a visitor without a read state sees it: nothing unread or
    starred (the lists they browse are ANONYMOUS's, whose state is not theirs)."""
    if isinstance(found, ReaderStory):
        return replace(found, unread=False, starred=False)
    items = tuple(replace(item, unread=False, starred=False) for item in found.stories)
    return replace(found, stories=items)


def web_link(url: str | None) -> str | None:
    """Return ``url`` if it is an absolute http(s) URL (safe in an href), else None."""
    return safe_url(url) if url else None


# --- remembered preferences ----------------------------------------------------------------

# Each preference: its cookie name and the values it may take, the default first. They
# live in cookies (set by actions.preferences, or by the reader's script) so the server
# renders the page as it will look: no flash of the other theme, and it works for a
# visitor without an account and without JavaScript.
PREFERENCES: dict[str, tuple[str, ...]] = {
    "density": ("cards", "compact"),
    "theme": ("system", "light", "dark"),
}
PREFERENCE_DAYS = 365


def preference(name: str) -> str:
    """Return the preference ``name`` of whoever asks (its default when unset or odd)."""
    allowed = PREFERENCES[name]
    value = request.cookies.get(name)
    return value if value in allowed else allowed[0]


def page_context() -> dict[str, str]:
    """Template context of every page.

    ``here``: this page's path and query, where its forms come back to; ``root``: the
    app's URL prefix, for links built in loops; ``token``: the CSRF token, computed
    once instead of once per form; ``density`` and ``theme``: the preferences.
    """
    return {
        "here": request.full_path.rstrip("?"),
        "root": request.script_root,
        "token": generate_csrf(),
        "density": preference("density"),
        "theme": preference("theme"),
    }


def init_app(app: Flask) -> None:
    """Register the template helpers."""
    app.add_template_global(static_url)
    app.add_template_global(icon_tag)
    app.context_processor(page_context)
    app.add_template_filter(web_link, "weblink")
    app.add_template_filter(relative_time, "reltime")
    app.add_template_filter(absolute_time, "abstime")
    app.add_template_filter(iso_time, "isotime")
    app.add_template_filter(marked, "marked")
    app.add_template_filter(encode_position, "cursor")
    app.add_template_filter(story_position, "storycursor")
