"""The reader's lists, named by scope: everything, starred, a section, a source feed.

A scope names one list of the reader. Every story is listed in ALL, in each of its
sections, in each source feed that reported it, and in STARRED while starred.
"""

from __future__ import annotations

ALL = "all"
STARRED = "starred"
_SECTION_PREFIX = "section:"
_FEED_PREFIX = "feed:"


def section_scope(slug: str) -> str:
    """Return the scope of a section's list."""
    return _SECTION_PREFIX + slug


def feed_scope(feed_id: int) -> str:
    """Return the scope of a feed's list."""
    return f"{_FEED_PREFIX}{feed_id}"


def scope_section(scope: str) -> str | None:
    """Return the section slug of a section scope, else None."""
    return scope.removeprefix(_SECTION_PREFIX) if scope.startswith(_SECTION_PREFIX) else None


def scope_feed(scope: str) -> int | None:
    """Return the feed id of a feed scope, else None."""
    if scope.startswith(_FEED_PREFIX) and scope[len(_FEED_PREFIX) :].isdigit():
        return int(scope[len(_FEED_PREFIX) :])
    return None
