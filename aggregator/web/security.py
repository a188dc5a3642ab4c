"""Security of every response: headers, CSRF protection and the session signing key.

* Headers on every response (pages, static files, errors, feeds, /healthz): a
  Content-Security-Policy without 'unsafe-inline' (the reader's scripts and styles are
  static files), nosniff, no framing, and no Referer sent to other sites.
* Every POST needs a CSRF token (Flask-WTF): forms carry it in a hidden field, the
  reader's script sends it in the X-CSRFToken header. GET never changes state.
* The session (which holds the CSRF secret, and the signed-in user with their session
  key) is signed with $AGGREGATOR_SECRET_KEY, else with a key generated once and kept
  in the database, so it survives restarts and is the same in every process serving
  that database. Its cookie is HttpOnly, SameSite=Lax, and Secure when site.base_url
  is https; a signed-in session lasts SESSION_DAYS unless the user signs out or their
  password changes.
* The sync APIs (/api/greader, /api/fever) authenticate every request with a token
  or key of an app password, not a cookie, so CSRF does not apply to them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

if TYPE_CHECKING:
    from aggregator.web import AppState

# Names of where the key comes from, not keys.
SECRET_KEY_ENV = "AGGREGATOR_SECRET_KEY"  # noqa: S105
SECRET_SETTING = "session-signing-key"  # noqa: S105
SESSION_COOKIE = "aggregator_session"
SESSION_DAYS = 30

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


def app_state_of(app: Flask) -> AppState:
    from aggregator.web import EXTENSION_KEY, AppState

    app_state = app.extensions[EXTENSION_KEY]
    assert isinstance(app_state, AppState)
    return app_state


def init_app(app: Flask) -> None:
    """Install the headers, CSRF protection and the session key on ``app``."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get(SECRET_KEY_ENV) or app_state_of(
            app
        ).aggregator.shared_secret(SECRET_SETTING)
    base_url = app_state_of(app).config.site.base_url
    ours = {
        "SESSION_COOKIE_NAME": SESSION_COOKIE,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": base_url.lower().startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=SESSION_DAYS),
    }
    for key, value in ours.items():
        # Flask's defaults are replaced; what the app was created with is kept.
        if app.config.get(key) == app.default_config.get(key):
            app.config[key] = value
    # A token lives as long as the browser session: a reader tab left open for a day
    # must still be able to mark stories read.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.after_request(add_security_headers)
