"""The Fever API at /api/fever, as FreshRSS and Miniflux serve it, for apps that still
speak it (Reeder, Unread, Fiery Feeds).

Every request carries ``api_key``: the md5 of "name:app password" (an app password,
never the account password). Groups are the sections (their ids are stable numbers
made from the section's slug), feeds the source feeds of feeds.yaml grouped by their
section, items the stories (a story told by three outlets is one item, in the feed of
its lead report). Answers are JSON with ``api_version`` 3 and ``auth`` 1.

Where the reference servers answer a wrong key with 200 and ``auth: 0``, we answer 401
with that same body (apps read ``auth``; the status tells proxies and monitors too). A
malformed parameter is 400 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from aggregator.errors import (
    AggregatorError,
    AuthenticationError,
    InvalidRequestError,
    StorageError,
    TooManyAttemptsError,
)
from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
from aggregator.types import StreamFilter, User
from aggregator.web import aggregator, state
from aggregator.web.access import client_address
from aggregator.web.present import web_link
from aggregator.web.security import csrf
from aggregator.web.sync_items import group_id, item_html, parse_unix_time, seconds

blueprint = Blueprint("fever", __name__, url_prefix="/api/fever")
API_VERSION = 3
ITEMS_PER_REQUEST = 50


def _answer(members: dict[str, Any], status: int = 200, auth: int = 1) -> Response:
    body = {"api_version": API_VERSION, "auth": auth, **members}
    response = jsonify(body)
    response.status_code = status
    return response


def _number(name: str, *, required: bool = False) -> int | None:
    value = request.values.get(name)
    if value is None or value.strip() == "":
        if required:
            raise InvalidRequestError(f"give {name}=...")
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidRequestError(f"{name} must be a positive number, got {value[:40]!r}")
    return int(text)


def _numbers(name: str) -> list[int] | None:
    value = request.values.get(name)
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if any(not part.isdigit() or len(part) > 18 for part in parts):
        raise InvalidRequestError(f"{name} must be numbers separated by commas")
    return [int(part) for part in parts]


def _sections_by_group() -> dict[int, str]:
    return {group_id(section.slug): section.slug for section in state().config.sections}


def _groups() -> dict[str, Any]:
    sections = state().config.sections
    return {
        "groups": [{"id": group_id(section.slug), "title": section.name} for section in sections],
        "feeds_groups": _feeds_groups(),
    }


def _feeds_groups() -> list[dict[str, Any]]:
    slugs = state().config.section_slugs()
    members: dict[int, list[str]] = {}
    for feed in aggregator().get_feeds():
        if feed.section in slugs:
            members.setdefault(group_id(slugs[feed.section]), []).append(str(feed.id))
    return [{"group_id": gid, "feed_ids": ",".join(ids)} for gid, ids in members.items()]


def _feeds() -> dict[str, Any]:
    feeds = [
        {
            "id": feed.id,
            "favicon_id": feed.id,
            "title": feed.title,
            "url": feed.url,
            "site_url": feed.site_url or "",
            "is_spark": 0,
            "last_updated_on_time": seconds(feed.last_success_at),
        }
        for feed in aggregator().get_feeds()
    ]
    return {"feeds": feeds, "feeds_groups": _feeds_groups()}


def _items(user: User) -> dict[str, Any]:
    """50 items: after ``since_id`` (ascending), before ``max_id`` (descending), or those
    of ``with_ids``; ``feed_ids``/``group_ids`` narrow them."""
    source = aggregator()
    with_ids = _numbers("with_ids")
    if with_ids is not None:
        found = source.reader_stories(with_ids[:ITEMS_PER_REQUEST], user=user.id)
    else:
        scopes = None
        group_ids = _numbers("group_ids")
        if group_ids is not None:
            by_group = _sections_by_group()
            scopes = [section_scope(by_group[g]) for g in group_ids if g in by_group]
            scopes += [ALL] if 0 in group_ids else []
        story_ids = source.story_ids_by_id(
            user=user.id,
            above=_number("since_id"),
            below=_number("max_id") or None,
            lead_feeds=_numbers("feed_ids"),
            scopes=scopes,
            limit=ITEMS_PER_REQUEST,
        )
        found = source.reader_stories(story_ids, user=user.id)
    items = [
        {
            "id": item.story.id,
            "feed_id": item.story.lead.feed_id,
            "title": item.story.lead.title,
            "author": item.story.lead.author or "",
            "html": item_html(item),
            "url": web_link(item.story.lead.link) or "",
            "is_saved": int(item.starred),
            "is_read": int(not item.unread),
            "created_on_time": seconds(item.story.sort_at),
        }
        for item in found
    ]
    return {"items": items, "total_items": source.count_stories()}


def _id_list(user: User, stream: StreamFilter) -> str:
    return ",".join(
        str(story_id) for story_id in aggregator().stream_story_ids(stream, user=user.id)
    )


def _mark(user: User) -> dict[str, Any]:
    """``mark`` (item, feed, group) ``as`` (read, unread, saved, unsaved) ``id``, with
    ``before`` (Unix time: only what arrived by then) for feeds and groups."""
    source = aggregator()
    kind, state_name = request.values.get("mark", ""), request.values.get("as", "")
    target = _number("id", required=True)
    assert target is not None
    if kind == "item":
        changes = {
            "read": {"read": True},
            "unread": {"read": False},
            "saved": {"starred": True},
            "unsaved": {"starred": False},
        }
        if state_name not in changes:
            raise InvalidRequestError(f"as={state_name[:20]!r}: use read, unread, saved or unsaved")
        source.set_story_states([target], user=user.id, **changes[state_name])
    elif kind in ("feed", "group"):
        if state_name != "read":
            raise InvalidRequestError(f"a {kind} can only be marked as=read")
        before = parse_unix_time(request.values.get("before"), "before")
        if kind == "feed":
            if source.get_feed(target) is None:
                raise InvalidRequestError(f"unknown feed {target}")
            stream = StreamFilter(feed_scope(target), lead_feed=target, arrived_before=before)
        elif target == 0:
            stream = StreamFilter(ALL, arrived_before=before)
        else:
            slug = _sections_by_group().get(target)
            if slug is None:
                raise InvalidRequestError(f"unknown group {target}")
            stream = StreamFilter(section_scope(slug), arrived_before=before)
        source.mark_stream_read(stream, user=user.id)
    else:
        raise InvalidRequestError(f"mark={kind[:20]!r}: use item, feed or group")
    if state_name in ("saved", "unsaved"):
        return {"saved_item_ids": _id_list(user, StreamFilter(STARRED))}
    return {"unread_item_ids": _id_list(user, StreamFilter(ALL, unread=True))}


@blueprint.route("", methods=["GET", "POST"])
@blueprint.route("/", methods=["GET", "POST"])
def endpoint() -> Response:
    """The one Fever endpoint: what to answer is in the request's arguments."""
    if request.args.get("api") == "xml":
        raise InvalidRequestError("only JSON is served: use ?api")
    source = aggregator()
    user = g.fever_user = source.fever_user(
        request.values.get("api_key", ""), address=client_address()
    )
    members: dict[str, Any] = {"last_refreshed_on_time": _last_refreshed()}
    if "mark" in request.values:
        members.update(_mark(user))
    if "groups" in request.args:
        members.update(_groups())
    if "feeds" in request.args:
        members.update(_feeds())
    if "favicons" in request.args:
        members["favicons"] = []
    if "items" in request.args:
        members.update(_items(user))
    if "links" in request.args:
        members["links"] = []
    if "unread_item_ids" in request.args:
        members["unread_item_ids"] = _id_list(user, StreamFilter(ALL, unread=True))
    if "saved_item_ids" in request.args:
        members["saved_item_ids"] = _id_list(user, StreamFilter(STARRED))
    return _answer(members)


def _last_refreshed() -> int:
    times = [feed.last_fetched_at for feed in aggregator().get_feeds() if feed.last_fetched_at]
    return seconds(max(times)) if times else 0


@blueprint.errorhandler(AggregatorError)
def handle_error(error: Exception) -> Response:
    """Errors as Fever JSON: 401 (``auth: 0``) for a wrong key, 429 while locked out,
    400 for a malformed request, 503 when the database does not answer."""
    if isinstance(error, TooManyAttemptsError):
        response = _answer({"error": error.message}, 429, auth=0)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    if isinstance(error, AuthenticationError):
        return _answer({}, 401, auth=0)
    if isinstance(error, StorageError):
        return _answer({"error": "the database is not answering"}, 503)
    message = error.message if isinstance(error, AggregatorError) else "invalid request"
    return _answer({"error": message}, 400, auth=1 if g.get("fever_user") else 0)


def init_app(app: Flask) -> None:
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
