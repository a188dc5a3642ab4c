"""Pure processing of entries: sanitizing (the one nh3 importer), plain text, identity,
which story an entry joins, and where a story is filed. No I/O, no clock: data in,
data out.

The private modules: _sanitize.py (HTML allowlist, safe URLs, HTML to text),
_text.py (XML-illegal characters, whitespace), _identity.py (entry identity,
canonical URLs, exact story keys), _stories.py (which story an entry joins: exact
keys, then TF-IDF similarity over an incremental index; _features.py and _prior.py
make its terms), _sections.py (where a story is filed, from all its reports),
_filters.py (include/exclude phrase filters of outputs and of the reader).
"""

from aggregator.process._filters import passes_filter
from aggregator.process._identity import (
    canonical_url,
    content_hash,
    entry_identity,
    normalise_words,
    story_keys,
    text_fingerprint,
)
from aggregator.process._sanitize import html_to_text, safe_url, sanitize_html
from aggregator.process._sections import (
    LABEL_TRUST_VALUES,
    FeedLabels,
    Filing,
    LabelTrust,
    Reason,
    ReportEvidence,
    SectionRules,
    file_story,
)
from aggregator.process._stories import (
    Report,
    StoryDecision,
    StoryIndex,
    StorySettings,
    match_text,
)
from aggregator.process._text import clean_line, collapse_whitespace, strip_xml_illegal

__all__ = [
    "LABEL_TRUST_VALUES",
    "FeedLabels",
    "Filing",
    "LabelTrust",
    "Reason",
    "Report",
    "ReportEvidence",
    "SectionRules",
    "StoryDecision",
    "StoryIndex",
    "StorySettings",
    "canonical_url",
    "clean_line",
    "collapse_whitespace",
    "content_hash",
    "entry_identity",
    "file_story",
    "html_to_text",
    "match_text",
    "normalise_words",
    "passes_filter",
    "safe_url",
    "sanitize_html",
    "story_keys",
    "strip_xml_illegal",
    "text_fingerprint",
]
