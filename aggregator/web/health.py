"""/healthz: is the app up and does the database answer?"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from aggregator.errors import StorageError
from aggregator.web import aggregator

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        report = aggregator().health()
    except StorageError as e:
        return jsonify({"status": "error", "database": "unreachable", "error": str(e)}), 503
    return jsonify(report), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
