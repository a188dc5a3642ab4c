"""What the sync APIs (Google Reader, Fever) share: item ids in the forms clients send,
an item's HTML, labels and groups for sections, times in the units they use.

An item is a story (its lead report); its id is the story id.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

from aggregator.config import Config
from aggregator.errors import InvalidRequestError
from aggregator.types import ReaderStory
from aggregator.web.present import article_html, web_link

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LONG_ITEM_PREFIX = "tag:google.com,2005:reader/item/"
MAX_ITEM_ID = 2**63 - 1
_HEX = re.compile(r"[0-9a-fA-F]{1,16}")
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
# Characters XML 1.0 does not allow (stored text is free of them; this is a guard).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def long_item_id(story_id: int) -> str:
    """Google Reader's long item id: the id as 16 hex digits after a tag URI."""
    return f"{LONG_ITEM_PREFIX}{story_id:016x}"


def parse_item_id(value: str) -> int:
    """A story id from an item id as clients send it: the long form (hex after the tag
    URI), the short form (a decimal number, as item refs give it) or 16 hex digits (as
    some clients shorten the long form). Raises InvalidRequestError."""
    text = value.strip()
    if text.startswith(LONG_ITEM_PREFIX):
        digits = text[len(LONG_ITEM_PREFIX) :]
        if not _HEX.fullmatch(digits):
            raise InvalidRequestError(f"malformed item id {value[:80]!r}")
        number = int(digits, 16)
    elif _DECIMAL.fullmatch(text):
        number = int(text)
        if number < 0:  # a 64-bit id written as a signed number
            number += 2**64
    elif len(text) == 16 and _HEX.fullmatch(text):
        number = int(text, 16)
    else:
        raise InvalidRequestError(f"malformed item id {value[:80]!r}")
    if not 0 < number <= MAX_ITEM_ID:
        raise InvalidRequestError(f"item id {value[:80]!r} is out of range")
    return number


def parse_item_ids(values: list[str]) -> list[int]:
    """Every id of a list (all must be well-formed: a malformed one changes nothing)."""
    return [parse_item_id(value) for value in values]


def item_html(item: ReaderStory) -> str:
    """The item's body: the lead report's sanitized content, and the other outlets that
    reported the story."""
    body = article_html(item.story.lead)
    others = item.story.others
    if not others:
        return str(body)
    links = Markup(", ").join(
        Markup('<a href="{}">{}</a>').format(link, other.feed_title)
        if (link := web_link(other.link))
        else escape(other.feed_title)
        for other in others
    )
    return str(body + Markup("<p>Also reported by {}</p>").format(links))


def xml_text(value: str) -> str:
    """Text without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", value)


def section_of_label(config: Config, label: str) -> str | None:
    """The slug of the section a label names (its name, any case, or its slug)."""
    wanted = label.strip().casefold()
    for section in config.sections:
        if wanted in (section.name.casefold(), section.slug):
            return section.slug
    return None


def group_id(slug: str) -> int:
    """A section's Fever group id: a positive integer that stays the same for a slug."""
    return zlib.crc32(slug.encode("utf-8")) % 2_000_000_000 + 1


def seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def microseconds(moment: datetime | None) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) if moment else 0


def parse_unix_time(value: str | None, name: str) -> datetime | None:
    """A time parameter in Unix seconds (or milli-, micro-, nanoseconds, told apart by
    size, as clients send all of them). Raises InvalidRequestError."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 20:
        raise InvalidRequestError(f"{name} must be a Unix time, got {value[:40]!r}")
    number = int(text)
    for limit, unit in ((10**11, 1), (10**14, 1_000), (10**17, 1_000_000)):
        if number < limit:
            return EPOCH + timedelta(microseconds=number * 1_000_000 // unit)
    return EPOCH + timedelta(microseconds=number // 1000)


def parse_count(value: str | None, name: str, default: int, largest: int) -> int:
    """A positive count parameter, capped at ``largest``. Raises InvalidRequestError."""
    if value is None or value.strip() == "":
        return default
    text = value.strip()
    if not text.isdigit() or len(text) > 9:
        raise InvalidRequestError(f"{name} must be a positive number, got {value[:40]!r}")
    return max(1, min(int(text), largest))
