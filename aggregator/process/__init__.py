"""Pure processing of entries: sanitizing (the one nh3 importer), plain text, identity
and stories, sections. No I/O: data in, data out.

The private modules: _sanitize.py (HTML allowlist, safe URLs, HTML to text),
_text.py (XML-illegal characters, whitespace), _identity.py (entry identity,
canonical URLs, story keys), _sections.py (which sections an entry is filed in).
"""

from aggregator.process._identity import (
    canonical_url,
    content_hash,
    entry_identity,
    normalise_words,
    story_keys,
    text_fingerprint,
)
from aggregator.process._sanitize import html_to_text, safe_url, sanitize_html
from aggregator.process._sections import Categorization, Categorizer
from aggregator.process._text import clean_line, collapse_whitespace, strip_xml_illegal

__all__ = [
    "Categorization",
    "Categorizer",
    "canonical_url",
    "clean_line",
    "collapse_whitespace",
    "content_hash",
    "entry_identity",
    "html_to_text",
    "normalise_words",
    "safe_url",
    "sanitize_html",
    "story_keys",
    "strip_xml_illegal",
    "text_fingerprint",
]
