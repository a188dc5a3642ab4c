"""The Google Reader API at /api/greader, in the dialect FreshRSS and Miniflux serve, for
apps (NetNewsWire, Reeder, Read You, FeedMe, newsboat). The views and the sign-in are
here; _streams.py turns stream ids and list parameters into a reader's StreamFilter,
_items.py gives items their JSON and Atom shapes, _auth.py signs requests in and
words the errors.

An app signs in with ClientLogin (its user's name and an app password), gets an Auth
token and sends it as ``Authorization: GoogleLogin auth=<token>`` (on a POST, the ``T``
field may carry it instead, as Miniflux allows). Streams:

* ``user/-/state/com.google/reading-list`` (everything), ``.../starred``, ``.../read``;
* ``feed/<id>``: the stories whose lead report comes from that source feed, so a story
  told by three outlets is one item in one feed;
* ``user/-/label/<section>``: a section's stories.

``user/<own id>/...`` means the same as ``user/-/...``; another user's id is refused.
Item ids come in the long form (``tag:google.com,2005:reader/item/<16 hex>``) in items
and the short decimal form in item refs; both are accepted, with 16 hex digits.

Errors are plain text: 401 for a missing, unknown or expired token (with the
``Google-Bad-Token`` header apps look for), 400 for malformed or unknown parameters
(nothing is changed), 429 while sign-in is locked out. Subscriptions are the admin's
(feeds.yaml): editing them here is refused with 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from aggregator.errors import (
    AggregatorError,
    AuthenticationError,
    InvalidRequestError,
    TooManyAttemptsError,
)
from aggregator.scopes import ALL, section_scope
from aggregator.types import ReaderStory, StoryCursor
from aggregator.web import aggregator, state
from aggregator.web.access import client_address
from aggregator.web.greader._auth import api_user, handle_error, signed_in, text
from aggregator.web.greader._items import (
    LABEL_PREFIX,
    READING_LIST,
    STARRED_STREAM,
    item_json,
    render_atom,
)
from aggregator.web.greader._streams import (
    Stream,
    apply_filters,
    continuation,
    feed_id_of,
    parse_stream,
    stream_filter,
)
from aggregator.web.present import encode_position
from aggregator.web.security import csrf
from aggregator.web.sync_items import (
    microseconds,
    parse_count,
    parse_item_ids,
    parse_unix_time,
    seconds,
    section_of_label,
)

blueprint = Blueprint("greader", __name__, url_prefix="/api/greader")
API = "/reader/api/0"

DEFAULT_COUNT = 20
MAX_COUNT = 1000
SUBSCRIPTIONS_MESSAGE = (
    "Subscriptions are managed by the admin in feeds.yaml; they cannot be changed here."
)


# --- signing in ----------------------------------------------------------------------------


@blueprint.route("", methods=["GET"])
@blueprint.route("/", methods=["GET"])
def root() -> Response:
    return text("OK")


@blueprint.route("/accounts/ClientLogin", methods=["GET", "POST"])
def client_login() -> Response:
    """ClientLogin: ``Email`` (the user name) and ``Passwd`` (an app password) give the
    Auth token, as ``SID=…\\nLSID=…\\nAuth=…`` (or JSON with ``output=json``)."""
    name = request.values.get("Email", "")
    password = request.values.get("Passwd", "")
    if not name or not password:
        return text("Error=BadAuthentication\n", 401)
    try:
        session = aggregator().client_login(name, password, address=client_address())
    except TooManyAttemptsError:
        raise
    except AuthenticationError:  # Google's answer, which apps show as "wrong password"
        return text("Error=BadAuthentication\n", 401)
    token = session.token
    if request.values.get("output") == "json":
        return jsonify({"SID": token, "LSID": token, "Auth": token})
    return text(f"SID={token}\nLSID={token}\nAuth={token}\n")


@blueprint.get(API + "/token")
@signed_in
def token() -> Response:
    """The action token (``T``) of POSTs: the Auth token itself, as Miniflux does."""
    return text(str(g.api_token))


@blueprint.get(API + "/user-info")
@signed_in
def user_info() -> Response:
    user = api_user()
    return jsonify(
        {
            "userId": str(user.id),
            "userName": user.name,
            "userProfileId": str(user.id),
            "userEmail": user.name,
            "isBloggerUser": False,
            "signupTimeSec": seconds(user.created_at),
            "isMultiLoginEnabled": False,
        }
    )


# --- subscriptions, labels, counts ---------------------------------------------------------


def _label(name: str) -> dict[str, str]:
    return {"id": LABEL_PREFIX + name, "label": name}


@blueprint.get(API + "/subscription/list")
@signed_in
def subscription_list() -> Response:
    """The source feeds of feeds.yaml, each with its section as its label."""
    subscriptions = [
        {
            "id": f"feed/{feed.id}",
            "title": feed.title,
            "categories": [_label(feed.section)] if feed.section else [],
            "url": feed.url,
            "htmlUrl": feed.site_url or "",
            "iconUrl": "",
            "sortid": f"{feed.id:08X}",
            "firstitemmsec": "0",
        }
        for feed in sorted(aggregator().get_feeds(), key=lambda feed: feed.title.casefold())
    ]
    return jsonify({"subscriptions": subscriptions})


@blueprint.get(API + "/tag/list")
@signed_in
def tag_list() -> Response:
    tags: list[dict[str, str]] = [{"id": STARRED_STREAM}]
    tags.extend({**_label(section.name), "type": "folder"} for section in state().config.sections)
    return jsonify({"tags": tags})


@blueprint.get(API + "/unread-count")
@signed_in
def unread_count() -> Response:
    """Unread items per feed (of their lead report), per label (section) and in all."""
    user = api_user()
    source = aggregator()
    counts = source.unread_counts(user=user.id)
    newest = source.newest_unread(user=user.id)
    rows = [
        {
            "id": f"feed/{item.feed_id}",
            "count": item.unread,
            "newestItemTimestampUsec": str(microseconds(item.newest)),
        }
        for item in source.unread_by_lead_feed(user=user.id)
    ]
    for section in source.config.sections:
        scope = section_scope(section.slug)
        rows.append(
            {
                "id": LABEL_PREFIX + section.name,
                "count": counts.of(scope),
                "newestItemTimestampUsec": str(microseconds(newest.get(scope))),
            }
        )
    total = counts.of(ALL)
    rows.append(
        {
            "id": READING_LIST,
            "count": total,
            "newestItemTimestampUsec": str(microseconds(newest.get(ALL))),
        }
    )
    return jsonify({"max": total, "unreadcounts": rows})


@blueprint.route(API + "/subscription/edit", methods=["POST"])
@blueprint.route(API + "/subscription/quickadd", methods=["POST"])
@blueprint.route(API + "/rename-tag", methods=["POST"])
@blueprint.route(API + "/disable-tag", methods=["POST"])
@signed_in
def edit_subscriptions() -> Response:
    return text(SUBSCRIPTIONS_MESSAGE, 403)


@blueprint.get(API + "/preference/list")
@signed_in
def preference_list() -> Response:
    return jsonify({"prefs": []})


@blueprint.get(API + "/preference/stream/list")
@signed_in
def stream_preference_list() -> Response:
    return jsonify({"streamprefs": {}})


# --- streams and items ---------------------------------------------------------------------


def stream_title(stream: Stream) -> str:
    source = aggregator()
    if stream.kind == "feed":
        feed = source.get_feed(feed_id_of(stream.value))
        return feed.title if feed else stream.value
    if stream.kind == "label":
        return source.config.section_names().get(
            section_of_label(source.config, stream.value) or "", stream.value
        )
    return {"starred": "Starred", "read": "Read"}.get(stream.kind, source.config.site.title)


def _contents(
    stream_id: str, items: Iterable[ReaderStory], next_cursor: StoryCursor | None, title: str
) -> Response:
    labels = state().config.section_names()
    body: dict[str, Any] = {
        "direction": "ltr",
        "id": stream_id,
        "title": title,
        "self": [{"href": request.url}],
        "updated": seconds(aggregator().now()),
        "items": [item_json(item, labels) for item in items],
    }
    if next_cursor is not None:
        body["continuation"] = encode_position(next_cursor)
    return jsonify(body)


def _stream_items(
    stream_id: str,
) -> tuple[Stream, list[ReaderStory], StoryCursor | None]:
    """A page of a stream's items, whole, as the request asks (``n``, ``c``, ``r``,
    ``ot``/``nt``, ``xt``/``it``)."""
    user = api_user()
    stream = parse_stream(stream_id, user)
    wanted = apply_filters(stream_filter(stream), user)
    items, next_cursor = aggregator().stream_stories(
        wanted,
        user=user.id,
        after=continuation(),
        limit=parse_count(request.args.get("n"), "n", DEFAULT_COUNT, MAX_COUNT),
    )
    return stream, items, next_cursor


@blueprint.get(API + "/stream/contents")
@blueprint.get(API + "/stream/contents/<path:stream_id>")
@signed_in
def stream_contents(stream_id: str | None = None) -> Response:
    """A page of a stream's items as JSON (no stream: the reading list)."""
    stream_id = stream_id or request.args.get("s") or READING_LIST
    stream, items, next_cursor = _stream_items(stream_id)
    return _contents(stream_id, items, next_cursor, stream_title(stream))


@blueprint.get("/reader/atom")
@blueprint.get("/reader/atom/<path:stream_id>")
@signed_in
def atom_stream(stream_id: str | None = None) -> Response:
    """A page of a stream's items as Google Reader's Atom, with their read and starred
    marks as categories (newsboat's Google Reader backend reads these)."""
    stream_id = stream_id or READING_LIST
    stream, items, next_cursor = _stream_items(stream_id)
    body = render_atom(
        stream_id,
        stream_title(stream),
        items,
        labels=state().config.section_names(),
        continuation=encode_position(next_cursor) if next_cursor else None,
        updated=aggregator().now(),
        self_url=request.url,
    )
    return Response(
        body,
        200,
        {"Cache-Control": "private, no-store"},
        content_type="application/atom+xml; charset=utf-8",
    )


@blueprint.get(API + "/stream/items/ids")
@signed_in
def stream_item_ids() -> Response:
    """A page of a stream's item refs (decimal ids)."""
    user = api_user()
    streams = request.args.getlist("s")
    if len(streams) != 1:
        raise InvalidRequestError("give exactly one stream: s=...")
    wanted = apply_filters(stream_filter(parse_stream(streams[0], user)), user)
    page = aggregator().stream_page(
        wanted,
        user=user.id,
        after=continuation(),
        limit=parse_count(request.args.get("n"), "n", DEFAULT_COUNT, MAX_COUNT),
    )
    body: dict[str, Any] = {
        "itemRefs": [
            {
                "id": str(ref.story_id),
                "directStreamIds": [],
                "timestampUsec": str(microseconds(ref.sort_at)),
            }
            for ref in page.refs
        ]
    }
    if page.next_cursor is not None:
        body["continuation"] = encode_position(page.next_cursor)
    return jsonify(body)


@blueprint.route(API + "/stream/items/contents", methods=["GET", "POST"])
@signed_in
def stream_item_contents() -> Response:
    """The items of some ids (``i``, repeated), in the order given; unknown ids are left
    out."""
    user = api_user()
    story_ids = parse_item_ids(request.values.getlist("i"))
    if not story_ids:
        raise InvalidRequestError("give the items: i=...")
    if len(story_ids) > MAX_COUNT:
        raise InvalidRequestError(f"at most {MAX_COUNT} items at once")
    items = aggregator().reader_stories(story_ids, user=user.id)
    if request.values.get("r") == "o":
        items.sort(key=lambda item: (item.story.sort_at, item.story.id))
    return _contents(READING_LIST, items, None, state().config.site.title)


@blueprint.post(API + "/edit-tag")
@signed_in
def edit_tag() -> Response:
    """Add (``a``) and remove (``r``) the read and starred states of items (``i``);
    answers ``OK``."""
    user = api_user()
    story_ids = parse_item_ids(request.form.getlist("i"))
    if not story_ids:
        raise InvalidRequestError("give the items: i=...")
    read: bool | None = None
    starred: bool | None = None
    changes = [(tag, True) for tag in request.form.getlist("a")]
    changes += [(tag, False) for tag in request.form.getlist("r")]
    if not changes:
        raise InvalidRequestError("give the tags to add (a=...) or remove (r=...)")
    for tag, added in changes:
        stream = parse_stream(tag, user)
        if stream.kind == "ignored":
            continue
        if stream.kind in ("read", "unread"):
            value = added if stream.kind == "read" else not added
            if read is not None and read != value:
                raise InvalidRequestError("read and unread at once")
            read = value
        elif stream.kind == "starred":
            if starred is not None and starred != added:
                raise InvalidRequestError("starred and unstarred at once")
            starred = added
        else:
            raise InvalidRequestError(
                f"{tag[:100]!r} cannot be set: labels are the server's sections"
            )
    aggregator().set_story_states(story_ids, user=user.id, read=read, starred=starred)
    return text("OK")


@blueprint.post(API + "/mark-all-as-read")
@signed_in
def mark_all_as_read() -> Response:
    """Mark a stream (``s``) read, up to the items that arrived by ``ts`` when given;
    answers ``OK``."""
    user = api_user()
    stream_id = request.form.get("s") or request.args.get("s")
    if not stream_id:
        raise InvalidRequestError("give the stream: s=...")
    wanted = stream_filter(parse_stream(stream_id, user))
    arrived_by = parse_unix_time(request.form.get("ts") or request.args.get("ts"), "ts")
    aggregator().mark_stream_read(replace(wanted, arrived_before=arrived_by), user=user.id)
    return text("OK")


@blueprint.errorhandler(AggregatorError)
@blueprint.errorhandler(HTTPException)
def _error(error: Exception) -> Response:
    return handle_error(error)


def init_app(app: Flask) -> None:
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
