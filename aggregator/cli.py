"""The ``aggregator`` command. Parses arguments, calls one function, prints."""

from __future__ import annotations

import signal
import sys
from datetime import datetime
from typing import TextIO

import click
from waitress import create_server

from aggregator import FeedOutcome, PollSummary, __version__
from aggregator.config import Config, default_config_path, load_config
from aggregator.core import Aggregator
from aggregator.errors import ConfigErrors, StorageError
from aggregator.logs import configure_logging
from aggregator.types import FeedHealth
from aggregator.update.jobs import BackgroundJobs
from aggregator.web import create_app

STATUS_LABELS = {"ok": "ok", "not_modified": "not modified", "failed": "FAILED"}


def _load(config_path: str) -> Config:
    try:
        return load_config(config_path)
    except ConfigErrors as e:
        for error in e.errors:
            click.echo(str(error), err=True)
        sys.exit(1)


def _open(config: Config) -> Aggregator:
    try:
        return Aggregator.open(config)
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
    click.echo(f"{config.path}: OK ({len(config.feeds)} feeds, {len(config.sections)} sections)")
    for note in _database_notes(config):
        click.echo(note)


def _database_notes(config: Config) -> list[str]:
    """Suggestions from what polling found: moved and gone feeds to fix in feeds.yaml."""
    aggregator = Aggregator.open_existing(config)
    if aggregator is None:
        return []
    with aggregator:
        return aggregator.config_notes()


@cli.command()
@click.pass_obj
def feeds(config_path: str) -> None:
    """List the feeds with their status, last fetch, next check and last error."""
    with _open(_load(config_path)) as aggregator:
        for line in format_feeds(aggregator.feed_health(), aggregator.now()):
            click.echo(line)


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


def format_feeds(health: list[FeedHealth], now: datetime) -> list[str]:
    """The table printed by `aggregator feeds`: the source feeds in feeds.yaml, those
    needing attention first (in Aggregator.feed_health's order)."""
    rows = [item for item in health if item.feed.active]
    lines = [f"{'STATUS':<8} {'FEED':<40} {'LAST FETCH':<11} {'NEXT CHECK':<11} DETAIL"]
    for item in rows:
        feed = item.feed
        next_check = "stopped" if feed.gone else _ago(feed.next_check_at, now)
        if feed.last_error:
            detail = f"{feed.last_error} ({feed.error_count}x)"
        elif feed.fetch_url or feed.permanent_redirect_url:
            detail = f"moved to {feed.fetch_url or feed.permanent_redirect_url}"
        else:
            detail = f"HTTP {feed.last_status}" if feed.last_status else ""
        lines.append(
            f"{item.status.code:<8} {feed.title[:40]:<40} {_ago(feed.last_fetched_at, now):<11} "
            f"{next_check:<11} {detail}".rstrip()
        )
    attention = sum(1 for item in rows if item.status.needs_attention)
    lines.append(f"{len(rows)} feeds, {attention} need attention.")
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
    with _open(_load(config_path)) as aggregator:
        feeds = aggregator.feeds_to_update(scheduled=not poll_all)
        if not feeds:
            click.echo("No feed is due. Use --all to poll every feed now.")
            return
        summary = aggregator.update_feeds(
            feeds=feeds, workers=workers, on_outcome=_Progress(len(feeds), sys.stderr)
        )
        click.echo(format_summary(summary))
        aggregator.prune()


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
    aggregator = _open(_load(config_path))
    app = create_app(aggregator)
    jobs = BackgroundJobs(aggregator, polling=not no_poll)
    server = create_server(app, host=host, port=port, threads=threads, ident="aggregator")

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        jobs.start()
        click.echo(f"Serving on http://{host}:{server.effective_port}/  (Ctrl-C to stop)")
        server.run()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Stopping...", err=True)
    finally:
        server.close()
        jobs.shutdown()
        aggregator.close()


def main() -> None:
    cli(prog_name="aggregator")
