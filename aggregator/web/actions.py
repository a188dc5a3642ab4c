"""The reader's state changes: POST only, each with a CSRF token (see security.py),
each changing the state of whoever asks (access.viewer: a signed-in user, or everyone
on this machine while there are no accounts; access.gate_reader turns others away).

Forms work without JavaScript (the answer is a 303 back to the page, or to the form's
``next`` path on this site); the reader's script posts the same forms with
``Accept: application/json`` and gets the story's new state instead.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, jsonify, redirect, request, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as BaseResponse

from aggregator.types import StoryState
from aggregator.web import aggregator, state
from aggregator.web.access import require_admin, viewer
from aggregator.web.errors import wants_json
from aggregator.web.present import (
    PREFERENCE_DAYS,
    PREFERENCES,
    decode_position,
    local_path,
    parse_scope,
    positive_int,
)

blueprint = Blueprint("actions", __name__)

StateChange = Callable[[int], StoryState | None]


def _answer(new_state: StoryState | None, story_id: int) -> BaseResponse:
    if new_state is None:
        abort(404, "There is no such story.")
    if wants_json():
        return jsonify(
            {"story_id": story_id, "unread": new_state.unread, "starred": new_state.starred}
        )
    default = url_for("reader.story", story_id=story_id)
    return redirect(local_path(request.form.get("next"), default), code=303)


def _change(story_id: int, change: StateChange) -> BaseResponse:
    return _answer(change(story_id), story_id)


@blueprint.post("/s/<int:story_id>/read")
def mark_read(story_id: int) -> BaseResponse:
    return _change(story_id, lambda sid: aggregator().mark_read(sid, user=viewer().reader))


@blueprint.post("/s/<int:story_id>/unread")
def mark_unread(story_id: int) -> BaseResponse:
    return _change(story_id, lambda sid: aggregator().mark_read(sid, False, user=viewer().reader))


@blueprint.post("/s/<int:story_id>/star")
def star(story_id: int) -> BaseResponse:
    return _change(story_id, lambda sid: aggregator().mark_starred(sid, user=viewer().reader))


@blueprint.post("/s/<int:story_id>/unstar")
def unstar(story_id: int) -> BaseResponse:
    return _change(
        story_id, lambda sid: aggregator().mark_starred(sid, False, user=viewer().reader)
    )


@blueprint.post("/s/<int:story_id>/split/<int:entry_id>")
@require_admin
def split(story_id: int, entry_id: int) -> BaseResponse:
    """Take one report out of a story into a story of its own (remembered: no poll
    merges it back); answers with the new story's page."""
    story = aggregator().get_story(story_id)
    if story is None or entry_id not in {e.id for e in (story.story.lead, *story.story.others)}:
        abort(404, "There is no such report in this story.")
    try:
        new_story = aggregator().split_report(entry_id)
    except ValueError as e:
        raise BadRequest(str(e)) from e
    if wants_json():
        return jsonify({"story_id": new_story, "split_from": story_id})
    return redirect(url_for("reader.story", story_id=new_story), code=303)


@blueprint.post("/s/<int:story_id>/full-text")
def load_full_text(story_id: int) -> BaseResponse:
    """Fetch the article page of the story's lead report now and keep its main text;
    answers with the story's page, which shows it (or why it could not be loaded)."""
    full_text = aggregator().load_full_text(story_id)
    if full_text is None:
        abort(404, "There is no such story.")
    if wants_json():
        return jsonify({"story_id": story_id, "status": full_text.status, "error": full_text.error})
    default = url_for("reader.story", story_id=story_id)
    return redirect(local_path(request.form.get("next"), default), code=303)


@blueprint.post("/mark-all-read")
def mark_all_read() -> BaseResponse | Response:
    """Mark a list read up to the newest story its page showed (form fields ``scope``,
    ``newest``, ``watermark``); stories that arrived since stay unread."""
    scope = parse_scope(request.form.get("scope"), state().config)
    newest = decode_position(request.form.get("newest"))
    watermark = positive_int(request.form.get("watermark"), "watermark")
    if scope is None or newest is None or watermark is None:
        raise BadRequest("the form does not say which stories were shown")
    marked = aggregator().mark_all_read(
        scope, newest=newest, watermark=watermark, user=viewer().reader
    )
    if wants_json():
        return jsonify({"scope": scope, "marked": marked})
    return redirect(local_path(request.form.get("next"), url_for("reader.river")), code=303)


@blueprint.post("/preferences")
def preferences() -> BaseResponse | Response:
    """Remember the reader's list density and theme (form fields ``density``,
    ``theme``) in cookies of this browser; no account needed."""
    chosen = {}
    for name, allowed in PREFERENCES.items():
        value = request.form.get(name)
        if value is None:
            continue
        if value not in allowed:
            raise BadRequest(f"{name} is one of {', '.join(allowed)}")
        chosen[name] = value
    if not chosen:
        raise BadRequest("the form names no preference")
    response: BaseResponse | Response
    if wants_json():
        response = jsonify(chosen)
    else:
        response = redirect(local_path(request.form.get("next"), url_for("reader.river")), 303)
    for name, value in chosen.items():
        response.set_cookie(
            name,
            value,
            max_age=PREFERENCE_DAYS * 24 * 3600,
            path=request.script_root or "/",
            samesite="Lax",
        )
    return response
