"""Use cases of full text: the article page of an entry fetched, its main text kept,
shown instead of the summary and searched — for the new entries of feeds marked
``full_text: true`` after each update, and for any story on demand."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from aggregator.core._base import AggregatorBase
from aggregator.errors import AggregatorError, FetchCancelledError
from aggregator.types import FullText
from aggregator.update import FULL_TEXT_PER_UPDATE, FeedOutcome, fetch_article_text

log = logging.getLogger("aggregator.core")

FULL_TEXT_WORKERS = 4  # article pages fetched at once after an update


class FullTextUseCases(AggregatorBase):
    def get_full_text(self, entry_id: int) -> FullText | None:
        """An entry's article text as last fetched, or why the fetch failed; None when
        it was never fetched."""
        return self._storage.get_full_text(entry_id)

    def load_full_text(self, story_id: int) -> FullText | None:
        """Fetch the article page of a story's lead report now and keep its main text
        (or why there is none: the summary stays). Returns what is kept now: None when
        there is no such story, or when the service is stopping (fetches cancelled) and
        nothing was kept before. Never raises for the page's fault."""
        story = self._storage.get_reader_story(story_id)
        if story is None:
            return None
        return self._fetch_full_text(story.story.lead.id, story.story.lead.link)

    def fetch_full_texts(
        self,
        feed_ids: Sequence[int],
        *,
        limit: int = FULL_TEXT_PER_UPDATE,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Fetch the articles of up to ``limit`` entries of these feeds never fetched,
        newest first. Returns how many gave text; failures are kept as such."""
        wanted = self._storage.entries_wanting_full_text(feed_ids, limit)
        if not wanted:
            return 0
        stop = should_stop or (lambda: False)

        def fetch(entry_id: int, link: str | None) -> FullText | None:
            return None if stop() else self._fetch_full_text(entry_id, link)

        # A few at once, so one slow site does not hold the next update up for long;
        # no more than polling.per_host, as articles often share their feed's host.
        workers = min(FULL_TEXT_WORKERS, self._config.polling.per_host, len(wanted))
        with ThreadPoolExecutor(workers, thread_name_prefix="full-text") as pool:
            found = list(pool.map(lambda item: fetch(*item), wanted))
        return sum(1 for full_text in found if full_text is not None and full_text.ok)

    def _fetch_full_texts_after(
        self, outcomes: Sequence[FeedOutcome], should_stop: Callable[[], bool] | None
    ) -> None:
        """After an update: the new entries of the feeds marked full_text. Never raises:
        a poll is done and recorded already, whatever happens here."""
        wanted = {feed.url for feed in self._config.feeds if feed.full_text}
        # Every polled feed, not only those with new entries: what a bounded update
        # left over is fetched after the next ones.
        polled = ("ok", "not_modified")
        feed_ids = [o.feed_id for o in outcomes if o.status in polled and o.url in wanted]
        if not feed_ids:
            return
        try:
            fetched = self.fetch_full_texts(feed_ids, should_stop=should_stop)
        except AggregatorError as e:
            log.warning("full text after the poll stopped: %s", e)
            return
        log.info("full text: %d articles fetched", fetched)

    def _fetch_full_text(self, entry_id: int, link: str | None) -> FullText | None:
        try:
            article = fetch_article_text(self._shared_fetcher(), link)
        except FetchCancelledError:  # stopping: nothing is recorded, it is tried again
            return self._storage.get_full_text(entry_id)
        if article.error is not None:
            log.info("full text of entry %d (%s) failed: %s", entry_id, link, article.error)
        now = self.now()
        return self._poll_writer().call(
            lambda direct: direct.storage.store_full_text(
                entry_id, article.html, article.error, now
            )
        )
