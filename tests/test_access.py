"""The admin gate of the web app (aggregator/web/access.py)."""

from __future__ import annotations

from flask import Flask

from aggregator.web.access import require_admin


def make_app() -> Flask:
    app = Flask(__name__)

    @app.get("/admin-only")
    @require_admin
    def admin_only() -> str:
        return "ok"

    return app


def test_admin_views_answer_loopback_only() -> None:
    client = make_app().test_client()
    assert client.get("/admin-only", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/admin-only", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/admin-only", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    assert client.get("/admin-only", environ_base={"REMOTE_ADDR": "junk"}).status_code == 403
