"""The reader's pages (GET only; nothing here changes state).

River ``/``, sections ``/c/<slug>``, feeds ``/f/<id>``, ``/starred``, a story
``/s/<id>``, ``/search`` and the feeds' health ``/feeds`` (admins, with their tools;
admin.py has the admin pages). Marking read on open is done by the story page's
script with a POST (see actions.py), so that prefetching, crawling or reloading a page
never changes anything. Each page shows the read state of whoever asks
(access.viewer); a visitor without one sees none.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)

from aggregator.scopes import ALL, STARRED, feed_scope, scope_feed, scope_section, section_scope
from aggregator.types import StoryCursor, UnreadCounts
from aggregator.web import aggregator, state
from aggregator.web.access import may_administer, require_admin, require_state, viewer
from aggregator.web.admin import admin_notices
from aggregator.web.assets import asset_dir
from aggregator.web.present import (
    article_html,
    build_sidebar,
    decode_position,
    parse_scope,
    positive_int,
    stateless,
)

PAGE_SIZE = 30
SEARCH_PAGE_SIZE = 30
STATIC_MAX_AGE = 365 * 24 * 3600  # static URLs change with their content
ICON_VERSIONS_SECONDS = 60.0
ICON_VERSIONS_KEY = "aggregator.icon-versions"

blueprint = Blueprint(
    "reader",
    __name__,
    template_folder=str(asset_dir("templates")),
    static_folder=str(asset_dir("static")),
    static_url_path="/static",
)


def render_page(template: str, current: str, **context: Any) -> str:
    """Render a page of the reader with its sidebar; ``current`` is the scope shown."""
    app_state = state()
    who = viewer()
    counts, feeds = app_state.aggregator.navigation(user=who.reader)
    if not who.can_mark:
        counts = UnreadCounts()
    return render_template(
        template,
        site_title=app_state.config.site.title,
        sidebar=build_sidebar(app_state.config, counts, feeds, current, with_state=who.can_mark),
        sections=app_state.config.section_names(),
        unread_total=counts.of(ALL),
        icons=feed_icons(),
        **context,
    )


def feed_icons() -> dict[int, str]:
    """Return the version of each source feed's stored icon, by feed id: a page links
    ``/icons/<feed id>?v=<version>``, cached for long; other feeds get a letter badge.

    Icons change once a week at most: the answer is kept ICON_VERSIONS_SECONDS
    (hundreds of rows; every page needs it)."""
    cache = current_app.extensions.setdefault(ICON_VERSIONS_KEY, {})
    now = time.monotonic()
    if cache.get("until", 0.0) <= now:
        cache["versions"] = aggregator().feed_icon_versions()
        cache["until"] = now + ICON_VERSIONS_SECONDS
    versions: dict[int, str] = cache["versions"]
    return versions


def story_context(story_id: int, scope: str | None) -> dict[str, Any]:
    """Return what _article.html needs to show a story (404 if there is none)."""
    who = viewer()
    item = aggregator().get_story(story_id, user=who.reader)
    if item is None:
        abort(404, "There is no such story.")
    if not who.can_mark:
        item = stateless(item)
    scope = scope or ALL
    if scope == STARRED and not who.can_mark:
        scope = ALL
    full_text = aggregator().get_full_text(item.story.lead.id)
    return {
        "item": item,
        "scope": scope,
        "content": article_html(item.story.lead, full_text),
        "full_text": full_text,
        "details": aggregator().story_details(story_id),
        "may_administer": may_administer(),
    }


def list_url(scope: str, **params: Any) -> str:
    """Return the URL of a list page (with query parameters)."""
    section, feed_id = scope_section(scope), scope_feed(scope)
    if section is not None:
        return url_for("reader.section", slug=section, **params)
    if feed_id is not None:
        return url_for("reader.feed", feed_id=feed_id, **params)
    return url_for("reader.starred" if scope == STARRED else "reader.river", **params)


def list_page(scope: str, heading: str, **context: Any) -> str:
    who = viewer()
    unread_only = request.args.get("unread") == "1" and who.can_mark
    before = decode_position(request.args.get("before"))
    page = aggregator().get_stories(
        scope, unread_only=unread_only, before=before, limit=PAGE_SIZE, user=who.reader
    )
    if not who.can_mark:
        page = stateless(page)
    # "Mark all read" reaches down from the newest story shown since the first page;
    # older pages carry that position along in ``top``.
    newest = decode_position(request.args.get("top"))
    if newest is None and page.stories:
        first = page.stories[0].story
        newest = StoryCursor(first.sort_at, first.id)
    # ``s``: the story open in the reading pane (wide screens); the script keeps it in
    # the URL, so a reload or back/forward shows the same story.
    opened = positive_int(request.args.get("s"), "story")
    pane = story_context(opened, scope) if opened is not None else None
    return render_page(
        "list.html",
        scope,
        page=page,
        heading=heading,
        unread_only=unread_only,
        newest=newest,
        is_first_page=before is None,
        list_url=list_url,
        pane=pane,
        **context,
    )


@blueprint.get("/")
def river() -> str:
    return list_page(ALL, "All stories", notices=admin_notices())


@blueprint.get("/c/<slug>")
def section(slug: str) -> str:
    name = state().config.section_names().get(slug)
    if name is None:
        abort(404, f"There is no section {slug!r}.")
    return list_page(section_scope(slug), name, search_section=slug)


@blueprint.get("/f/<int:feed_id>")
def feed(feed_id: int) -> str:
    found = aggregator().get_feed(feed_id)
    if found is None:
        abort(404, "There is no such feed.")
    status = aggregator().feed_status(found)
    attention = status.text if status.edit_config else None
    return list_page(feed_scope(feed_id), found.title, feed=found, attention=attention)


@blueprint.get("/starred")
@require_state
def starred() -> str:
    return list_page(STARRED, "Starred")


@blueprint.get("/s/<int:story_id>")
def story(story_id: int) -> str:
    context = story_context(story_id, parse_scope(request.args.get("in"), state().config))
    scope = context["scope"]
    return render_page(
        "story.html",
        scope,
        back_url=list_url(scope),
        neighbours=aggregator().story_neighbours(story_id, scope, user=viewer().reader),
        **context,
    )


@blueprint.get("/s/<int:story_id>/pane")
def story_pane(story_id: int) -> str:
    """The story alone, as the reading pane shows it (fetched by the reader's script)."""
    scope = parse_scope(request.args.get("in"), state().config)
    context = story_context(story_id, scope)
    return render_template(
        "_article.html",
        sections=state().config.section_names(),
        icons=feed_icons(),
        in_pane=True,
        return_to=list_url(context["scope"], s=story_id),
        **context,
    )


@blueprint.get("/s/<int:story_id>/related")
def story_related(story_id: int) -> str:
    """A story's related stories alone: what a list shows when its sources open."""
    details = aggregator().story_details(story_id)
    if details is None:
        abort(404, "There is no such story.")
    scope = parse_scope(request.args.get("in"), state().config) or ""
    return render_template(
        "_related.html", details=details, scope=scope, related_heading="h3", icons={}
    )


@blueprint.get("/search")
def search() -> str:
    query = request.args.get("q", "").strip()[:500]
    section = request.args.get("section") or None
    if section is not None and section not in state().config.section_names():
        section = None
    before = positive_int(request.args.get("before"), "page position")
    results = None
    if query:
        who = viewer()
        results = aggregator().search(
            query, section=section, before=before, limit=SEARCH_PAGE_SIZE, user=who.reader
        )
        if not who.can_mark:
            results = stateless(results)
    return render_page(
        "search.html",
        section_scope(section) if section else "",
        query=query,
        search_section=section,
        results=results,
    )


@blueprint.get("/feeds")
@require_admin
def feeds_health() -> str:
    # Feeds that need the admin first (feed_health's order), then by title.
    return render_page(
        "feeds.html",
        "",
        feeds=aggregator().feed_health(),
        activity=aggregator().feed_activity(),
        config_error=state().config_error,
        is_admin=may_administer(),
    )


@blueprint.get("/f/<int:feed_id>/history")
@require_admin
def feed_history(feed_id: int) -> str:
    found = aggregator().get_feed(feed_id)
    if found is None:
        abort(404, "There is no such feed.")
    attempts = aggregator().fetch_history(feed_id)
    return render_page("history.html", feed_scope(feed_id), feed=found, attempts=attempts)


@blueprint.get("/icons/<int:feed_id>")
def icon(feed_id: int) -> Response:
    """A source feed's site icon, from our origin (pages never load a publisher's).

    Its URL carries its version, so it is cached for a year; a raster image only (the
    fetcher keeps no SVG), and no sniffing."""
    found = aggregator().feed_icon(feed_id)
    if found is None or found.body is None or found.content_type is None:
        abort(404, "This feed has no icon.")
    response = Response(found.body, mimetype=found.content_type)
    if request.args.get("v") == found.version:
        response.cache_control.public = True
        response.cache_control.max_age = STATIC_MAX_AGE
        response.cache_control.immutable = True
    else:
        response.cache_control.max_age = 3600
    response.headers["Content-Disposition"] = "inline"
    return response


@blueprint.after_request
def cache_static(response: Response) -> Response:
    if request.endpoint == "reader.static" and request.args.get("v"):
        response.cache_control.public = True
        response.cache_control.max_age = STATIC_MAX_AGE
        response.cache_control.immutable = True
    return response


def init_app(app: Flask) -> None:
    """Register the reader: pages, actions, template helpers and the error handler."""
    from aggregator.web import actions, errors, present

    present.init_app(app)
    errors.init_app(app)
    app.register_blueprint(blueprint)
    app.register_blueprint(actions.blueprint)
