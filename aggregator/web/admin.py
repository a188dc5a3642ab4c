"""The admin pages: add a source feed by any address, import an OPML file, change,
pause and remove feeds, refresh one or all now. Every view is wrapped in
``require_admin`` (access.py).

A change of feeds.yaml takes three steps, each a POST carrying the same fields: the
form, the review (the diff of feeds.yaml, and the digest of the file it was made
from), the save. Saving plans the change again on the file as it is now and refuses
(409) when that file is not the one reviewed, so an admin never overwrites an edit
made meanwhile by another admin or in an editor.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from aggregator.config import LABEL_TRUST_VALUES, ConfigEdit, format_duration
from aggregator.core import ImportPlan
from aggregator.errors import (
    AggregatorError,
    ConfigConflictError,
    ConfigEditError,
    ConfigErrors,
    FetchError,
    OpmlError,
)
from aggregator.types import FeedState
from aggregator.web import aggregator, state
from aggregator.web.access import may_administer, require_admin
from aggregator.web.charts import fetch_strip, new_per_day_strip

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

MAX_OPML_UPLOAD = 5 * 1024 * 1024
# The fields of a feed an admin edits, as the forms name them.
FEED_FIELDS = ("url", "title", "category", "interval", "priority", "labels", "paused")
ACTIONS = ("add", "change", "remove", "import")


class FormError(Exception):
    """What is wrong with a form, said to the admin (400)."""


@dataclass(frozen=True)
class Change:
    """A change of feeds.yaml as the forms carry it: an action on a feed (by its URL
    in feeds.yaml) with values, or an import of an OPML file."""

    action: str
    target: str | None  # the feed's URL (change, remove)
    values: dict[str, Any]
    opml: bytes | None = None

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The change as hidden form fields, for the review and the save."""
        fields = [("action", self.action)]
        if self.target:
            fields.append(("target", self.target))
        for name, value in self.values.items():
            if value is None:  # carried as empty: the save clears that key too
                fields.append((name, ""))
                continue
            fields.append((name, "1" if value is True else "0" if value is False else str(value)))
        if self.opml is not None:
            fields.append(("opml", base64.b64encode(self.opml).decode("ascii")))
        return fields


def _feed_values(form: Any, *, new: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in FEED_FIELDS:
        if name == "paused":
            continue
        if name in form:
            text = " ".join(str(form.get(name, "")).split())
            values[name] = text or None
    if new:
        values.pop("url", None)
    if values.get("priority") is not None:
        try:
            values["priority"] = int(values["priority"])
        except ValueError:
            raise FormError(
                f"priority must be a whole number, not {values['priority']!r}"
            ) from None
    if values.get("labels") is not None and values["labels"] not in LABEL_TRUST_VALUES:
        raise FormError(f"labels must be one of {', '.join(LABEL_TRUST_VALUES)}")
    if "paused" in form or form.get("paused-field") == "1":
        values["paused"] = form.get("paused") in ("1", "on", "true")
    return values


def change_from_form(form: Any, files: Any = None) -> Change:
    """The change a form describes. Raises FormError."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise FormError("the form does not say what to change")
    if action == "import":
        return Change("import", None, {}, _opml_of(form, files))
    if action == "add":
        address = " ".join(str(form.get("address", "")).split())
        if not address:
            raise FormError("choose a feed to add")
        return Change("add", None, {"address": address, **_feed_values(form, new=True)})
    target = form.get("target", "")
    if not target:
        raise FormError("the form does not say which feed")
    values = {} if action == "remove" else _feed_values(form, new=False)
    return Change(action, target, values)


def _opml_of(form: Any, files: Any) -> bytes:
    upload = files.get("file") if files is not None else None
    if upload is not None and upload.filename:
        data = upload.read(MAX_OPML_UPLOAD + 1)
    else:
        try:
            data = base64.b64decode(form.get("opml", ""), validate=True)
        except (binascii.Error, ValueError):
            raise FormError("the uploaded file did not come back whole; upload it again") from None
    if not data:
        raise FormError("choose an OPML file to import")
    if len(data) > MAX_OPML_UPLOAD:
        raise FormError("the file is too large (at most 5 MiB)")
    return bytes(data)


def plan(change: Change, digest: str | None) -> tuple[ConfigEdit | None, ImportPlan | None]:
    """The edit of feeds.yaml a change makes (and the import's report)."""
    source = aggregator()
    if change.action == "import":
        assert change.opml is not None
        report = source.plan_import(change.opml, digest=digest)
        return report.edit, report
    if change.action == "add":
        values = {k: v for k, v in change.values.items() if k != "address"}
        return source.plan_add_feed(change.values["address"], values, digest=digest), None
    assert change.target is not None
    if change.action == "remove":
        return source.plan_remove_feed(change.target, digest=digest), None
    return source.plan_feed_change(change.target, change.values, digest=digest), None


def diff_lines(diff: str) -> Markup:
    """A unified diff as HTML lines, each in a span classed by kind (for colours)."""
    kinds = {"+": "add", "-": "del", "@": "hunk", " ": "same"}
    spans = []
    for line in diff.splitlines():
        kind = "file" if line.startswith(("+++", "---")) else kinds.get(line[:1], "same")
        spans.append(Markup('<span class="d-{}">{}</span>').format(kind, line))
    return Markup("\n").join(spans)


def _review(
    change: Change,
    *,
    edit: ConfigEdit | None = None,
    report: ImportPlan | None = None,
    problem: str | None = None,
    conflict: bool = False,
    status: int = 200,
) -> tuple[str, int]:
    return (
        render_template(
            "admin_review.html",
            change=change,
            edit=edit,
            report=report,
            diff=diff_lines(edit.diff()) if edit is not None else None,
            problem=problem,
            conflict=conflict,
            site_title=state().config.site.title,
        ),
        status,
    )


# --- the review and the save ---------------------------------------------------------------


@blueprint.post("/review")
@require_admin
def review() -> tuple[str, int] | BaseResponse:
    """The diff of a change, to save or abandon."""
    try:
        change = change_from_form(request.form, request.files)
    except FormError as e:
        return _form_again(str(e))
    try:
        edit, report = plan(change, None)
    except ConfigErrors as e:
        return _review(change, problem=_invalid(e), status=400)
    except OpmlError as e:
        return _review(change, problem=f"This is no subscription list: {e}", status=400)
    except (ConfigEditError, AggregatorError) as e:
        return _review(change, problem=str(e), status=400)
    return _review(change, edit=edit, report=report)


@blueprint.post("/save")
@require_admin
def save() -> tuple[str, int] | BaseResponse:
    """Save a reviewed change: planned again on the file as it is now, refused when
    that is not the file reviewed."""
    try:
        change = change_from_form(request.form, request.files)
    except FormError as e:
        return _form_again(str(e))
    digest = request.form.get("digest") or None
    try:
        edit, _ = plan(change, digest)
        if edit is None:
            flash("Nothing to save: nothing in it is new.")
            return redirect(url_for("reader.feeds_health"), code=303)
        aggregator().save_config_edit(edit)
    except ConfigConflictError as e:
        return _review(change, problem=str(e), conflict=True, status=409)
    except ConfigErrors as e:
        return _review(change, problem=_invalid(e), status=400)
    except (ConfigEditError, AggregatorError) as e:
        return _review(change, problem=str(e), status=400)
    flash(f"Saved {edit.path}: " + "; ".join(edit.summary) + ".")
    return redirect(url_for("reader.feeds_health"), code=303)


def _invalid(errors: ConfigErrors) -> str:
    return "This change would make feeds.yaml invalid, so it was not made:\n" + str(errors)


def _form_again(message: str) -> tuple[str, int]:
    return render_template("error.html", status=400, message=message), 400


# --- the forms -----------------------------------------------------------------------------


@blueprint.get("/feeds/add")
@require_admin
def add_feed() -> str:
    """Step 1: the address of a feed or of its site."""
    return _add_page()


@blueprint.post("/feeds/discover")
@require_admin
def discover() -> tuple[str, int] | str:
    """Step 2: the feeds the address leads to, to choose from."""
    address = " ".join(request.form.get("address", "").split())
    if not address:
        return _add_page(problem="Type the address of a feed or of a web site."), 400
    try:
        found = aggregator().discover_feeds(address)
    except FetchError as e:
        return _add_page(address=address, problem=f"Cannot fetch {address}: {e.message}"), 400
    return _add_page(address=address, discovery=found)


def _add_page(**context: Any) -> str:
    config = state().config
    return render_template(
        "admin_add.html",
        sections=[section.name for section in config.sections],
        site_title=config.site.title,
        **context,
    )


@blueprint.get("/feeds/<int:feed_id>/edit")
@require_admin
def edit_feed(feed_id: int) -> str:
    feed = _listed_feed(feed_id)
    listed = next(f for f in state().config.feeds if f.url == feed.url)
    return render_template(
        "admin_edit.html",
        feed=feed,
        listed=listed,
        interval=format_duration(listed.interval_seconds) if listed.interval_seconds else "",
        sections=[section.name for section in state().config.sections],
        label_values=LABEL_TRUST_VALUES,
        site_title=state().config.site.title,
    )


@blueprint.get("/import")
@require_admin
def import_form() -> str:
    return render_template("admin_import.html", site_title=state().config.site.title)


# --- refreshing ----------------------------------------------------------------------------


@blueprint.post("/feeds/<int:feed_id>/refresh")
@require_admin
def refresh_feed(feed_id: int) -> BaseResponse:
    """Poll one feed now and say how it went."""
    feed = _listed_feed(feed_id)
    outcome = aggregator().update_feed(feed.id)
    if outcome.status == "failed":
        flash(f"{outcome.title}: failed: {outcome.error}")
    elif outcome.status == "ok":
        flash(f"{outcome.title}: {outcome.new} new, {outcome.updated} updated.")
    else:
        flash(f"{outcome.title}: not modified.")
    return redirect(url_for("reader.feeds_health", _anchor=f"feed-{feed.id}"), code=303)


@blueprint.post("/feeds/refresh")
@require_admin
def refresh_all() -> BaseResponse:
    """Make every polled feed due now; the poller starts at once."""
    count = aggregator().request_refresh()
    flash(f"{count} feeds are due now: the poller fetches them within seconds.")
    return redirect(url_for("reader.feeds_health"), code=303)


def _listed_feed(feed_id: int) -> FeedState:
    feed = aggregator().get_feed(feed_id)
    if feed is None or not feed.active:
        abort(404, "There is no such feed in feeds.yaml.")
    return feed


# --- for the other pages -------------------------------------------------------------------


def admin_notices() -> list[tuple[str, str]]:
    """What an admin should know on the river: (kind, text) of a broken feeds.yaml and
    of failing source feeds; nothing for anyone else."""
    if not may_administer():
        return []
    notices = []
    if state().config_error:
        notices.append(
            ("error", "feeds.yaml has errors: the last good configuration stays in force.")
        )
    total, failing = aggregator().feed_counts()
    if failing:
        notices.append(("warn", f"{failing} of {total} source feeds are failing."))
    return notices


def init_app(app: Flask) -> None:
    """Register the admin pages and the feeds page's charts."""
    app.register_blueprint(blueprint)
    app.add_template_global(fetch_strip)
    app.add_template_global(new_per_day_strip)
