"""/healthz: can this process serve, and is anything wrong?

503 only when it cannot serve (the database does not answer); otherwise 200 with
``"status": "ok"``, or ``"degraded"`` and the reasons (feeds.yaml on disk is not the
config in force, too many source feeds fail), so a load balancer does not pull every
replica for one bad edit of a shared file. ``?strict=1`` answers 503 when degraded,
for monitors that read only the status code.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

from aggregator.errors import StorageError
from aggregator.web import aggregator

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        report = aggregator().health()
    except StorageError as e:
        return jsonify({"status": "error", "database": "unreachable", "error": str(e)}), 503
    strict = request.args.get("strict", "") not in ("", "0", "false")
    return jsonify(report), 503 if strict and report["status"] != "ok" else 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
