"""Stories through the whole pipeline: feeds served on loopback, polled by an Aggregator
into SQLite and PostgreSQL, read back as the reader and the merged feeds show them.

One case per rule: reports told in other words join one story, look-alike events stay
apart (and are related reading), AMP forms are the same article, a feed never merges
with itself by wording, the lead report follows the feeds' priority, read state
follows the story (and a setting changes that), an admin's split is remembered,
sections follow the precedence of the evidence and the feeds' label trust, and the
story index survives a restart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from aggregator.config import Config, FeedConfig, PollingConfig, SectionConfig, StoriesConfig
from aggregator.core import Aggregator
from aggregator.scopes import ALL, section_scope
from aggregator.storage import Storage
from aggregator.types import StoryView
from tests.clock import FixedClock
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

SECTIONS = (
    SectionConfig(
        "US Military",
        "us-military",
        aliases=("Military", "Defense"),
        keywords=("Navy", "destroyer", "sailors", "Pentagon"),
    ),
    SectionConfig("US News", "us-news", aliases=("U.S. News", "National")),
    SectionConfig(
        "World", "world", aliases=("International",), keywords=("Japan", "Philippines", "Seoul")
    ),
)

# One event, three outlets, three wordings (no shared URL or sentence).
WIRE_DESTROYER = (
    "Navy destroyer USS Halvorsen collides with cargo ship off Norfolk",
    "<p>The guided-missile destroyer USS Halvorsen struck a Liberian-flagged container "
    "ship about 40 miles east of Norfolk early Thursday, the Navy said. Two sailors were "
    "treated for minor injuries and both vessels stayed afloat.</p><p>The Navy said the "
    "cause of the collision was under investigation.</p>",
)
TV_DESTROYER = (
    "Two sailors hurt as USS Halvorsen and freighter collide near Norfolk",
    "<p>A Navy warship and a commercial freighter collided off the coast of Virginia on "
    "Thursday morning, leaving two sailors with minor injuries, officials said. The USS "
    "Halvorsen, a destroyer based in Norfolk, was returning from exercises.</p><p>Both "
    "ships reached port under their own power, the Navy said.</p>",
)
PAPER_DESTROYER = (
    "Norfolk-based destroyer Halvorsen in collision with container ship",
    "<p>The USS Halvorsen, a Norfolk-based destroyer, collided with a container ship "
    "east of Norfolk on Thursday. Two sailors suffered minor injuries. The Navy has "
    "opened an investigation into the collision, which damaged the destroyer's bow.</p>",
)
# The same ship two days later, another event.
WIRE_DESTROYER_LATER = (
    "USS Halvorsen commander relieved after collision inquiry",
    "<p>The Navy relieved the commanding officer of the destroyer USS Halvorsen on "
    "Saturday, citing a loss of confidence after an inquiry into last week's collision "
    "off Norfolk. The officer was reassigned to a shore command.</p>",
)


def rss(title: str, items: list[dict[str, object]]) -> bytes:
    parts = []
    for item in items:
        published = format_datetime(NOW + timedelta(hours=float(item.get("hours", 0))))  # type: ignore[arg-type]
        tags = "".join(f"<category>{escape(str(t))}</category>" for t in item.get("tags", ()))  # type: ignore[union-attr]
        guid = item.get("guid", item["link"])
        parts.append(
            f"<item><title>{escape(str(item['title']))}</title>"
            f"<link>{escape(str(item['link']))}</link><guid>{escape(str(guid))}</guid>"
            f"<pubDate>{published}</pubDate>"
            f"<description>{escape(str(item['html']))}</description>{tags}</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://{title.lower()}.example/</link>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def item(link: str, text: tuple[str, str], hours: float = 0, **extra: object) -> dict[str, object]:
    return {"title": text[0], "html": text[1], "link": link, "hours": hours, **extra}


class Newsroom:
    """Outlets served on loopback, an aggregator polling them on a fixed clock."""

    def __init__(
        self, server: FeedServer, make: MakeAggregator, feeds: list[FeedConfig], **config: object
    ) -> None:
        self.server = server
        self.clock = FixedClock(NOW + timedelta(hours=1))
        self.config = Config(
            path="stories.yaml",
            polling=PollingConfig(allow_private_networks=True, host_spacing_seconds=0),
            sections=SECTIONS,
            feeds=tuple(replace(feed, url=server.url(feed.url)) for feed in feeds),
            **config,  # type: ignore[arg-type]
        )
        self.aggregator = make(self.config, clock=self.clock)
        self.version = 0
        for feed in feeds:  # every outlet answers, with nothing until a test serves it
            self.serve(feed.url, feed.url.strip("/").title(), [])

    def serve(self, path: str, title: str, items: list[dict[str, object]]) -> None:
        self.version += 1
        self.server.route(path, FeedServer.feed(rss(title, items), etag=f'"v{self.version}"'))

    def poll(self, hours: float = 0) -> None:
        self.clock.advance(timedelta(hours=hours))
        summary = self.aggregator.update_feeds(scheduled=False)
        assert all(outcome.status != "failed" for outcome in summary.outcomes), summary

    def stories(self) -> list[StoryView]:
        return [item.story for item in self.aggregator.get_stories(ALL, limit=100).stories]

    def story_of(self, title: str) -> StoryView:
        for story in self.stories():
            if title in {report.title for report in (story.lead, *story.others)}:
                return story
        raise AssertionError(f"no story reports {title!r}")


def feeds(*paths: str, **options: object) -> list[FeedConfig]:
    return [FeedConfig(url=path, **options) for path in paths]  # type: ignore[arg-type]


@pytest.fixture
def newsroom(server: FeedServer, make_aggregator: MakeAggregator) -> Newsroom:
    return Newsroom(server, make_aggregator, feeds("/wire", "/tv", "/paper"))


def test_reports_in_other_words_are_one_story(newsroom: Newsroom) -> None:
    newsroom.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER)])
    newsroom.serve("/tv", "TV", [item("https://tv.example/a", TV_DESTROYER, hours=2)])
    newsroom.serve("/paper", "Paper", [item("https://paper.example/x", PAPER_DESTROYER, 5)])
    newsroom.poll()
    (story,) = newsroom.stories()
    assert {r.feed_title for r in (story.lead, *story.others)} == {"Wire", "TV", "Paper"}
    details = newsroom.aggregator.story_details(story.id)
    assert details is not None
    rules = sorted(joining.rule for joining in details.joinings.values())
    assert rules == ["first", "similar", "similar"]
    similar = [j for j in details.joinings.values() if j.rule == "similar"]
    assert all(j.similarity is not None and j.similarity >= 0.15 for j in similar)
    assert all(j.matched_entry_id in details.joinings for j in similar)


def test_a_look_alike_event_days_later_stays_apart_and_is_related(newsroom: Newsroom) -> None:
    newsroom.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER)])
    newsroom.poll()
    later = item("https://tv.example/b", WIRE_DESTROYER_LATER, hours=50)
    newsroom.serve("/tv", "TV", [later])
    newsroom.poll(hours=50)
    first = newsroom.story_of(WIRE_DESTROYER[0])
    second = newsroom.story_of(WIRE_DESTROYER_LATER[0])
    assert first.id != second.id
    details = newsroom.aggregator.story_details(second.id)
    assert details is not None and [r.story_id for r in details.related] == [first.id]


@pytest.mark.parametrize(
    "amp_link",
    [
        "https://wire.example/2026/11/20/destroyer/amp",
        "https://wire.example/amp/2026/11/20/destroyer",
        "https://amp.wire.example/2026/11/20/destroyer",
        "https://wire.example/2026/11/20/destroyer.amp.html",
        "https://wire.example/2026/11/20/destroyer?amp",
        "https://wire.example/2026/11/20/destroyer?outputType=amp",
        "https://wire.example/2026/11/20/destroyer/?utm_source=tv&amp=1",
    ],
)
def test_an_amp_link_is_the_same_article(newsroom: Newsroom, amp_link: str) -> None:
    canonical = "https://wire.example/2026/11/20/destroyer.html"
    if amp_link.endswith(".amp.html"):
        canonical = "https://wire.example/2026/11/20/destroyer.html"
    else:
        canonical = "https://wire.example/2026/11/20/destroyer"
    newsroom.serve("/wire", "Wire", [item(canonical, WIRE_DESTROYER)])
    # Another outlet links the AMP page, with a headline of its own and no shared text.
    other = ("Halvorsen update", "<p>See the wire's report.</p>")
    newsroom.serve("/tv", "TV", [item(amp_link, other, hours=1, guid="tv-1")])
    newsroom.poll()
    (story,) = newsroom.stories()
    details = newsroom.aggregator.story_details(story.id)
    assert details is not None
    assert sorted(j.rule for j in details.joinings.values()) == ["first", "same-url"]


def test_one_feed_never_merges_with_itself_by_wording(newsroom: Newsroom) -> None:
    newsroom.serve(
        "/wire",
        "Wire",
        [
            item("https://wire.example/1", WIRE_DESTROYER),
            item("https://wire.example/2", TV_DESTROYER, hours=1),
        ],
    )
    newsroom.poll()
    assert len(newsroom.stories()) == 2


def test_the_lead_report_follows_priority_and_the_story_keeps_its_id(
    server: FeedServer, make_aggregator: MakeAggregator
) -> None:
    room = Newsroom(
        server,
        make_aggregator,
        [FeedConfig("/wire"), FeedConfig("/tv"), FeedConfig("/paper", priority=10)],
    )
    room.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER)])
    room.serve("/tv", "TV", [item("https://tv.example/a", TV_DESTROYER, hours=2)])
    room.poll()
    story = room.story_of(WIRE_DESTROYER[0])
    assert story.lead.feed_title == "Wire"  # the earliest, with equal priorities
    atom = room.aggregator.render_output("all", "atom").body
    assert f"/story/{story.id}</id>".encode() in atom
    # A later report from the feed with the highest priority leads from then on, and
    # the story (and its id in the merged feeds) stays the same.
    room.serve("/paper", "Paper", [item("https://paper.example/x", PAPER_DESTROYER, 5)])
    room.poll(hours=5)
    again = room.story_of(WIRE_DESTROYER[0])
    assert again.id == story.id and again.lead.feed_title == "Paper"
    atom = room.aggregator.render_output("all", "atom").body
    assert atom.count(f"/story/{story.id}</id>".encode()) == 1
    assert PAPER_DESTROYER[0].encode() in atom


def test_read_state_follows_the_story(newsroom: Newsroom) -> None:
    newsroom.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER)])
    newsroom.serve("/tv", "TV", [item("https://tv.example/a", TV_DESTROYER, hours=2)])
    newsroom.poll()
    story = newsroom.story_of(WIRE_DESTROYER[0])
    newsroom.aggregator.mark_read(story.id)  # read once: every report is read
    counts = newsroom.aggregator.unread_counts()
    assert counts.of(ALL) == 0 and counts.of(section_scope("us-military")) == 0
    # Another outlet joins the read story: it stays read.
    newsroom.serve("/paper", "Paper", [item("https://paper.example/x", PAPER_DESTROYER, 5)])
    newsroom.poll(hours=5)
    (page_item,) = newsroom.aggregator.get_stories(ALL).stories
    assert len(page_item.story.others) == 2 and not page_item.unread
    assert newsroom.aggregator.unread_counts().of(ALL) == 0


def test_a_setting_makes_a_new_report_unread_the_story(
    server: FeedServer, make_aggregator: MakeAggregator
) -> None:
    room = Newsroom(
        server,
        make_aggregator,
        feeds("/wire", "/tv"),
        stories=StoriesConfig(new_report_unreads=True),
    )
    room.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER)])
    room.poll()
    story = room.story_of(WIRE_DESTROYER[0])
    room.aggregator.mark_read(story.id)
    room.serve("/tv", "TV", [item("https://tv.example/a", TV_DESTROYER, hours=2)])
    room.poll(hours=2)
    (page_item,) = room.aggregator.get_stories(ALL).stories
    assert page_item.unread and room.aggregator.unread_counts().of(ALL) == 1


def test_a_split_is_remembered(newsroom: Newsroom) -> None:
    newsroom.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER)])
    tv_item = item("https://tv.example/a", TV_DESTROYER, hours=2)
    newsroom.serve("/tv", "TV", [tv_item])
    newsroom.poll()
    story = newsroom.story_of(WIRE_DESTROYER[0])
    tv_report = next(r for r in (story.lead, *story.others) if r.feed_title == "TV")
    new_story = newsroom.aggregator.split_report(tv_report.id)
    assert new_story != story.id
    assert newsroom.story_of(TV_DESTROYER[0]).id == new_story
    details = newsroom.aggregator.story_details(new_story)
    assert details is not None and details.joinings[tv_report.id].rule == "split"
    # The next polls (the item unchanged, then corrected) do not merge it back.
    newsroom.poll(hours=1)
    corrected = {**tv_item, "title": TV_DESTROYER[0] + " (corrected)"}
    newsroom.serve("/tv", "TV", [corrected])
    newsroom.poll(hours=1)
    assert newsroom.story_of(TV_DESTROYER[0] + " (corrected)").id == new_story
    assert newsroom.story_of(WIRE_DESTROYER[0]).id == story.id
    with pytest.raises(ValueError, match="only report"):
        newsroom.aggregator.split_report(tv_report.id)


def test_sections_follow_the_evidence_and_the_feeds_trust(
    server: FeedServer, make_aggregator: MakeAggregator
) -> None:
    room = Newsroom(
        server,
        make_aggregator,
        [
            FeedConfig("/wire"),
            FeedConfig("/tv", section="US News"),  # a general feed's nominal default
            FeedConfig("/paper", labels="ignore_tags"),
            FeedConfig("/digest", section="US News", labels="default_last"),
        ],
    )
    # Tags outrank a feed's default; keywords decide where nothing else says anything.
    room.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER, tags=["Defense"])])
    room.serve(
        "/tv", "TV", [item("https://tv.example/a", TV_DESTROYER, hours=2, tags=["Military"])]
    )
    # A feed whose tags are ignored: its "National" tag is not evidence.
    room.serve(
        "/paper",
        "Paper",
        [item("https://paper.example/x", PAPER_DESTROYER, 5, tags=["National"])],
    )
    # default_last: its default counts only when nothing else says anything.
    quiet = ("Library extends weekend hours", "<p>The city library opens Sundays now.</p>")
    room.serve("/digest", "Digest", [item("https://digest.example/q", quiet, 1)])
    room.poll()
    story = room.story_of(WIRE_DESTROYER[0])
    assert story.sections == ("us-military",)  # one section, not the union of labels
    details = room.aggregator.story_details(story.id)
    assert details is not None
    used = {(r.kind, r.feed, r.section) for r in details.filing if r.counted}
    assert ("tag", "Wire", "us-military") in used and ("tag", "TV", "us-military") in used
    unused = {(r.kind, r.feed) for r in details.filing if not r.counted}
    assert ("tag", "Paper") in unused  # seen, and said not to count
    assert room.story_of(quiet[0]).sections == ("us-news",)


def test_several_outlets_outweigh_one_misleading_label(
    server: FeedServer, make_aggregator: MakeAggregator
) -> None:
    room = Newsroom(server, make_aggregator, feeds("/wire", "/tv", "/paper"))
    room.serve("/wire", "Wire", [item("https://wire.example/1", WIRE_DESTROYER, tags=["Military"])])
    room.serve("/tv", "TV", [item("https://tv.example/a", TV_DESTROYER, 2, tags=["Defense"])])
    room.serve(
        "/paper", "Paper", [item("https://paper.example/x", PAPER_DESTROYER, 5, tags=["U.S. News"])]
    )
    room.poll()
    assert room.story_of(WIRE_DESTROYER[0]).sections == ("us-military",)


def test_the_story_index_survives_a_restart(
    server: FeedServer, storage: Storage, tmp_path: Path
) -> None:
    clock = FixedClock(NOW + timedelta(hours=1))
    config = Config(
        path="stories.yaml",
        polling=PollingConfig(allow_private_networks=True, host_spacing_seconds=0),
        sections=SECTIONS,
        feeds=(FeedConfig(server.url("/wire")), FeedConfig(server.url("/tv"))),
    )
    server.route(
        "/wire", FeedServer.feed(rss("Wire", [item("https://wire.example/1", WIRE_DESTROYER)]))
    )
    server.route("/tv", FeedServer.feed(rss("TV", [])))
    first = Aggregator(config, storage, clock=clock)
    first.sync_feeds()
    first.update_feeds(scheduled=False)
    first.close()  # a restart: the next process has an empty index
    server.route(
        "/tv",
        FeedServer.feed(rss("TV", [item("https://tv.example/a", TV_DESTROYER, 2)]), etag='"v2"'),
    )
    clock.advance(timedelta(hours=2))
    second = Aggregator(config, storage, clock=clock)
    second.update_feeds(scheduled=False)
    stories = second.get_stories(ALL).stories
    second.close()
    assert len(stories) == 1 and len(stories[0].story.others) == 1
