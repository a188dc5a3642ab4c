"""Feed documents to ``FeedData``: RSS 0.9x/1.0/2.0 and Atom through feedparser (its
one importer), JSON Feed by hand.

The private modules: _feedparser.py (parse_feed and the feedparser side),
_json.py (JSON Feed), _prolog.py (DOCTYPE and entity stripping), _fields.py
(tolerant field access). FeedData and EntryData are in aggregator.types.
"""

from aggregator.parse._feedparser import parse_feed

__all__ = ["parse_feed"]
