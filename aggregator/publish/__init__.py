"""The merged feeds (outputs): which exist, what is on a page of one, and the page in
Atom and RSS 2.0 (feedgen, its one importer), JSON Feed 1.1 or OPML 2.0; each story's
entry rendered once per change and stored; WebSub pings after a poll.

The private modules: _outputs.py (outputs, filters, page tokens), _entries.py (what
every format shows of a story, made safe), _feedgen.py (Atom and RSS), _json.py
(JSON Feed), _render.py (entries and documents, OPML), _pages.py (a page built
from storage and stored renderings), _websub.py (which topics to ping).
"""

from aggregator.publish._entries import (
    NAME_LIMIT,
    SUMMARY_TEXT_LIMIT,
    TAG_DATE,
    TITLE_LIMIT,
    FeedDocument,
    feed_updated,
    http_url,
    output_url,
    plain_line,
    story_id_uri,
    xml_safe,
)
from aggregator.publish._outputs import (
    ALL_KEY,
    ALL_OUTPUT,
    CONTENT_TYPES,
    FORMATS,
    MAX_SCANNED_PER_PAGE,
    FetchStories,
    Output,
    Page,
    changed_outputs,
    collect_page,
    decode_page_token,
    encode_page_token,
    outputs_of,
    story_matches,
    version_keys_of,
)
from aggregator.publish._pages import (
    RENDERINGS_MAX_AGE,
    BuiltPage,
    build_page,
    prerender_changed,
    prune_renderings,
    versions_snapshot,
)
from aggregator.publish._render import (
    RENDER_VERSION,
    Renderings,
    assemble_feed,
    entry_context,
    entry_renderer,
    render_feed,
    render_opml,
    render_outputs_opml,
)
from aggregator.publish._websub import ping_changes, topic_urls

__all__ = [
    "ALL_KEY",
    "ALL_OUTPUT",
    "CONTENT_TYPES",
    "FORMATS",
    "MAX_SCANNED_PER_PAGE",
    "NAME_LIMIT",
    "RENDERINGS_MAX_AGE",
    "RENDER_VERSION",
    "SUMMARY_TEXT_LIMIT",
    "TAG_DATE",
    "TITLE_LIMIT",
    "BuiltPage",
    "FeedDocument",
    "FetchStories",
    "Output",
    "Page",
    "Renderings",
    "assemble_feed",
    "build_page",
    "changed_outputs",
    "collect_page",
    "decode_page_token",
    "encode_page_token",
    "entry_context",
    "entry_renderer",
    "feed_updated",
    "http_url",
    "output_url",
    "outputs_of",
    "ping_changes",
    "plain_line",
    "prerender_changed",
    "prune_renderings",
    "render_feed",
    "render_opml",
    "render_outputs_opml",
    "story_id_uri",
    "story_matches",
    "topic_urls",
    "version_keys_of",
    "versions_snapshot",
    "xml_safe",
]
