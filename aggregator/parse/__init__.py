"""Feed documents to ``FeedData``: RSS 0.9x/1.0/2.0 and Atom through feedparser (its
one importer), JSON Feed by hand.

The private modules: _feedparser.py (parse_feed and the feedparser side),
_json.py (JSON Feed), _prolog.py (DOCTYPE and entity stripping), _fields.py
(tolerant field access), _discover.py (the feeds a web page links to), _opml.py
(subscription lists), _article.py (an article page's main text: the one
trafilatura importer). FeedData and EntryData are in aggregator.types.
"""

from aggregator.parse._article import extract_article
from aggregator.parse._discover import FeedLink, find_feed_links, looks_like_html
from aggregator.parse._feedparser import parse_feed
from aggregator.parse._opml import OpmlDocument, OpmlFeed, OpmlList, parse_opml

__all__ = [
    "FeedLink",
    "OpmlDocument",
    "OpmlFeed",
    "OpmlList",
    "extract_article",
    "find_feed_links",
    "looks_like_html",
    "parse_feed",
    "parse_opml",
]
