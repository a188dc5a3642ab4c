"""Small inline SVG charts of a source feed, drawn on the server: its recent fetches
and its new entries per day. No chart library and no script in the page; the colours
come from the stylesheet (classes), so the Content-Security-Policy stays as it is."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

from markupsafe import Markup

from aggregator.types import FetchAttempt

MARK_WIDTH = 5
MARK_GAP = 1
DAY_WIDTH = 6
HEIGHT = 24
MIN_MARK = 3  # the shortest mark: a fetch is always visible
STRIP_FETCHES = 20
_OUTCOME_WORDS = {"ok": "OK", "not_modified": "not modified", "failed": "failed"}


def fetch_strip(attempts: Sequence[FetchAttempt], *, local_file: bool = False) -> Markup:
    """One mark per fetch, oldest to newest from left to right, coloured by outcome
    (ok, not modified, failed) and as tall as the fetch was long (log scale)."""
    shown = list(reversed(attempts[:STRIP_FETCHES]))
    width = STRIP_FETCHES * (MARK_WIDTH + MARK_GAP)
    longest = max((a.duration_ms or 0 for a in shown), default=0)
    marks = []
    for index, attempt in enumerate(shown):
        height = _scaled(attempt.duration_ms or 0, longest)
        x = width - (len(shown) - index) * (MARK_WIDTH + MARK_GAP)
        outcome = attempt.outcome if attempt.outcome in _OUTCOME_WORDS else "failed"
        status = ""
        if attempt.http_status and not local_file:
            status = f", HTTP {attempt.http_status}"
        duration = f", {attempt.duration_ms} ms" if attempt.duration_ms is not None else ""
        error = f": {attempt.error}" if attempt.error else ""
        when = attempt.attempted_at.strftime("%Y-%m-%d %H:%M UTC")
        label = f"{when}: {_OUTCOME_WORDS[outcome]}{duration}{status}{error}"
        marks.append(
            Markup(
                '<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}">'
                "<title>{label}</title></rect>"
            ).format(
                cls=outcome.replace("_", "-"),
                x=x,
                y=HEIGHT - height,
                w=MARK_WIDTH,
                h=height,
                label=label,
            )
        )
    counts = {
        word: sum(1 for a in shown if a.outcome == key) for key, word in _OUTCOME_WORDS.items()
    }
    summary = ", ".join(f"{count} {word}" for word, count in counts.items() if count)
    label = f"Last {len(shown)} fetches: {summary}" if shown else "Not fetched yet"
    return _svg("fetches", width, label, marks)


def new_per_day_strip(counts: Sequence[int], first_day: date) -> Markup:
    """One bar per day (oldest first), as tall as the day's new entries."""
    width = len(counts) * DAY_WIDTH
    most = max(counts, default=0)
    bars = []
    for index, count in enumerate(counts):
        day = first_day + timedelta(days=index)
        height = max(1, round(HEIGHT * count / most)) if count else 1
        bars.append(
            Markup(
                '<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}">'
                "<title>{label}</title></rect>"
            ).format(
                cls="new" if count else "none",
                x=index * DAY_WIDTH,
                y=HEIGHT - height,
                w=DAY_WIDTH - 1,
                h=height,
                label=f"{day.strftime('%a %d %b')}: {count} new",
            )
        )
    total = sum(counts)
    label = f"New entries per day, last {len(counts)} days: {total} in all"
    return _svg("per-day", width, label, bars)


def _scaled(duration_ms: int, longest: int) -> int:
    if longest <= 0:
        return MIN_MARK
    share = math.log1p(duration_ms) / math.log1p(longest)
    return max(MIN_MARK, round(MIN_MARK + (HEIGHT - MIN_MARK) * share))


def _svg(kind: str, width: int, label: str, shapes: list[Markup]) -> Markup:
    return Markup(
        '<svg class="strip {kind}" role="img" aria-label="{label}" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">'
        '<title>{label}</title><line class="base" x1="0" y1="{h}" x2="{w}" y2="{h}"/>'
        "{shapes}</svg>"
    ).format(kind=kind, label=label, w=width, h=HEIGHT, shapes=Markup("").join(shapes))
