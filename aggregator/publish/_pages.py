"""A page of a merged feed, built from storage with each story's entry rendered once.

Rendering an entry (feedgen for Atom and RSS) costs far more than reading it, so a
story's entry is rendered once per change and kept: in memory (``renderings``, shared by
the pages of one process) and in the database (storage.story_renderings, shared by
every process and kept across restarts). A page is then built from story
references alone (ids, dates and a stamp of what the entry is made from; no text
is read) and the kept renderings; only a story that is new or changed since, or
whose rendering was never kept, is read in full and rendered, and its rendering
stored for the next build.

The site, section names and renderer version are part of every key (entry_context),
so a new config renders entries again rather than showing stale ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.config import Config, SiteConfig
from aggregator.errors import StorageError
from aggregator.publish._entries import FeedDocument, feed_updated
from aggregator.publish._outputs import (
    FORMATS,
    Output,
    changed_outputs,
    collect_page,
    encode_page_token,
    outputs_of,
    version_keys_of,
)
from aggregator.publish._render import Renderings, assemble_feed, entry_context, entry_renderer
from aggregator.storage import Storage
from aggregator.types import StoryCursor, StoryPage, StoryRef, StoryView

log = logging.getLogger(__name__)
Versions = dict[str, tuple[int, datetime]]

# (story id, story stamp, rendered entry), as storage.save_renderings takes them.
Rendered = tuple[int, str, bytes]


@dataclass(frozen=True)
class BuiltPage:
    body: bytes
    entries: int  # entries on the page
    context: str  # the entries' entry_context
    # Entries that had to be rendered (found neither kept nor stored): saved by
    # build_page, or by its caller after answering with save=False.
    new_renderings: tuple[Rendered, ...]

    @property
    def rendered(self) -> int:
        return len(self.new_renderings)


def build_page(
    storage: Storage,
    config: Config,
    output: Output,
    fmt: str,
    *,
    token: str | None = None,
    cursor: StoryCursor | None = None,
    labels: dict[str, str] | None = None,
    renderings: Renderings | None = None,
    save: bool = True,
    key: str | None = None,
) -> BuiltPage:
    """Return one page of an output in a format ("atom", "rss" or "json").

    ``token``/``cursor`` name the page (None: the newest); ``labels`` are the
    config's section names (computed when not given); ``renderings`` is the in-memory
    map of rendered entries to use and fill (see publish.render_feed). Entries
    rendered for the page are stored in the database, unless ``save`` is False:
    then the caller stores ``new_renderings`` when convenient (after answering).
    ``key`` (a private output's feed key) is kept in the page's own links.
    """
    labels = config.section_names() if labels is None else labels
    context = entry_context(fmt, config.site, labels)
    if output.is_filtered:
        refs, next_cursor, views = _filtered_refs(storage, output, config, cursor)
    else:
        ref_page = storage.list_story_refs(
            sections=output.sections or None,
            limit=config.publish.page_size,
            before=cursor,
            rendered_as=(fmt, context),
        )
        refs, next_cursor, views = ref_page.refs, ref_page.next_cursor, {}
    # Unfiltered pages read the stored renderings with the references already.
    looked_up = not output.is_filtered
    entries, rendered = _entries(
        storage, fmt, context, config.site, labels, refs, views, renderings, looked_up
    )
    if save:
        storage.save_renderings(fmt, context, rendered)
    document = FeedDocument(
        output=output,
        site=config.site,
        stories=(),
        section_labels=labels,
        before=token,
        next_before=encode_page_token(next_cursor) if next_cursor else None,
        key=key,
    )
    body = assemble_feed(fmt, document, entries, feed_updated(refs))
    return BuiltPage(body, len(entries), context, tuple(rendered))


def _filtered_refs(
    storage: Storage, output: Output, config: Config, cursor: StoryCursor | None
) -> tuple[Sequence[StoryRef], StoryCursor | None, dict[int, StoryView]]:
    """The references of a filtered output's page, where it ends, and the stories read
    whole to decide (include/exclude depend on their text)."""
    sections = output.sections or None

    def fetch(before: StoryCursor | None, limit: int) -> StoryPage:
        return storage.list_stories(sections=sections, limit=limit, before=before)

    page = collect_page(output, fetch, page_size=config.publish.page_size, before=cursor)
    refs = [
        StoryRef(story.id, story.sort_at, story.changed_at, story.stamp) for story in page.stories
    ]
    return refs, page.next_cursor, {story.id: story for story in page.stories}


def _entries(
    storage: Storage,
    fmt: str,
    context: str,
    site: SiteConfig,
    labels: dict[str, str],
    refs: Sequence[StoryRef],
    views: dict[int, StoryView],
    renderings: Renderings | None,
    looked_up: bool,
) -> tuple[list[bytes], list[Rendered]]:
    """The rendered entries of these stories, in order, and those newly rendered.

    Looked for in ``renderings``, then in the StoryRefs' stored renderings (``looked_up``:
    the refs were read with them; else they are read now), else rendered.
    """
    cache: Renderings = {} if renderings is None else renderings
    found: dict[int, bytes] = {}
    for ref in refs:
        rendering = cache.get((context, ref.id, ref.stamp))
        if rendering is None and ref.rendering is not None and ref.rendering[0] == ref.stamp:
            rendering = cache[(context, ref.id, ref.stamp)] = ref.rendering[1]
        if rendering is not None:
            found[ref.id] = rendering
    missing = [ref for ref in refs if ref.id not in found]
    if missing and not looked_up:
        stored = storage.stored_renderings([ref.id for ref in missing], fmt, context)
        for ref in missing:
            hit = stored.get(ref.id)
            if hit is not None and hit[0] == ref.stamp:
                found[ref.id] = cache[(context, ref.id, ref.stamp)] = hit[1]
    missing = [ref for ref in refs if ref.id not in found]
    rendered: list[Rendered] = []
    if missing:
        views.update(storage.get_stories([ref.id for ref in missing if ref.id not in views]))
        render = entry_renderer(fmt, site, labels)
        for ref in missing:
            story = views.get(ref.id)
            if story is None:
                continue  # removed (retention) since the page was read
            # Stored under the stamp of what was rendered, which a poll may have
            # changed since the references were read.
            stamp = story.stamp
            rendering = found[ref.id] = cache[(context, ref.id, stamp)] = render(story)
            rendered.append((ref.id, stamp, rendering))
    return [found[ref.id] for ref in refs if ref.id in found], rendered


# --- after a poll ----------------------------------------------------------------------------


def versions_snapshot(storage: Storage, config: Config) -> Versions:
    """The section versions of every output, to give prerender_changed after a poll."""
    try:
        return storage.section_versions(version_keys_of(config))
    except StorageError as e:
        log.warning("merged feeds: cannot read section versions: %s", e)
        return {}


def prerender_changed(storage: Storage, config: Config, before: Versions) -> int:
    """Render and store the new and changed entries of the newest page of every output
    a poll changed (since the ``before`` snapshot), in every format: subscribers'
    requests, and a WebSub hub fetching right after its ping, then find them
    rendered. Returns how many entries were rendered. Never raises StorageError.
    """
    try:
        after = storage.section_versions(version_keys_of(config))
        labels = config.section_names()
        rendered = 0
        for output in changed_outputs(config, before, after):
            for fmt in FORMATS:
                built = build_page(storage, config, output, fmt, labels=labels)
                rendered += built.rendered
    except StorageError as e:
        log.warning("merged feeds: entries not rendered after the poll: %s", e)
        return 0
    if rendered:
        log.debug("merged feeds: rendered %d entries after the poll", rendered)
    return rendered


# Stored renderings of older stories are dropped (about 10 KB a story for the three
# formats), unless the story is on the newest page of an output: subscribers poll
# those, however old their stories, and rarely page back.
RENDERINGS_MAX_AGE = timedelta(days=7)


def prune_renderings(storage: Storage, config: Config, now: datetime) -> int:
    """Delete the stored renderings of stories older than RENDERINGS_MAX_AGE that are on
    no output's newest page; return how many were deleted."""
    keep: set[int] = set()
    for output in outputs_of(config).values():
        # A filtered output's newest page is among its sections' newest stories, or
        # older (then made again when asked for).
        keep.update(storage.newest_story_ids(output.sections or None, config.publish.page_size))
    return storage.prune_renderings(now - RENDERINGS_MAX_AGE, keep)
