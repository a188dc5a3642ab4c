"""The ``aggregator`` command. Parses arguments, calls one function, prints."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

import click

from aggregator import __version__
from aggregator.config import Config, ConfigEdit, default_config_path, load_config
from aggregator.errors import (
    AccountError,
    AggregatorError,
    ConfigConflictError,
    ConfigEditError,
    ConfigErrors,
    FetchError,
    OpmlError,
    StorageError,
)
from aggregator.logs import configure_logging

if TYPE_CHECKING:
    # Imported where used: `check` and `--help` start without the poller, the web app
    # and the HTTP stack (the core and the web app import them all).
    from aggregator import FeedOutcome, PollSummary
    from aggregator.core import Aggregator, Discovery, FeedCandidate, ImportPlan
    from aggregator.types import FeedHealth

STATUS_LABELS = {
    "ok": "ok",
    "not_modified": "not modified",
    "failed": "FAILED",
    "cancelled": "cut short",
}


def _load(config_path: str) -> Config:
    try:
        return load_config(config_path)
    except ConfigErrors as e:
        for error in e.errors:
            click.echo(str(error), err=True)
        sys.exit(1)


def _open(config: Config) -> Aggregator:
    try:
        from aggregator.core import Aggregator

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
    if ctx.invoked_subcommand == "serve":
        verbose = max(verbose, 1)  # a service's log says what it does (INFO)
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
    from aggregator.core import Aggregator

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
        next_check = "stopped" if feed.gone or feed.paused else _ago(feed.next_check_at, now)
        if feed.is_local_file and not feed.gone and not feed.paused:
            next_check = "on change"  # looked at every tick (modification time)
        if feed.last_error:
            detail = f"{feed.last_error} ({feed.error_count}x)"
        elif feed.fetch_url or feed.permanent_redirect_url:
            detail = f"moved to {feed.fetch_url or feed.permanent_redirect_url}"
        elif feed.is_local_file:
            detail = "local file" if feed.last_fetched_at else ""
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
        aggregator.refresh_icons()  # after the poll, and never failing it


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--no-poll", is_flag=True, help="Serve only; leave polling to another process.")
@click.pass_obj
def serve(config_path: str, host: str, port: int, threads: int, no_poll: bool) -> None:
    """Serve the web reader and the merged feeds, and poll feeds in the background.

    Listens on 127.0.0.1 by default: put a reverse proxy with TLS in front to
    expose it. Until a user exists it serves this machine only, and refuses to listen
    on another address. SIGTERM or Ctrl-C stops it within seconds: no new poll starts,
    fetches in flight are abandoned (their feeds stay due), writes in progress finish.
    """
    from waitress import create_server

    from aggregator.update.jobs import BackgroundJobs
    from aggregator.web import create_app

    aggregator = _open(_load(config_path))
    accounts = aggregator.has_users()
    if not accounts and not is_loopback(host):
        aggregator.close()
        click.echo(
            f"aggregator serve: there is no user yet, so it serves only on 127.0.0.1; create "
            f"the first admin with `aggregator --config {config_path} user add NAME --admin`, "
            f"then serve on {host}",
            err=True,
        )
        sys.exit(1)
    app = create_app(aggregator)
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="aggregator")
    except OSError as e:
        aggregator.close()
        click.echo(f"aggregator serve: {_listen_problem(host, port, e)}", err=True)
        sys.exit(1)
    jobs = BackgroundJobs(aggregator, polling=not no_poll)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        jobs.start()
        click.echo(f"Serving on http://{host}:{server.effective_port}/  (Ctrl-C to stop)")
        if not accounts:
            click.echo(
                "No user yet: only this machine is served, and everyone on it shares one "
                f"read state. Create the first admin with: aggregator --config {config_path} "
                "user add NAME --admin"
            )
        server.run()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Stopping...", err=True)
    finally:
        server.close()
        jobs.shutdown()
        aggregator.close()


def _listen_problem(host: str, port: int, error: OSError) -> str:
    """One line saying why serve cannot listen, and what to try."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        free = _free_port(host, port)
        hint = f"; try --port {free}" if free else "; try another --port"
        return f"{where} is in use{hint}"
    if error.errno == errno.EACCES:
        return (
            f"not allowed to listen on {where} (ports below 1024 need privileges); try --port 8000"
        )
    if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        return f"cannot listen on {where}: {host} is not an address of this machine"
    return f"cannot listen on {where}: {error.strerror or error}"


def _free_port(host: str, busy: int) -> int | None:
    """The first port after ``busy`` that can be listened on, if one of the next 20 can."""
    for candidate in range(busy + 1, min(busy + 21, 65536)):
        try:
            with socket.create_server((host, candidate)):
                return candidate
        except OSError:
            continue
    return None


# --- subscribing ---------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _describe(number: int, candidate: FeedCandidate) -> str:
    title = candidate.title or candidate.link_title or "(untitled)"
    if candidate.error:
        return f"  {number}. {candidate.url}: {candidate.error}"
    items = f"{candidate.item_count} item{'' if candidate.item_count == 1 else 's'}"
    listed = "  (in feeds.yaml already)" if candidate.listed else ""
    return f"  {number}. {title} - {items} - {candidate.url}{listed}"


_FOUND = {"given": "The address is a feed", "linked": "The page links", "guessed": "Found"}


def _choose(discovery: Discovery, pick: int | None) -> FeedCandidate:
    """The candidate to add: --pick, else asked on a terminal, else the first usable."""
    candidates = list(discovery.candidates)
    if not candidates:
        _fail(f"aggregator add: no feed found at {discovery.url}. {discovery.note or ''}".strip())
    kind = _FOUND.get(candidates[0].found, "Found")
    count = f"{len(candidates)} feed{'' if len(candidates) == 1 else 's'}"
    click.echo(f"{kind}: {count}" if kind != _FOUND["given"] else f"{kind}:")
    for number, candidate in enumerate(candidates, 1):
        click.echo(_describe(number, candidate))
    usable = [number for number, c in enumerate(candidates, 1) if c.usable]
    if pick is not None:
        if pick > len(candidates):
            _fail(f"aggregator add: --pick {pick}: only {len(candidates)} found")
        chosen = candidates[pick - 1]
    elif not usable:
        chosen = candidates[0]
    elif len(usable) > 1 and sys.stdin.isatty():
        answer = click.prompt(
            "Add which one?", type=click.Choice([str(n) for n in usable]), default=str(usable[0])
        )
        chosen = candidates[int(answer) - 1]
    else:
        chosen = candidates[usable[0] - 1]
        if len(usable) > 1:
            click.echo(f"Adding number {usable[0]} (--pick N adds another).")
    if chosen.listed:
        _fail(f"aggregator add: {chosen.url} is in feeds.yaml already")
    if chosen.error:
        _fail(f"aggregator add: {chosen.url} is not a feed: {chosen.error}")
    return chosen


def _save(aggregator: Aggregator, edit: ConfigEdit, dry_run: bool) -> None:
    click.echo(edit.diff(), nl=False)
    if dry_run:
        click.echo("Not written (--dry-run).")
        return
    try:
        aggregator.save_config_edit(edit)
    except (ConfigConflictError, ConfigEditError) as e:
        _fail(f"aggregator: {e}")
    click.echo(
        f"Saved {edit.path}. A running `aggregator serve` applies it within seconds; "
        "`aggregator poll` fetches new feeds now."
    )


@cli.command()
@click.argument("address")
@click.option(
    "--category",
    "section",
    help="The section for its items: a category of feeds.yaml (a new name adds one).",
)
@click.option("--title", help="The title to show instead of the feed's own.")
@click.option("--pick", type=click.IntRange(1), help="Which of several feeds found to add.")
@click.option("--dry-run", is_flag=True, help="Show the change of feeds.yaml; write nothing.")
@click.pass_obj
def add(
    config_path: str,
    address: str,
    section: str | None,
    title: str | None,
    pick: int | None,
    dry_run: bool,
) -> None:
    """Subscribe to a feed by its address or its site's: a page's linked feeds (or the
    usual /feed, /rss, ... addresses) are found, and the chosen one is written to
    feeds.yaml, keeping its comments and order."""
    with _open(_load(config_path)) as aggregator:
        try:
            discovery = aggregator.discover_feeds(address)
        except FetchError as e:
            _fail(f"aggregator add: cannot fetch {address}: {e.message}")
        chosen = _choose(discovery, pick)
        values = {"title": title, "category": section}
        try:
            edit = aggregator.plan_add_feed(chosen.url, values)
        except ConfigErrors as e:
            _fail("aggregator add: the change would make feeds.yaml invalid:\n" + str(e))
        except AggregatorError as e:
            _fail(f"aggregator add: {e}")
        _save(aggregator, edit, dry_run)


def format_import(plan: ImportPlan) -> list[str]:
    """What an import adds and leaves out, as `aggregator import` prints it."""
    lines = []
    if plan.warning:
        lines.append(f"warning: {plan.warning}")
    if plan.added:
        sections = f"; new sections: {', '.join(plan.new_sections)}" if plan.new_sections else ""
        lines.append(f"Adding {len(plan.added)} feeds{sections}:")
        lines += [
            f"  + {url}" + (f"  ({section})" if section else "") for url, section in plan.added
        ]
    if plan.listed_already:
        lines.append(f"In feeds.yaml already ({len(plan.listed_already)}):")
        lines += [f"  = {url}" for url in plan.listed_already]
    if plan.duplicates:
        lines.append(f"Listed more than once in the file, added once ({len(plan.duplicates)}):")
        lines += [f"  ~ {duplicate}" for duplicate in plan.duplicates]
    if plan.skipped:
        lines.append(f"Not imported ({len(plan.skipped)}):")
        lines += [f"  - {note}" for note in plan.skipped]
    if not plan.added:
        lines.append("Nothing new to add.")
    return lines


@cli.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the change of feeds.yaml; write nothing.")
@click.pass_obj
def import_opml(config_path: str, opml_file: Path, dry_run: bool) -> None:
    """Subscribe to the feeds of an OPML file exported by another reader: folders
    become sections, feeds already in feeds.yaml or listed twice are skipped."""
    with _open(_load(config_path)) as aggregator:
        try:
            plan = aggregator.plan_import(opml_file.read_bytes())
        except OpmlError as e:
            _fail(f"{opml_file}: {e}")
        except ConfigErrors as e:
            _fail("aggregator import: the change would make feeds.yaml invalid:\n" + str(e))
        except AggregatorError as e:
            _fail(f"aggregator import: {e}")
        for line in format_import(plan):
            click.echo(line)
        if plan.edit is not None:
            _save(aggregator, plan.edit, dry_run)


def is_loopback(host: str) -> bool:
    """Whether a listening address is this machine only (127.0.0.1, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- accounts ------------------------------------------------------------------------------


def _password(password_file: TextIO | None, prompt: str = "Password") -> str:
    """The password on the first line of a file ("-": standard input), else typed twice."""
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("the password file is empty")
        return password
    value = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    assert isinstance(value, str)
    return value


def _account_error(error: AccountError) -> NoReturn:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(1)


@cli.group()
def user() -> None:
    """Accounts: add users, list them, change passwords, remove them, make app passwords.

    The first user is always an admin and keeps the read state the server had before
    accounts; every later user starts with all stories unread. Names are lower-case.
    """


PASSWORD_FILE = click.option(
    "--password-file",
    type=click.File("r"),
    help="Read the password from the first line of this file ('-': standard input) "
    "instead of asking for it twice.",
)


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="An admin (users, feeds-admin pages), not a reader.")
@PASSWORD_FILE
@click.pass_obj
def user_add(config_path: str, name: str, admin: bool, password_file: TextIO | None) -> None:
    """Add a user NAME (a reader unless --admin; the first user is always an admin)."""
    with _open(_load(config_path)) as aggregator:
        first = not aggregator.has_users()
        try:
            added = aggregator.add_user(name, _password(password_file), admin=admin)
        except AccountError as e:
            _account_error(e)
        click.echo(f"Added {added.role} {added.name}.")
        if first:
            click.echo("As the first user, they keep the read and starred state of before.")


@user.command("list")
@click.pass_obj
def user_list(config_path: str) -> None:
    """List the users: name, role, since when, app passwords."""
    with _open(_load(config_path)) as aggregator:
        users = aggregator.list_users()
        if not users:
            click.echo("No users yet. Add the first admin with: aggregator user add NAME --admin")
            return
        click.echo(f"{'NAME':<24} {'ROLE':<7} {'SINCE':<17} APP PASSWORDS")
        for account in users:
            since = account.created_at.strftime("%Y-%m-%d %H:%M")
            apps = len(aggregator.app_passwords(account.id))
            click.echo(f"{account.name:<24} {account.role:<7} {since:<17} {apps}")


@user.command("passwd")
@click.argument("name")
@PASSWORD_FILE
@click.pass_obj
def user_passwd(config_path: str, name: str, password_file: TextIO | None) -> None:
    """Set a new password for NAME (their sessions are signed out)."""
    with _open(_load(config_path)) as aggregator:
        try:
            account = aggregator.user_named(name)
            aggregator.change_password(account.id, _password(password_file, "New password"))
        except AccountError as e:
            _account_error(e)
        click.echo(f"Password of {account.name} changed.")


@user.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def user_remove(config_path: str, name: str, yes: bool) -> None:
    """Remove NAME with their read state and app passwords."""
    with _open(_load(config_path)) as aggregator:
        try:
            account = aggregator.user_named(name)
            if not yes:
                click.confirm(f"Remove {account.name} and their read state?", abort=True)
            aggregator.remove_user(account.id)
        except AccountError as e:
            _account_error(e)
        click.echo(f"Removed {account.name}.")


@user.command("token")
@click.argument("name")
@click.option("--label", default="app", show_default=True, help="What the password is for.")
@click.pass_obj
def user_token(config_path: str, name: str, label: str) -> None:
    """Make an app password for NAME, for the sync APIs (shown once)."""
    with _open(_load(config_path)) as aggregator:
        try:
            account = aggregator.user_named(name)
            made = aggregator.create_app_password(account.id, label)
        except AccountError as e:
            _account_error(e)
        base = aggregator.config.site.base_url
        click.echo(made.secret)
        click.echo(
            f"App password {made.app_password.label!r} for {account.name} (shown once). "
            f"Google Reader API: {base}/api/greader; Fever API: {base}/api/fever; "
            f"user name: {account.name}.",
            err=True,
        )


def main() -> None:
    cli(prog_name="aggregator")
