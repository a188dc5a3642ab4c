"""/metrics: Prometheus counters of polls and the feeds' health."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from aggregator.config import Config, FeedConfig, PollingConfig
from aggregator.web import create_app
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_polls_and_failing_feeds(make_aggregator: MakeAggregator) -> None:
    with FeedServer() as server:
        server.route(
            "/ok.xml",
            FeedServer.feed(
                b'<rss version="2.0"><channel><title>T</title>'
                b"<item><title>A</title><guid>a</guid></item></channel></rss>"
            ),
        )
        server.route("/broken.xml", FeedServer.status(500))
        config = Config(
            path="m.yaml",
            polling=PollingConfig(allow_private_networks=True, host_spacing_seconds=0),
            feeds=(
                FeedConfig(url=server.url("/ok.xml")),
                FeedConfig(url=server.url("/broken.xml")),
            ),
        )
        aggregator = make_aggregator(config)
        app = create_app(aggregator, test_config={"TESTING": True})
        client = app.test_client()
        before = samples(client.get("/metrics").get_data(as_text=True))
        aggregator.update_feeds()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    after = samples(response.get_data(as_text=True))

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("aggregator_polls_total", outcome="ok") == 1
    assert delta("aggregator_polls_total", outcome="failed") == 1
    assert delta("aggregator_entries_stored_total", kind="new") == 1
    assert delta("aggregator_poll_duration_seconds_count") == 2
    assert after[("aggregator_feeds_failing", ())] == 1
    assert after[("aggregator_feeds", ())] == 2
