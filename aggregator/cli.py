"""The ``aggregator`` command. Parses arguments, calls one function, prints."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import UTC, datetime
from typing import TextIO

import click
from waitress import create_server

from aggregator import __version__, websub
from aggregator.config import database_url, default_config_path, load_config
from aggregator.errors import ConfigErrors, StorageError
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.models import Config
from aggregator.poll import PollSummary, feeds_to_poll, poll_feeds
from aggregator.scheduler import PollScheduler
from aggregator.storage import Storage, open_storage
from aggregator.update import FeedOutcome, Updater
from aggregator.web import create_app

STATUS_LABELS = {"ok": "ok", "not_modified": "not modified", "failed": "FAILED"}


def _load(config_path: str) -> Config:
    try:
        return load_config(config_path)
    except ConfigErrors as e:
        for error in e.errors:
            click.echo(str(error), err=True)
        sys.exit(1)


def _open(config: Config) -> Storage:
    try:
        return open_storage(database_url(config))
    except StorageError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    default=default_config_path,
    show_default="./feeds.yaml, or $AGGREGATOR_CONFIG",
    help="The feeds.yaml to use.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def cli(ctx: click.Context, config_path: str, verbose: int) -> None:
    """A self-hosted feed aggregator: polls the feeds in feeds.yaml, deduplicates and
    categorizes their items, and serves them. The database is SQLite next to the
    config unless storage.url or $AGGREGATOR_DATABASE_URL says otherwise."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = config_path


@cli.command()
@click.pass_obj
def check(config_path: str) -> None:
    """Validate the config; print file:line: message for each problem and exit 1."""
    config = _load(config_path)
    click.echo(
        f"{config.path}: OK ({len(config.feeds)} feeds, {len(config.categories)} categories)"
    )


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = stream.isatty() and total > 0

    def __call__(self, outcome: FeedOutcome) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {outcome.title[:40]:<40}")
        if self.done == self.total:
            self.stream.write("\r" + " " * (width + 60) + "\r")
        self.stream.flush()


def format_summary(summary: PollSummary) -> str:
    """The per-feed lines and the totals line printed after a poll."""
    lines = []
    for outcome in sorted(summary.outcomes, key=lambda o: (o.status != "failed", o.title.lower())):
        label = STATUS_LABELS[outcome.status]
        if outcome.status == "failed":
            detail = outcome.error or "failed"
        elif outcome.status == "ok":
            detail = f"{outcome.new} new, {outcome.updated} updated"
            if outcome.warning:
                detail += f" (warning: {outcome.warning})"
        else:
            detail = ""
        lines.append(f"{label:<13} {outcome.title[:50]:<50} {detail}".rstrip())
    lines.append(
        f"Polled {len(summary.outcomes)} feeds: {summary.count('ok')} ok, "
        f"{summary.count('not_modified')} not modified, {summary.count('failed')} failed; "
        f"{summary.new} new entries, {summary.updated} updated."
    )
    return "\n".join(lines)


@cli.command()
@click.option("--all", "poll_all", is_flag=True, help="Poll every feed now, ignoring the schedule.")
@click.option("--workers", type=click.IntRange(1, 256), help="Feeds fetched at once [16].")
@click.pass_obj
def poll(config_path: str, poll_all: bool, workers: int | None) -> None:
    """Poll every due feed once, print a summary and exit.

    Exits 0 even when some feeds failed (their errors are in the summary); 1 when
    the config is invalid.
    """
    config = _load(config_path)
    storage = _open(config)
    fetcher = Fetcher(FetchLimits.from_polling(config.polling))
    try:
        storage.sync_feeds(config.feeds, datetime.now(UTC))
        updater = Updater.from_config(config, storage, fetcher)
        feeds = feeds_to_poll(updater, ignore_schedule=poll_all)
        if not feeds:
            click.echo("No feed is due. Use --all to poll every feed now.")
            return
        versions_before = websub.snapshot(config, storage)
        summary = poll_feeds(
            feeds,
            updater,
            workers=workers or config.polling.workers,
            per_host=config.polling.per_host,
            on_outcome=_Progress(len(feeds), sys.stderr),
        )
        click.echo(format_summary(summary))
        websub.ping_changes(config, storage, versions_before)
    finally:
        fetcher.close()
        storage.close()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--no-poll", is_flag=True, help="Serve only; leave polling to another process.")
@click.pass_obj
def serve(config_path: str, host: str, port: int, threads: int, no_poll: bool) -> None:
    """Serve the web reader and the merged feeds, and poll feeds in the background.

    Listens on 127.0.0.1 by default: put a reverse proxy with TLS in front to
    expose it. SIGTERM or Ctrl-C stops it cleanly: no new poll starts, polls in
    flight finish, then it exits.
    """
    config = _load(config_path)
    storage = _open(config)
    app = create_app(config, storage=storage)
    scheduler = None if no_poll else PollScheduler(config, storage)
    server = create_server(app, host=host, port=port, threads=threads, ident="aggregator")

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        if scheduler:
            scheduler.start()
        click.echo(f"Serving on http://{host}:{server.effective_port}/  (Ctrl-C to stop)")
        server.run()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Stopping...", err=True)
    finally:
        server.close()
        if scheduler:
            scheduler.shutdown()
        storage.close()


def main() -> None:
    cli(prog_name="aggregator")
