"""Google Reader stream ids, as apps send them, turned into a reader's StreamFilter:
``user/-/state/com.google/<state>``, ``user/-/label/<section>``, ``feed/<id or URL>``,
and the ``xt``/``it``/``ot``/``nt``/``r``/``c`` parameters of a list request.

``user/<own id>/...`` means the same as ``user/-/...``; another user's id is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask import request
from werkzeug.exceptions import HTTPException

from aggregator.errors import InvalidRequestError
from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
from aggregator.types import StoryCursor, StreamFilter, User
from aggregator.web import aggregator
from aggregator.web.greader._items import LABEL_PREFIX, STATE_PREFIX
from aggregator.web.present import decode_position
from aggregator.web.sync_items import parse_unix_time, section_of_label

# State tags apps send that change nothing here.
IGNORED_TAGS = {"tracking-kept-unread", "broadcast", "broadcast-friends", "like", "fresh"}


@dataclass(frozen=True)
class Stream:
    """A stream id as parsed: a kind (reading-list, starred, read, unread, feed,
    label) and, for feeds and labels, what it names."""

    kind: str
    value: str = ""


def parse_stream(stream_id: str, user: User) -> Stream:
    """Parse a stream id of this user. Raises InvalidRequestError for a malformed one,
    another user's, or an unknown state."""
    text = stream_id.strip()
    own = f"user/{user.id}/"
    if text.startswith(own):
        text = "user/-/" + text[len(own) :]
    if text.startswith("feed/"):
        return Stream("feed", text[len("feed/") :])
    if text.startswith(LABEL_PREFIX):
        return Stream("label", text[len(LABEL_PREFIX) :])
    if text.startswith(STATE_PREFIX):
        name = text[len(STATE_PREFIX) :]
        kinds = {
            "reading-list": "reading-list",
            "starred": "starred",
            "read": "read",
            "kept-unread": "unread",
            "unread": "unread",
            "fresh": "unread",
        }
        if name in kinds:
            return Stream(kinds[name])
        if name in IGNORED_TAGS:
            return Stream("ignored", name)
        raise InvalidRequestError(f"unknown state stream {stream_id[:100]!r}")
    if text.startswith("user/"):
        raise InvalidRequestError(f"stream {stream_id[:100]!r} is not yours")
    raise InvalidRequestError(f"unknown stream {stream_id[:100]!r}")


def stream_filter(stream: Stream) -> StreamFilter:
    """The stories a stream holds. Raises InvalidRequestError for an unknown feed or
    label."""
    source = aggregator()
    if stream.kind == "reading-list":
        return StreamFilter(ALL)
    if stream.kind == "starred":
        return StreamFilter(STARRED)
    if stream.kind == "read":
        return StreamFilter(ALL, unread=False)
    if stream.kind == "unread":
        return StreamFilter(ALL, unread=True)
    if stream.kind == "feed":
        feed_id = feed_id_of(stream.value)
        return StreamFilter(feed_scope(feed_id), lead_feed=feed_id)
    if stream.kind == "label":
        slug = section_of_label(source.config, stream.value)
        if slug is None:
            raise InvalidRequestError(f"unknown label {stream.value[:100]!r}")
        return StreamFilter(section_scope(slug))
    raise InvalidRequestError(f"{stream.kind} is not a stream of items")


def feed_id_of(value: str) -> int:
    source = aggregator()
    if value.isdigit() and len(value) < 12:
        feed = source.get_feed(int(value))
        if feed is not None:
            return feed.id
    else:
        for feed in source.get_feeds(active_only=False):
            if value in (feed.url, feed.fetch_url):
                return feed.id
    raise InvalidRequestError(f"unknown feed {value[:100]!r}")


def apply_filters(base: StreamFilter, user: User) -> StreamFilter:
    """The request's ``xt`` (exclude) and ``it`` (include) targets, ``ot``/``nt`` times
    and ``r`` order on a stream. Raises InvalidRequestError."""
    unread, starred = base.unread, base.starred
    changes: list[tuple[str, bool]] = []
    for target in request.args.getlist("xt"):
        kind = parse_stream(target, user).kind
        if kind == "read":
            changes.append(("unread", True))
        elif kind == "unread":
            changes.append(("unread", False))
        elif kind == "starred":
            changes.append(("starred", False))
        else:
            raise InvalidRequestError(f"xt={target[:100]!r} is not supported as a filter")
    for target in request.args.getlist("it"):
        kind = parse_stream(target, user).kind
        if kind == "read":
            changes.append(("unread", False))
        elif kind == "unread":
            changes.append(("unread", True))
        elif kind == "starred":
            changes.append(("starred", True))
        elif kind != "reading-list":
            raise InvalidRequestError(f"it={target[:100]!r} is not supported as a filter")
    for name, value in changes:
        current = unread if name == "unread" else starred
        if current is not None and current != value:
            raise InvalidRequestError("the stream and its filters contradict each other")
        if name == "unread":
            unread = value
        else:
            starred = value
    return replace(
        base,
        unread=unread,
        starred=starred,
        newer_than=parse_unix_time(request.args.get("ot"), "ot"),
        older_than=parse_unix_time(request.args.get("nt"), "nt"),
        oldest_first=request.args.get("r") == "o",
    )


def continuation() -> StoryCursor | None:
    try:
        return decode_position(request.args.get("c"))
    except HTTPException:
        raise InvalidRequestError("malformed continuation") from None
