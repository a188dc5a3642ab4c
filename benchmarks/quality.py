"""How well are entries grouped into stories and filed into sections? Measured on labeled data.

A labeled newsroom (``../shared/fixtures/newsroom-dev.json`` by default, and any file
given on the command line in the same format, e.g. tests/data/newsroom/*.json) goes
through the real pipeline: each outlet's items are written as a feed in the outlet's
own format (RSS 2.0, Atom, RSS 1.0, JSON Feed: tests/newsroom.py), an Aggregator on a
fresh SQLite database polls them, and the stories and sections it stored are compared
with the labels (``--pure`` feeds the pure story and section code instead, which is
quicker for tuning):

- story pairs: pairwise precision and recall of "these two reports are one story";
- exact copies shown twice: reports whose canonical URL or verbatim text another
  report of the story shares, not in that report's story;
- differently worded reports shown separately: of the reports that have a
  differently worded sibling, those outside their true story's biggest cluster
  (one per wording, so "n of n" means nothing was merged by wording);
- near-miss pairs merged: labeled look-alike stories that share a cluster;
- stories in their true section, and wrong-section appearances per story (a story
  appears in every section any of its reports is filed in).

Two arrival orders: ``poll`` (each outlet's feed in turn, first versions, then a
second poll with the updates, as tests/test_newsroom.py serves them) and ``time``
(every item when it is published, as steady polling sees it).

Then the cost of one more entry when 10,000 and 100,000 entries are stored (synthetic
filler spread over 90 days, so a 72 h window holds a thirtieth of them).

The metrics take plain mappings ({report key -> cluster id}, {report key -> section
slugs}) so they can be pointed at the real pipeline's stories read back from a
database instead of this simulation (see ``measure``).

    python benchmarks/quality.py [FILE.json ...] [--pure] [--no-scale]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from aggregator.config import Config, FeedConfig, PollingConfig, SectionConfig, slugify
from aggregator.core import Aggregator
from aggregator.process import (
    canonical_url,
    html_to_text,
    normalise_words,
    sanitize_html,
    story_keys,
)
from aggregator.process._sections import (
    FeedLabels,
    ReportEvidence,
    SectionRules,
    file_story,
)
from aggregator.process._stories import Report, StoryIndex, StorySettings
from aggregator.storage import schema
from aggregator.types import EntryData
from tests.newsroom import Variant, render

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILES = (
    REPO.parent / "shared" / "fixtures" / "newsroom-dev.json",
    REPO / "tests" / "data" / "newsroom" / "newsroom-alt.json",
    REPO / "tests" / "data" / "newsroom" / "newsroom-mini.json",
    # Written apart from the rules and never tuned on: how well they generalise.
    REPO / "tests" / "data" / "newsroom" / "newsroom-holdout.json",
)
Scenario = dict[str, Any]


# -- the labeled data ---------------------------------------------------------------


def load_scenario(path: Path) -> Scenario:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def report_key(variant: Mapping[str, Any]) -> str:
    """One report per (outlet, guid): an updated item is the same report."""
    return f"{variant['outlet']}|{variant['guid']}"


def true_stories(scenario: Scenario) -> dict[str, str]:
    """{report key -> story id} of the labels."""
    return {report_key(v): s["id"] for s in scenario["stories"] for v in s["variants"]}


def true_sections(scenario: Scenario) -> dict[str, str]:
    """{story id -> section slug} of the labels."""
    return {s["id"]: slugify(s["category"]) for s in scenario["stories"]}


def _published(variant: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(variant["published"].replace("Z", "+00:00"))


def arrivals(scenario: Scenario, order: str) -> list[dict[str, Any]]:
    """The scenario's items in the order a poller would see them (see the module doc)."""
    variants = [v for s in scenario["stories"] for v in s["variants"]]
    if order == "time":
        return sorted(variants, key=_published)
    firsts = [v for v in variants if not v.get("update")]
    updates = [v for v in variants if v.get("update")]
    outlets = [o["id"] for o in scenario["outlets"]]
    by_outlet = sorted(firsts, key=lambda v: (outlets.index(v["outlet"]), _published(v)))
    return by_outlet + sorted(updates, key=_published)


@dataclass(frozen=True)
class Processed:
    """One item as the pipeline has it after sanitizing."""

    key: str
    outlet: str
    title: str
    summary_text: str
    body_text: str
    tags: tuple[str, ...]
    published: datetime
    exact_keys: tuple[str, ...]


def process(variant: Mapping[str, Any]) -> Processed:
    """The text the pipeline stores: sanitized summary and content as plain text."""
    url = variant["url"]
    summary_html = sanitize_html(variant.get("summary") or "", base_url=url)
    content_html = sanitize_html(variant["content_html"], base_url=url)
    summary_text = html_to_text(summary_html)
    content_text = html_to_text(content_html)
    entry = EntryData(
        guid=variant["guid"],
        link=url,
        title=variant["title"],
        summary_html=variant.get("summary") or "",
        content_html=variant["content_html"],
    )
    body = content_text if summary_text and summary_text[:60] in content_text else None
    return Processed(
        key=report_key(variant),
        outlet=variant["outlet"],
        title=variant["title"],
        summary_text=summary_text,
        body_text=body or f"{summary_text}\n{content_text}".strip(),
        tags=tuple(variant.get("tags") or ()),
        published=_published(variant),
        exact_keys=story_keys(entry),
    )


# -- the simulation: the pure code fed in arrival order ------------------------------


def cluster(
    scenario: Scenario, order: str, settings: StorySettings | None = None
) -> dict[str, int]:
    """{report key -> story id} as the story index assigns them."""
    index = StoryIndex(settings)
    stories: dict[str, int] = {}
    for variant in arrivals(scenario, order):
        item = process(variant)
        report = Report(
            key=item.key,
            feed=item.outlet,
            title=item.title,
            text=item.body_text,
            published=item.published,
            exact_keys=item.exact_keys,
        )
        if item.key in stories:
            index.update(report)  # a later version of the same item keeps its story
            continue
        decision = index.decide(report)
        story = decision.story_id if decision.story_id is not None else len(set(stories.values()))
        stories[item.key] = story
        index.add(report, story)
    return stories


def section_rules(scenario: Scenario) -> SectionRules:
    return SectionRules(
        SectionConfig(
            name=c["name"],
            slug=slugify(c["name"]),
            aliases=tuple(c.get("aliases") or ()),
            keywords=tuple(c.get("keywords") or ()),
        )
        for c in scenario["categories"]
    )


def file_sections(
    scenario: Scenario, clusters: Mapping[str, int], order: str
) -> dict[str, set[str]]:
    """{report key -> section slugs}: each cluster filed from all its reports' evidence."""
    rules = section_rules(scenario)
    defaults = {o["id"]: o.get("default_category") for o in scenario["outlets"]}
    latest: dict[str, Processed] = {}
    for variant in arrivals(scenario, order):
        latest[report_key(variant)] = process(variant)
    members: dict[int, list[Processed]] = defaultdict(list)
    for key, item in latest.items():
        members[clusters[key]].append(item)
    filed: dict[str, set[str]] = {}
    for items in members.values():
        evidence = [
            ReportEvidence(
                feed=item.outlet,
                title=item.title,
                text=item.body_text,
                tags=item.tags,
                labels=FeedLabels(default_section=defaults[item.outlet]),
            )
            for item in items
        ]
        decision = file_story(rules, evidence)
        slugs = {slugify(name) for name in decision.sections}
        for item in items:
            filed[item.key] = slugs
    return filed


# -- the measures: plain mappings in, figures out ------------------------------------


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    exact_shown_twice: int
    exact_total: int
    worded_separate: int
    worded_total: int
    near_misses_merged: int
    near_misses_total: int
    in_true_section: float
    wrong_sections_per_story: float


def _finder(parent: dict[str, str]) -> Callable[[str], str]:
    """The root lookup of a union-find forest held in ``parent``."""

    def root(key: str) -> str:
        while parent[key] != key:
            key = parent[key]
        return key

    return root


def _wording_groups(scenario: Scenario) -> dict[str, list[list[str]]]:
    """{story id -> groups of report keys that are exact copies of each other}."""
    groups: dict[str, list[list[str]]] = {}
    for story in scenario["stories"]:
        latest: dict[str, Mapping[str, Any]] = {}
        for variant in story["variants"]:
            latest[report_key(variant)] = variant
        parent = {key: key for key in latest}
        root = _finder(parent)
        signatures: dict[str, str] = {}
        for key, variant in latest.items():
            text = normalise_words(html_to_text(variant["content_html"]))
            for signature in (
                "url:" + canonical_url(variant["url"]),
                "text:" + normalise_words(variant["title"]) + "\x1f" + text,
            ):
                if signature in signatures:
                    parent[root(key)] = root(signatures[signature])
                else:
                    signatures[signature] = key
        by_root: dict[str, list[str]] = defaultdict(list)
        for key in latest:
            by_root[root(key)].append(key)
        groups[story["id"]] = list(by_root.values())
    return groups


def measure(
    scenario: Scenario, clusters: Mapping[str, Any], sections: Mapping[str, Iterable[str]]
) -> Quality:
    """Compare {report key -> cluster id} and {report key -> section slugs} with the labels."""
    truth = true_stories(scenario)
    keys = sorted(truth)
    same = merged = correct = 0
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            is_same = truth[a] == truth[b]
            is_merged = clusters[a] == clusters[b]
            same += is_same
            merged += is_merged
            correct += is_same and is_merged
    exact_twice = exact_total = worded_separate = worded_total = 0
    for groups in _wording_groups(scenario).values():
        for group in groups:
            exact_total += len(group) - 1
            exact_twice += sum(clusters[key] != clusters[group[0]] for key in group[1:])
        if len(groups) > 1:
            sizes = Counter(clusters[key] for group in groups for key in group)
            majority = sizes.most_common(1)[0][0]
            worded_total += len(groups) - 1
            outside = sum(any(clusters[key] != majority for key in group) for group in groups)
            worded_separate += min(outside, len(groups) - 1)
    near_merged = 0
    members: dict[str, set[Any]] = defaultdict(set)
    for key, story_id in truth.items():
        members[story_id].add(clusters[key])
    for first, second, *_ in scenario.get("near_misses", []):
        near_merged += bool(members[first] & members[second])
    section_of = true_sections(scenario)
    appearances: dict[str, set[str]] = defaultdict(set)
    for key, story_id in truth.items():
        appearances[story_id].update(sections[key])
    in_true = sum(section_of[s] in appearances[s] for s in section_of)
    wrong = sum(len(appearances[s] - {section_of[s]}) for s in section_of)
    return Quality(
        precision=correct / merged if merged else 1.0,
        recall=correct / same if same else 1.0,
        exact_shown_twice=exact_twice,
        exact_total=exact_total,
        worded_separate=worded_separate,
        worded_total=worded_total,
        near_misses_merged=near_merged,
        near_misses_total=len(scenario.get("near_misses", [])),
        in_true_section=in_true / len(section_of),
        wrong_sections_per_story=wrong / len(section_of),
    )


def evaluate(scenario: Scenario, order: str, settings: StorySettings | None = None) -> Quality:
    """The pure simulation's quality (see ``cluster`` and ``file_sections``)."""
    clusters = cluster(scenario, order, settings)
    return measure(scenario, clusters, file_sections(scenario, clusters, order))


# -- the real pipeline -------------------------------------------------------------


def pipeline_config(scenario: Scenario, folder: Path) -> Config:
    """The scenario as feeds.yaml would say it: its sections, one file feed per outlet."""
    sections = tuple(
        SectionConfig(
            name=c["name"],
            slug=slugify(c["name"]),
            aliases=tuple(c.get("aliases") or ()),
            keywords=tuple(c.get("keywords") or ()),
        )
        for c in scenario["categories"]
    )
    feeds = tuple(
        FeedConfig(
            url=(folder / f"{o['id']}.feed").as_uri(),
            title=o["title"],
            section=o.get("default_category"),
        )
        for o in scenario["outlets"]
    )
    # One worker: feeds are polled in the config's order, so the figures repeat.
    polling = PollingConfig(host_spacing_seconds=0, workers=1)
    return Config(path=str(folder / "feeds.yaml"), polling=polling, sections=sections, feeds=feeds)


def _write_feeds(
    scenario: Scenario, folder: Path, shown: Callable[[Mapping[str, Any]], bool]
) -> None:
    """Each outlet's feed file, holding the latest version of the items ``shown`` allows."""
    items: dict[str, dict[str, Variant]] = {o["id"]: {} for o in scenario["outlets"]}
    for story in scenario["stories"]:
        for data in story["variants"]:
            if shown(data):
                items[data["outlet"]][data["guid"]] = Variant(story["id"], data["outlet"], data)
    for outlet in scenario["outlets"]:
        body = render(outlet, list(items[outlet["id"]].values()))
        (folder / f"{outlet['id']}.feed").write_bytes(body)


def run_pipeline(
    scenario: Scenario, order: str, folder: Path
) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Poll the scenario's feeds into a database in ``folder``; return {report key ->
    story id} and {report key -> section slugs} as stored.

    ``poll``: every outlet's first versions in one poll, then the updates in a second;
    ``time``: a poll every 12 hours of the scenario's time, each feed holding what was
    published by then (steady polling); ``restart``: as ``time``, each poll by a new
    process (``aggregator poll`` from cron), whose story index is loaded from the
    database."""
    config = pipeline_config(scenario, folder)
    variants = [v for s in scenario["stories"] for v in s["variants"]]
    end = max(_published(v) for v in variants) + timedelta(hours=1)
    if order == "poll":
        steps: list[tuple[datetime, Callable[[Mapping[str, Any]], bool]]] = [
            (end, lambda v: not v.get("update")),
            (end + timedelta(hours=1), lambda _v: True),
        ]
    else:
        start = min(_published(v) for v in variants)
        moments = []
        moment = start + timedelta(hours=12)
        while moment < end + timedelta(hours=12):
            moments.append(moment)
            moment += timedelta(hours=12)
        steps = [(at, lambda v, at=at: _published(v) <= at) for at in moments]
    clock = [steps[0][0]]
    database = f"sqlite:///{folder / 'quality.db'}"
    rounds = [steps] if order != "restart" else [[step] for step in steps]
    for steps_of_process in rounds:
        with Aggregator.open(config, database=database, clock=lambda: clock[0]) as aggregator:
            for at, shown in steps_of_process:
                clock[0] = at
                _write_feeds(scenario, folder, shown)
                summary = aggregator.update_feeds(scheduled=False)
                failed = [o for o in summary.outcomes if o.status == "failed"]
                if failed:
                    raise RuntimeError(f"feeds failed: {failed}")
    with Aggregator.open(config, database=database, clock=lambda: clock[0]) as aggregator:
        return _stored(aggregator, scenario, config)


def _stored(
    aggregator: Aggregator, scenario: Scenario, config: Config
) -> tuple[dict[str, int], dict[str, set[str]]]:
    """The stories and sections of every report, read back from the database."""
    outlet_of = {
        feed.url: outlet["id"]
        for feed, outlet in zip(config.feeds, scenario["outlets"], strict=True)
    }
    storage = aggregator._storage  # a measurement reads the tables as they are
    entries, feeds = schema.entries, schema.feeds
    clusters: dict[str, int] = {}
    sections: dict[str, set[str]] = defaultdict(set)
    with storage.read() as conn:
        rows = conn.execute(
            select(entries.c.id, entries.c.guid, entries.c.story_id, feeds.c.url).join(
                feeds, feeds.c.id == entries.c.feed_id
            )
        ).all()
        for entry_id, section in conn.execute(
            select(schema.entry_sections.c.entry_id, schema.entry_sections.c.section)
        ):
            sections[str(entry_id)].add(section)
    for row in rows:
        key = f"{outlet_of[row.url]}|{row.guid}"
        clusters[key] = row.story_id
        sections[key] = sections.pop(str(row.id), set())
    return clusters, {key: sections[key] for key in clusters}


def evaluate_pipeline(scenario: Scenario, order: str) -> Quality:
    """The real pipeline's quality on a scenario (see ``run_pipeline``)."""
    with tempfile.TemporaryDirectory() as folder:
        clusters, sections = run_pipeline(scenario, order, Path(folder))
    return measure(scenario, clusters, sections)


# -- the cost at scale ---------------------------------------------------------------


def _filler(count: int, seed: int) -> list[Report]:
    """Synthetic entries spread over 90 days, about four per topic.

    Each mixes Zipf-distributed background words with words and names of its topic,
    so a new entry finds candidates sharing its rare terms, as real news does.
    """
    rng = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(30000)]
    zipf = list(accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    topics = [
        (rng.sample(vocabulary[2000:], 40), [f"Name{rng.randrange(20000)}" for _ in range(3)])
        for _ in range(max(50, count // 4))
    ]
    start = datetime(2026, 9, 1, tzinfo=UTC)
    span = timedelta(days=90).total_seconds()
    moments = sorted(rng.random() * span for _ in range(count))
    reports = []
    for n, offset in enumerate(moments):
        topic_words, names = rng.choice(topics)
        words = rng.choices(vocabulary, cum_weights=zipf, k=100) + rng.sample(topic_words, 30)
        rng.shuffle(words)
        background = rng.choices(vocabulary, cum_weights=zipf, k=5)
        title = " ".join([*rng.sample(topic_words, 4), *background])
        text = (
            " ".join(words[:60])
            + f". {names[0]} {names[1]} said "
            + " ".join(words[60:])
            + f". Officials in {names[2]} counted {rng.randint(100, 99999)}."
        )
        reports.append(
            Report(
                key=f"filler-{n}",
                feed=f"feed-{rng.randrange(1000)}",
                title=title,
                text=text,
                published=start + timedelta(seconds=offset),
            )
        )
    return reports


def scale_cost(
    stored: int, settings: StorySettings | None = None, probes: int = 500
) -> dict[str, float]:
    """Milliseconds per new entry (decide + add) with ``stored`` entries behind it."""
    reports = _filler(stored + probes, seed=stored)
    index = StoryIndex(settings)
    story = stored
    started = time.perf_counter()
    for n, report in enumerate(reports[:stored]):
        index.add(report, n)  # what is timed below is the same work with decide() first
        if n % 1000 == 0:
            index.prune(report.published)
    fill_seconds = time.perf_counter() - started
    timings = []
    for report in reports[stored:]:
        begun = time.perf_counter()
        decision = index.decide(report)
        index.add(report, decision.story_id if decision.story_id is not None else story + 1)
        timings.append((time.perf_counter() - begun) * 1000)
        story += 1
    timings.sort()
    rows = [
        (r, index.story_of(r.key) or 0)
        for r in reports[stored + probes - len(index) : stored + probes]
        if r.key in index
    ]
    begun = time.perf_counter()
    StoryIndex.rebuild(rows, settings)
    rebuild_seconds = time.perf_counter() - begun
    return {
        "retained": len(index),
        "mean_ms": sum(timings) / len(timings),
        "p95_ms": timings[int(len(timings) * 0.95)],
        "fill_ms_per_entry": fill_seconds * 1000 / stored,
        "rebuild_s": rebuild_seconds,
    }


# -- the table -----------------------------------------------------------------------


def format_row(name: str, order: str, q: Quality) -> str:
    return (
        f"{name:<14} {order:<5} {q.precision:>5.3f} {q.recall:>6.3f} "
        f"{q.exact_shown_twice:>3}/{q.exact_total:<3} "
        f"{q.worded_separate:>3}/{q.worded_total:<3} "
        f"{q.near_misses_merged:>3}/{q.near_misses_total:<3} "
        f"{q.in_true_section:>6.3f} {q.wrong_sections_per_story:>6.3f}"
    )


HEADER = (
    "file           order  prec recall exact2x worded  near    sect  wrong/st\n"
    "goal                 >=.98 >=.90       0  <=5%      0  >=.97  <=.05"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="labeled newsroom JSON files")
    parser.add_argument("--no-scale", action="store_true", help="skip the cost at scale")
    parser.add_argument(
        "--pure", action="store_true", help="the pure code instead of the pipeline (quicker)"
    )
    args = parser.parse_args(argv)
    files = args.files or [path for path in DEFAULT_FILES if path.exists()]
    print(f"{'pure code' if args.pure else 'pipeline (polled into SQLite)'}\n{HEADER}")
    for path in files:
        scenario = load_scenario(path)
        for order in ("poll", "time") if args.pure else ("poll", "time", "restart"):
            quality = evaluate(scenario, order) if args.pure else evaluate_pipeline(scenario, order)
            print(format_row(path.stem.removeprefix("newsroom-"), order, quality))
    if not args.no_scale:
        print("\ncost per new entry (decide + add), window 72 h, filler over 90 days")
        for stored in (10_000, 100_000):
            cost = scale_cost(stored)
            print(
                f"{stored:>7} stored ({cost['retained']:.0f} in the index): "
                f"mean {cost['mean_ms']:.3f} ms, p95 {cost['p95_ms']:.3f} ms; "
                f"rebuilding the index from its rows {cost['rebuild_s']:.2f} s"
            )


if __name__ == "__main__":
    main()
