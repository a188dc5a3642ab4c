"""Which merged feeds exist and which stories are on a page of one.

Outputs (everything, each section, the custom outputs of feeds.yaml) and their
include/exclude filters; paging is keyset-based: a page ends with an opaque
``before`` token naming the last story shown, and the next page holds the stories
strictly older than it (RFC 5005 §3 ``rel="next"``; JSON Feed ``next_url``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.config import Config
from aggregator.errors import InvalidCursorError
from aggregator.process import passes_filter
from aggregator.types import StoryCursor, StoryPage, StoryView

FORMATS = ("atom", "rss", "json")
CONTENT_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
    "opml": "text/x-opml",
}
# The section_versions key of "everything" (storage.entries.ALL_SECTIONS); kept
# here as a literal so this pure module does not import the storage package.
ALL_KEY = "*"
ALL_OUTPUT = "all"

# A filtered output looks at no more stories than this per page; a page cut short
# still links to the next one, so walking the pages still finds every match.
MAX_SCANNED_PER_PAGE = 5000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One merged feed: everything, one section, or a custom output from feeds.yaml."""

    name: str  # the URL name: /feeds/<name>.atom
    title: str
    subtitle: str
    sections: tuple[str, ...] = ()  # category slugs; () means every section
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    reader_path: str = "/"  # the reader page showing the same stories
    private: bool = False  # served only with a user's feed key (feeds.yaml outputs: private)

    @property
    def version_keys(self) -> tuple[str, ...]:
        """The section_versions keys whose change may change this output."""
        return self.sections or (ALL_KEY,)

    @property
    def is_filtered(self) -> bool:
        return bool(self.include or self.exclude)


def outputs_of(config: Config) -> dict[str, Output]:
    """Return every published output of a config by name: "all", each category, each
    custom output (config validation keeps these names distinct)."""
    site = config.site.title
    outputs = {
        ALL_OUTPUT: Output(
            name=ALL_OUTPUT, title=site, subtitle=f"Every story on {site}, newest first"
        )
    }
    for category in config.sections:
        outputs[category.slug] = Output(
            name=category.slug,
            title=f"{site}: {category.name}",
            subtitle=f"{category.name} stories on {site}, newest first",
            sections=(category.slug,),
            reader_path=f"/c/{category.slug}",
        )
    slug_of = config.section_slugs()
    for custom in config.outputs:
        outputs[custom.name] = Output(
            name=custom.name,
            title=f"{site}: {custom.title}",
            subtitle=custom.description or f"{custom.title} on {site}, newest first",
            sections=tuple(slug_of[name] for name in custom.sections if name in slug_of),
            include=custom.include,
            exclude=custom.exclude,
            private=custom.private,
        )
    return outputs


def version_keys_of(config: Config) -> tuple[str, ...]:
    """Return every section_versions key some output of the config depends on."""
    keys = {key for output in outputs_of(config).values() for key in output.version_keys}
    return tuple(sorted(keys))


def changed_outputs(
    config: Config,
    before: Mapping[str, tuple[int, datetime]],
    after: Mapping[str, tuple[int, datetime]],
) -> list[Output]:
    """Return the outputs whose section versions differ between two snapshots."""
    changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
    return [
        output
        for output in outputs_of(config).values()
        if changed.intersection(output.version_keys)
    ]


def story_matches(output: Output, story: StoryView) -> bool:
    """Return whether a story belongs in a filtered output.

    The text looked at is the title and summary of every report of the story: it
    must contain one of the ``include`` phrases (when there are any) and none of
    the ``exclude`` phrases.
    """
    text = "\n".join(
        f"{entry.title}\n{entry.summary_text}" for entry in (story.lead, *story.others)
    )
    return passes_filter(output.include, output.exclude, text)


# --- paging ------------------------------------------------------------------------------

FetchStories = Callable[[StoryCursor | None, int], StoryPage]


@dataclass(frozen=True)
class Page:
    """The stories of one page of an output, and where the next page starts."""

    stories: tuple[StoryView, ...]
    next_cursor: StoryCursor | None  # None on the last page


def collect_page(
    output: Output,
    fetch: FetchStories,
    *,
    page_size: int,
    before: StoryCursor | None = None,
    max_scanned: int = MAX_SCANNED_PER_PAGE,
) -> Page:
    """Return one page of an output, asking ``fetch(cursor, limit)`` for stories.

    ``fetch`` returns stories newest first, already limited to the output's
    sections. For a filtered output, batches are fetched until the page is full;
    a story is never on two pages and no matching story is skipped. After
    ``max_scanned`` stories the page is returned short, linking to the rest.
    """
    if not output.is_filtered:
        found = fetch(before, page_size)
        return Page(found.stories, found.next_cursor)
    kept: list[StoryView] = []
    cursor, scanned, batch = before, 0, page_size + 1
    while True:
        found = fetch(cursor, batch)
        for story in found.stories:
            if story_matches(output, story):
                kept.append(story)
                if len(kept) > page_size:
                    last = kept[page_size - 1]
                    return Page(tuple(kept[:page_size]), StoryCursor(last.sort_at, last.id))
        scanned += len(found.stories)
        if found.next_cursor is None:
            return Page(tuple(kept), None)
        cursor = found.next_cursor
        if scanned >= max_scanned:
            return Page(tuple(kept), cursor)
        batch = min(batch * 2, 1000)  # a rare phrase needs long reads; grow them


def encode_page_token(cursor: StoryCursor) -> str:
    """Return the opaque ``before`` token of a page boundary (URL-safe)."""
    delta = cursor.sort_at - EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    raw = f"{micros}:{cursor.story_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CURSOR_RE = re.compile(r"(-?[0-9]{1,19}):([0-9]{1,19})")


def decode_page_token(token: str) -> StoryCursor:
    """Return the page boundary a token names. Raises InvalidCursorError."""
    if not _TOKEN_RE.fullmatch(token):
        raise InvalidCursorError()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError() from None
    match = _CURSOR_RE.fullmatch(raw)
    if match is None:
        raise InvalidCursorError()
    try:
        cursor = StoryCursor(EPOCH + timedelta(microseconds=int(match[1])), int(match[2]))
    except OverflowError:
        raise InvalidCursorError() from None
    # One token per boundary, so cached pages are not duplicated under other spellings.
    if encode_page_token(cursor) != token:
        raise InvalidCursorError()
    return cursor
