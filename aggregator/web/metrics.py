"""/metrics in the Prometheus text format."""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from aggregator.core import METRICS_CONTENT_TYPE
from aggregator.web import aggregator

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape() -> Response:
    return Response(aggregator().metrics(), content_type=METRICS_CONTENT_TYPE)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
