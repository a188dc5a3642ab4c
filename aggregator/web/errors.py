"""One error handler: domain errors and HTTP errors become a status and a small page.

Scripts (Accept: application/json) get ``{"error": message}`` instead of a page.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from aggregator.errors import AggregatorError, ConfigError, StorageError

log = logging.getLogger(__name__)

# Domain errors that reach a view, most specific first.
STATUS_OF_ERROR: tuple[tuple[type[AggregatorError], int, str], ...] = (
    (StorageError, 503, "The database is not answering. Try again in a moment."),
    (ConfigError, 500, "The configuration is invalid; see the server log."),
    (AggregatorError, 500, "Something went wrong; see the server log."),
)
CSRF_MESSAGE = "This form has expired or did not come from this site. Reload the page and retry."


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def handle_error(error: Exception) -> Response | HTTPException | tuple[Response | str, int]:
    """Return the response for an error raised by a view."""
    if isinstance(error, HTTPException):
        if error.code is None or error.code < 400:
            return error  # routing redirects are exceptions too; pass them on
        status, message = error.code, str(error.description or error.name)
        if isinstance(error, CSRFError):
            message = CSRF_MESSAGE
    else:
        assert isinstance(error, AggregatorError)
        status, message = next(
            (code, text) for kind, code, text in STATUS_OF_ERROR if isinstance(error, kind)
        )
        log.error("%s %s failed: %s", request.method, request.path, error)
    if wants_json():
        return jsonify({"error": message}), status
    from aggregator.web import state

    try:
        site_title = state().config.site.title
    except (KeyError, RuntimeError):  # an app without the aggregator (tests of parts)
        site_title = None
    page = render_template(
        "error.html",
        status=status,
        reason=HTTP_STATUS_CODES.get(status, "Error"),
        message=message,
        site_title=site_title,
    )
    return page, status


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_error)
    app.register_error_handler(AggregatorError, handle_error)
