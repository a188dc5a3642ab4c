"""The ``aggregator`` command. Parses arguments, calls one function, prints."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from typing import TextIO

import click
from waitress import create_server

from aggregator import __version__, feed_pages, websub
from aggregator.config import database_url, default_config_path, load_config
from aggregator.errors import ConfigErrors, StorageError
from aggregator.feed_health import feed_status
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.logs import configure_logging
from aggregator.models import Config, FeedState
from aggregator.poll import PollSummary, feeds_to_poll, poll_feeds
from aggregator.scheduler import PollScheduler
from aggregator.storage import Storage, open_storage
from aggregator.update import FeedOutcome, Updater, prune_expired
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
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="AGGREGATOR_LOG_FORMAT",
    show_default=True,
    help="json: one object per line, with feed_url on records about a feed.",
)
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def cli(ctx: click.Context, config_path: str, verbose: int, log_format: str) -> None:
    """A self-hosted feed aggregator: polls the feeds in feeds.yaml, deduplicates and
    categorizes their items, and serves them. The database is SQLite next to the
    config unless storage.url or $AGGREGATOR_DATABASE_URL says otherwise."""
    configure_logging(verbose, json_lines=log_format == "json")
    ctx.obj = config_path


@cli.command()
@click.pass_obj
def check(config_path: str) -> None:
    """Validate the config; print file:line: message for each problem and exit 1."""
    config = _load(config_path)
    click.echo(
        f"{config.path}: OK ({len(config.feeds)} feeds, {len(config.categories)} categories)"
    )
    for note in _database_notes(config):
        click.echo(note)


def _existing_storage(config: Config) -> Storage | None:
    """The database, if it already exists (check never creates one)."""
    url = database_url(config)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1].split("?", 1)[0]
        if not path or not os.path.exists(path):
            return None
    try:
        return open_storage(url)
    except StorageError:
        return None


def _database_notes(config: Config) -> list[str]:
    """Suggestions from what polling found: moved and gone feeds to fix in feeds.yaml."""
    storage = _existing_storage(config)
    if storage is None:
        return []
    try:
        stored = {feed.url: feed for feed in storage.list_feeds(active_only=True)}
    finally:
        storage.close()
    notes = []
    for feed in config.feeds:
        state = stored.get(feed.url)
        if state is None:
            continue
        where = f"{config.path}:{feed.line}" if feed.line else config.path
        if state.fetch_url:
            notes.append(
                f"{where}: note: {feed.url} moved permanently to {state.fetch_url} "
                "(seen 3 times in a row, now fetched there); update the URL"
            )
        elif state.permanent_redirect_url:
            notes.append(
                f"{where}: note: {feed.url} redirects permanently to "
                f"{state.permanent_redirect_url} (seen {state.redirect_count} times)"
            )
        if state.gone:
            notes.append(f"{where}: note: {feed.url} is gone (HTTP 410); remove it")
    return notes


@cli.command()
@click.pass_obj
def feeds(config_path: str) -> None:
    """List the feeds with their status, last fetch, next check and last error."""
    config = _load(config_path)
    storage = _open(config)
    try:
        storage.sync_feeds(config.feeds, datetime.now(UTC))
        for line in format_feeds(storage.list_feeds(active_only=True), config, datetime.now(UTC)):
            click.echo(line)
    finally:
        storage.close()


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{seconds // size}{unit}"
            break
    else:
        text = f"{seconds}s"
    return f"in {text}" if future else f"{text} ago"


def format_feeds(feeds: list[FeedState], config: Config, now: datetime) -> list[str]:
    """The table printed by `aggregator feeds`: feeds needing attention first."""
    threshold = config.polling.error_threshold
    rows = sorted(
        ((feed_status(feed, threshold), feed) for feed in feeds),
        key=lambda row: (row[0].rank, row[1].title.lower()),
    )
    lines = [f"{'STATUS':<8} {'FEED':<40} {'LAST FETCH':<11} {'NEXT CHECK':<11} DETAIL"]
    for status, feed in rows:
        next_check = "stopped" if feed.gone else _ago(feed.next_check_at, now)
        if feed.last_error:
            detail = f"{feed.last_error} ({feed.error_count}x)"
        elif feed.fetch_url or feed.permanent_redirect_url:
            detail = f"moved to {feed.fetch_url or feed.permanent_redirect_url}"
        else:
            detail = f"HTTP {feed.last_status}" if feed.last_status else ""
        lines.append(
            f"{status.code:<8} {feed.title[:40]:<40} {_ago(feed.last_fetched_at, now):<11} "
            f"{next_check:<11} {detail}".rstrip()
        )
    attention = sum(1 for status, _feed in rows if status.needs_attention)
    lines.append(f"{len(feeds)} feeds, {attention} need attention.")
    return lines


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
        versions_before = feed_pages.versions_snapshot(storage, config)
        summary = poll_feeds(
            feeds,
            updater,
            workers=workers or config.polling.workers,
            per_host=config.polling.per_host,
            host_spacing=config.polling.host_spacing_seconds,
            on_outcome=_Progress(len(feeds), sys.stderr),
        )
        click.echo(format_summary(summary))
        feed_pages.prerender_changed(storage, config, versions_before)
        websub.ping_changes(config, storage, versions_before)
        prune_expired(config, storage, datetime.now(UTC))
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
    app_state = app.extensions["aggregator"]

    def on_config(new_config: Config, error: str | None) -> None:
        app_state.config = new_config
        app_state.config_error = error

    scheduler = PollScheduler(config, storage, polling=not no_poll, on_config=on_config)
    server = create_server(app, host=host, port=port, threads=threads, ident="aggregator")

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        scheduler.start()
        click.echo(f"Serving on http://{host}:{server.effective_port}/  (Ctrl-C to stop)")
        server.run()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Stopping...", err=True)
    finally:
        server.close()
        scheduler.shutdown()
        storage.close()


def main() -> None:
    cli(prog_name="aggregator")
