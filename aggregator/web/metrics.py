"""/metrics in the Prometheus text format."""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from aggregator import metrics
from aggregator.web import state

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape() -> Response:
    app_state = state()
    health = metrics.FeedHealthCollector(
        lambda: app_state.storage.list_feeds(active_only=True),
        app_state.config.polling.error_threshold,
    )
    return Response(metrics.render(health), content_type=metrics.CONTENT_TYPE)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
