"""Use cases of the admin: subscribe by any address (autodiscovery), import a
subscription list, change, pause and remove source feeds, refresh them now, and watch
them (recent fetches, new entries per day).

Every change of the subscriptions is an edit of feeds.yaml (config/_edit.py): planned
first (``plan_*``: validated, with the diff to review), then saved (``save_config_edit``)
and put in force like a hot reload. A plan made with the digest of the file the admin
reviewed is refused (ConfigConflictError) when the file changed on disk since.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from aggregator.config import (
    RESERVED_SLUGS,
    ConfigEdit,
    ConfigEditor,
    ConfigSnapshot,
    format_duration,
    read_snapshot,
    slugify,
    write_edit,
)
from aggregator.core._feeds import FeedsUseCases
from aggregator.errors import AggregatorError, ConfigConflictError, ConfigEditError
from aggregator.fetch import Fetcher, FetchLimits, FetchResult, feed_guesses
from aggregator.parse import find_feed_links, looks_like_html, parse_feed, parse_opml
from aggregator.types import FetchAttempt

log = logging.getLogger("aggregator.core")

ACTIVITY_DAYS = 14
DISCOVERY_WORKERS = 4
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class FeedActivity:
    """A source feed's recent activity, as the feeds page draws it."""

    attempts: tuple[FetchAttempt, ...]  # its kept fetch history, newest first
    new_per_day: tuple[int, ...]  # entries first seen per UTC day, oldest first
    first_day: date  # the day of new_per_day[0]


@dataclass(frozen=True)
class FeedCandidate:
    """A feed autodiscovery found: its URL, what it says it is, where it was found
    ("given": the address itself; "linked": the page's <link rel="alternate">;
    "guessed": a usual address such as /feed), and why it cannot be used (``error``)."""

    url: str
    title: str | None
    item_count: int
    found: str
    link_title: str | None = None
    error: str | None = None
    listed: bool = False  # in feeds.yaml already

    @property
    def usable(self) -> bool:
        return self.error is None and not self.listed


@dataclass(frozen=True)
class Discovery:
    """What an address leads to: the feeds found, best first, and a note for the admin."""

    address: str  # as given
    url: str  # as fetched
    candidates: tuple[FeedCandidate, ...]
    note: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """An OPML import, planned: the edit of feeds.yaml (None when nothing is new) and
    what happened to every subscription of the file."""

    edit: ConfigEdit | None
    added: tuple[tuple[str, str | None], ...]  # (URL, section) written
    new_sections: tuple[str, ...]
    listed_already: tuple[str, ...]  # URLs in feeds.yaml already
    duplicates: tuple[str, ...]  # "line N: URL" listed more than once in the file
    skipped: tuple[str, ...]  # notes: not feeds, not http(s), unusable folders
    warning: str | None = None  # a malformed part of the file read past
    title: str | None = None  # the list's own title


class AdminUseCases(FeedsUseCases):
    # --- feeds.yaml, for editing ---------------------------------------------------------

    def config_snapshot(self, digest: str | None = None) -> ConfigSnapshot:
        """feeds.yaml as it is on disk now. With ``digest`` (of the file an admin
        reviewed), raises ConfigConflictError when the file changed since."""
        snapshot = read_snapshot(self._config.path)
        if digest is not None and snapshot.digest != digest:
            raise ConfigConflictError(self._config.path)
        return snapshot

    def plan_add_feed(
        self, url: str, values: Mapping[str, Any] | None = None, *, digest: str | None = None
    ) -> ConfigEdit:
        """The edit adding a source feed (``values``: title, category, interval,
        priority, labels, paused). Raises ConfigEditError (listed already),
        ConfigErrors (the result would be invalid), ConfigConflictError."""
        editor = ConfigEditor(self.config_snapshot(digest))
        editor.add_feed(url.strip(), _written(values or {}))
        return editor.edit()

    def plan_feed_change(
        self, url: str, values: Mapping[str, Any], *, digest: str | None = None
    ) -> ConfigEdit:
        """The edit changing a source feed's keys (url, title, category, interval,
        priority, labels, paused; a default value removes its key)."""
        editor = ConfigEditor(self.config_snapshot(digest))
        editor.update_feed(url, _written(values))
        return editor.edit()

    def plan_remove_feed(self, url: str, *, digest: str | None = None) -> ConfigEdit:
        """The edit removing a source feed from feeds.yaml (its stories stay)."""
        editor = ConfigEditor(self.config_snapshot(digest))
        editor.remove_feed(url)
        return editor.edit()

    def plan_import(self, data: bytes, *, digest: str | None = None) -> ImportPlan:
        """The edit adding the new feeds of an OPML subscription list, each in the
        section of its folder (sections that do not exist yet are added). Raises
        OpmlError for a file that is no OPML."""
        document = parse_opml(data)
        editor = ConfigEditor(self.config_snapshot(digest))
        adding: list[tuple[str, dict[str, Any]]] = []
        listed, skipped = [], list(document.skipped)
        for feed in document.feeds:
            if not re.match(r"https?://", feed.url, re.IGNORECASE):
                skipped.append(f"line {feed.line}: {feed.url!r} is not an http(s) address")
                continue
            if editor.listed(feed.url) is not None:
                listed.append(feed.url)
                continue
            section = feed.section
            if section is not None and slugify(section) in RESERVED_SLUGS | {""}:
                skipped.append(
                    f"line {feed.line}: folder {section!r} is not used as a section (its name "
                    f"is reserved); {feed.url} is added without one"
                )
                section = None
            values: dict[str, Any] = {"title": feed.title, "category": section}
            if feed.paused:
                values["paused"] = True
            adding.append((feed.url, values))
        new_sections = tuple(
            dict.fromkeys(
                str(v["category"])
                for _, v in adding
                if v["category"] and editor.section_named(str(v["category"])) is None
            )
        )
        if adding:
            editor.add_feeds(adding)
        for item in document.lists:
            skipped.append(f"{item.url} is another subscription list; import it on its own")
        return ImportPlan(
            edit=editor.edit() if adding else None,
            added=tuple((url, values["category"]) for url, values in adding),
            new_sections=new_sections,
            listed_already=tuple(listed),
            duplicates=tuple(f"line {d.line}: {d.url}" for d in document.duplicates),
            skipped=tuple(skipped),
            warning=document.warning,
            title=document.title,
        )

    def save_config_edit(self, edit: ConfigEdit) -> bool:
        """Write an edit to feeds.yaml (atomically, only over the file it was made from)
        and put it in force now, as a hot reload would. Returns whether the new config
        was applied here (False when the watcher of ``serve`` applied it first).
        Raises ConfigConflictError, ConfigEditError."""
        write_edit(edit)
        log.info("%s edited: %s", edit.path, "; ".join(edit.summary) or "no change")
        applied = self.reload_config(refile=self.refile_on_reload)
        self._poll_requested.set()  # new and changed feeds are polled right away
        return applied

    # --- subscribing by any address ------------------------------------------------------

    def discover_feeds(self, address: str) -> Discovery:
        """The feeds an address leads to: the address itself when it is a feed; else
        the feeds its page links (<link rel="alternate">), else those at the usual
        addresses (/feed, /rss, /atom.xml, /feed.json, ...). Fetched like every poll:
        with the SSRF guard and the limits of ``polling``. Raises FetchError when the
        address itself cannot be fetched."""
        url = self._address_url(address)
        fetcher = self._shared_fetcher()
        page = fetcher.fetch(url)
        given = self._candidate(url, page, "given")
        if given.error is None:
            return Discovery(address, url, (given,))
        if page.body is None or not looks_like_html(page.body):
            note = "This address is neither a feed nor a web page."
            return Discovery(address, url, (given,), note=note)
        links = find_feed_links(page.body, page.final_url)
        if links:
            found = self._candidates(
                fetcher, [(link.url, "linked", link.title or None) for link in links]
            )
            return Discovery(address, url, tuple(found))
        guesses = [(guess, "guessed", None) for guess in feed_guesses(page.final_url)]
        found = [c for c in self._candidates(fetcher, guesses) if c.error is None]
        unique = list({c.url: c for c in found}.values())
        nothing: str | None = None
        if not unique:
            tried = ", ".join(url for url, _, _ in guesses)
            nothing = f"The page links no feed, and none of the usual addresses is one ({tried})."
        return Discovery(address, url, tuple(unique), note=nothing)

    def _address_url(self, address: str) -> str:
        """An address as typed ("example.org", a path of a local file) as a URL."""
        text = address.strip()
        if _SCHEME.match(text):
            return text
        local = Path(self._config.path).parent / text
        if text.startswith(("/", ".", "~")) or local.exists():
            return Path(local).expanduser().resolve().as_uri()
        return f"https://{text}"

    def _shared_fetcher(self) -> Fetcher:
        with self._lock:
            if self._fetcher is None:
                self._fetcher = Fetcher(FetchLimits.from_polling(self._config.polling))
            return self._fetcher

    def _candidates(
        self, fetcher: Fetcher, wanted: Sequence[tuple[str, str, str | None]]
    ) -> list[FeedCandidate]:
        def one(item: tuple[str, str, str | None]) -> FeedCandidate:
            url, found, link_title = item
            try:
                result = fetcher.fetch(url)
            except AggregatorError as e:
                return FeedCandidate(url, None, 0, found, link_title, error=e.message)
            return self._candidate(url, result, found, link_title)

        with ThreadPoolExecutor(DISCOVERY_WORKERS, thread_name_prefix="discover") as pool:
            return list(pool.map(one, wanted))

    def _candidate(
        self, url: str, result: FetchResult, found: str, link_title: str | None = None
    ) -> FeedCandidate:
        address = result.permanent_redirect_url or url
        listed = any(feed.url == address or feed.url == url for feed in self._config.feeds)
        try:
            parsed = parse_feed(result.body or b"", url=result.final_url, headers=result.headers)
        except AggregatorError as e:
            return FeedCandidate(address, None, 0, found, link_title, error=e.message)
        return FeedCandidate(
            address, parsed.title, len(parsed.entries), found, link_title, listed=listed
        )

    # --- refreshing ----------------------------------------------------------------------

    def request_refresh(self, feed_ids: Sequence[int] | None = None) -> int:
        """Make source feeds due now (all of them that are polled, by default) and ask
        the poller of this process to run at once. Returns how many were made due."""
        if feed_ids is None:
            feed_ids = [f.id for f in self.get_feeds() if not f.gone and not f.paused]
        count = self._storage.make_feeds_due(list(feed_ids), self.now())
        self._poll_requested.set()
        return count

    def take_poll_request(self) -> bool:
        """Whether a refresh was asked for since the last call (for the poller)."""
        requested = self._poll_requested.is_set()
        self._poll_requested.clear()
        return requested

    # --- watching ------------------------------------------------------------------------

    def feed_activity(self, days: int = ACTIVITY_DAYS) -> dict[int, FeedActivity]:
        """Every stored source feed's recent fetches and new entries per UTC day (the
        last ``days``, today included), by feed id."""
        first_day = self.now().astimezone(UTC).date() - timedelta(days=days - 1)
        since = datetime.combine(first_day, time(0), tzinfo=UTC)
        attempts = self._storage.recent_attempts()
        per_day = self._storage.new_entries_per_day(since)
        day_names = [(first_day + timedelta(days=n)).isoformat() for n in range(days)]
        return {
            feed.id: FeedActivity(
                attempts=tuple(attempts.get(feed.id, ())),
                new_per_day=tuple(per_day.get(feed.id, {}).get(day, 0) for day in day_names),
                first_day=first_day,
            )
            for feed in self.get_feeds(active_only=False)
        }

    def feed_counts(self) -> tuple[int, int]:
        """(source feeds polled, those failing): for the admin's banner."""
        return self._storage.feed_counts()


def _written(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as feeds.yaml writes them: intervals as durations ("1h")."""
    written: dict[str, Any] = dict(values)
    interval = written.get("interval")
    if isinstance(interval, int) and not isinstance(interval, bool):
        written["interval"] = format_duration(interval)
    for key in ("title", "category"):
        if isinstance(written.get(key), str):
            written[key] = " ".join(str(written[key]).split()) or None
    return written


__all__ = [
    "AdminUseCases",
    "ConfigEditError",
    "Discovery",
    "FeedActivity",
    "FeedCandidate",
    "ImportPlan",
]
