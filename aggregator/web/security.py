"""Security of every response: headers, CSRF protection and the session signing key.

* Headers on every response (pages, static files, errors, feeds, /healthz): a
  Content-Security-Policy without 'unsafe-inline' (the reader's scripts and styles are
  static files), nosniff, no framing, and no Referer sent to other sites.
* Every POST needs a CSRF token (Flask-WTF): forms carry it in a hidden field, the
  reader's script sends it in the X-CSRFToken header. GET never changes state.
* The session (which holds the CSRF secret) is signed with $AGGREGATOR_SECRET_KEY, else
  with a key generated once and kept in the database, so it survives restarts and is
  the same in every process serving that database.
"""

from __future__ import annotations

import os

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

# Names of where the key comes from, not keys.
SECRET_KEY_ENV = "AGGREGATOR_SECRET_KEY"  # noqa: S105
SECRET_SETTING = "session-signing-key"  # noqa: S105

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Pictures and media inside articles stay on the publishers' servers; the
        # sanitizer lets only http(s) URLs through.
        "img-src 'self' https: http:",
        "media-src https: http:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers without frame-ancestors
    # Same-origin requests keep the Referer (Flask-WTF checks it on HTTPS); links to
    # publishers and article images send none.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

csrf = CSRFProtect()


def add_security_headers(response: Response) -> Response:
    """Set the security headers a view has not set itself; return the response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Install the headers, CSRF protection and the session key on ``app``."""
    from aggregator.web import EXTENSION_KEY, AppState

    if not app.config.get("SECRET_KEY"):
        app_state = app.extensions[EXTENSION_KEY]
        assert isinstance(app_state, AppState)
        app.config["SECRET_KEY"] = os.environ.get(
            SECRET_KEY_ENV
        ) or app_state.aggregator.shared_secret(SECRET_SETTING)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # A token lives as long as the browser session: a reader tab left open for a day
    # must still be able to mark stories read.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.after_request(add_security_headers)
