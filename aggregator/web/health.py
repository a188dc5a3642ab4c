"""/healthz: is the app up and does the database answer?"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, jsonify

from aggregator.errors import StorageError
from aggregator.web import state

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    app_state = state()
    storage = app_state.storage
    try:
        feeds = storage.list_feeds(active_only=True)
    except StorageError as e:
        return jsonify({"status": "error", "database": "unreachable", "error": str(e)}), 503
    fetched = [feed.last_fetched_at for feed in feeds if feed.last_fetched_at]
    return jsonify(
        {
            "status": "ok",
            "database": "ok",
            "feeds": len(feeds),
            "feeds_failing": sum(1 for feed in feeds if feed.error_count or feed.gone),
            "last_poll_at": max(fetched).isoformat() if fetched else None,
            "config_error": app_state.config_error,
            "now": datetime.now(UTC).isoformat(),
        }
    ), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
