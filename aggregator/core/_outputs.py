"""Use cases of the outputs (the merged feeds): which exist, a page of one, OPML."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator.core._base import AggregatorBase
from aggregator.publish import (
    BuiltPage,
    Output,
    build_page,
    decode_page_token,
    output_url,
    outputs_of,
    render_opml,
    render_outputs_opml,
)

# Section versions: section key -> (version, changed_at), as the merged feeds read them.
Versions = dict[str, tuple[int, datetime]]
# (story id, story stamp, rendered entry), as a page's new renderings are saved.
Rendered = tuple[int, str, bytes]


class OutputsUseCases(AggregatorBase):
    def outputs(self) -> dict[str, Output]:
        """Every merged feed of the config by name: "all", each section, each custom
        output (computed once per config)."""
        config = self._config
        kept = self._outputs
        if kept is None or kept[0] is not config:
            kept = self._outputs = (config, outputs_of(config))
        return kept[1]

    def output_versions(self, keys: tuple[str, ...]) -> Versions:
        """The section versions an output depends on (see Output.version_keys): they
        change whenever a poll changes what the output shows."""
        return self._storage.section_versions(keys)

    def render_output(
        self,
        name: str,
        fmt: str,
        *,
        before: str | None = None,
        renderings: Any = None,
        save: bool = True,
        key: str | None = None,
    ) -> BuiltPage:
        """One page of a merged feed in a format ("atom", "rss" or "json"): the newest,
        or the one a ``before`` page token names. Entries are rendered once per change
        of their story and stored (``save``; else the caller saves ``new_renderings``
        with ``save_renderings``); ``renderings`` is an optional in-memory map of them
        shared between calls; ``key`` (a private output's feed key) is kept in the
        page's own links. Raises KeyError for an unknown output and
        InvalidCursorError for a page token we did not make."""
        output = self.outputs()[name]
        cursor = decode_page_token(before) if before else None
        return build_page(
            self._storage,
            self._config,
            output,
            fmt,
            token=before,
            cursor=cursor,
            labels=self._config.section_names(),
            renderings=renderings,
            save=save,
            key=key,
        )

    def output_url(self, name: str, fmt: str, *, key: str | None = None) -> str:
        """The absolute URL of an output's newest page in a format (from site.base_url),
        with a private output's feed ``key`` when given."""
        return output_url(self._config.site, name, fmt, key=key)

    def save_renderings(self, fmt: str, context: str, rendered: Sequence[Rendered]) -> None:
        """Store renderings a page made (``BuiltPage.new_renderings``). Best effort:
        gives up quickly when the database is busy."""
        self._storage.save_renderings(fmt, context, rendered)

    def render_opml(self) -> bytes:
        """The subscription list (OPML 2.0): every source feed, grouped by section."""
        return render_opml(self._config, self._storage.list_feeds(active_only=True))

    def render_outputs_opml(self) -> bytes:
        """The merged feeds (every output) as OPML 2.0, to subscribe to all at once."""
        return render_outputs_opml(self._config, self.outputs().values())
