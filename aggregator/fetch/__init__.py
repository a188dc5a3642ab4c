"""Fetching source feeds: conditional GET, redirects, gzip, size and time limits, and
the SSRF guard; local files too. The one importer of urllib3 (WebSub pings included).

The private modules: _fetcher.py (the Fetcher), _guard.py (the address guard and the
deadline, built into urllib3's connections), _decode.py (bounded decompression),
_errors.py (library exceptions to ours), _ping.py (WebSub hub pings), _discover.py
(the usual feed addresses of a site, for autodiscovery), _icons.py (a source feed's
site icon, fetched through the same Fetcher).
"""

from aggregator.fetch._discover import FEED_GUESSES, feed_guesses
from aggregator.fetch._fetcher import (
    ACCEPT,
    USER_AGENT,
    Fetcher,
    FetchLimits,
    FetchResult,
    fetch_feed,
    local_file_validator,
)
from aggregator.fetch._guard import AddressPolicy, is_public_address
from aggregator.fetch._icons import MAX_ICON_BYTES, Icon, find_icon, icon_links, image_type
from aggregator.fetch._ping import ping_hub

__all__ = [
    "ACCEPT",
    "FEED_GUESSES",
    "MAX_ICON_BYTES",
    "USER_AGENT",
    "AddressPolicy",
    "FetchLimits",
    "FetchResult",
    "Fetcher",
    "Icon",
    "feed_guesses",
    "fetch_feed",
    "find_icon",
    "icon_links",
    "image_type",
    "is_public_address",
    "local_file_validator",
    "ping_hub",
]
