"""Render the labeled newsroom scenario (shared/fixtures/newsroom-dev.json) as real feeds.

Each outlet's items become a feed in the outlet's own format (RSS 2.0, Atom,
RSS 1.0, JSON Feed), so the whole pipeline sees what it would see in the wild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

CONTENT_TYPES = {
    "rss20": "application/rss+xml",
    "atom10": "application/atom+xml",
    "rss10": "application/rdf+xml",
    "jsonfeed": "application/feed+json",
}


@dataclass(frozen=True)
class Variant:
    story_id: str
    outlet: str
    data: dict[str, Any]


def load_scenario(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def variants_by_outlet(scenario: dict[str, Any], *, with_updates: bool) -> dict[str, list[Variant]]:
    """Each outlet's items. Without updates, an item's first version; with, its latest."""
    result: dict[str, dict[str, Variant]] = {o["id"]: {} for o in scenario["outlets"]}
    for story in scenario["stories"]:
        for data in story["variants"]:
            if data.get("update") and not with_updates:
                continue
            result[data["outlet"]][data["guid"]] = Variant(story["id"], data["outlet"], data)
    return {outlet: list(items.values()) for outlet, items in result.items()}


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def render(outlet: dict[str, Any], variants: list[Variant]) -> bytes:
    """The outlet's feed document holding these items."""
    renderer = {"rss20": _rss20, "atom10": _atom10, "rss10": _rss10, "jsonfeed": _jsonfeed}
    # A format this file does not know (a labeled set from elsewhere) is served as RSS 2.0:
    # the measure is of grouping and filing, not of one more dialect.
    render_as = renderer.get(str(outlet.get("format", "")).replace(".", "").lower(), _rss20)
    return render_as(outlet, [v.data for v in variants]).encode("utf-8")


def _rss20(outlet: dict[str, Any], items: list[dict[str, Any]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{escape(outlet['title'])}</title><link>{escape(outlet['site'])}</link>",
        "<description>News</description>",
    ]
    for item in items:
        permalink = "true" if item["guid"] == item["url"] else "false"
        parts.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item['url'])}</link>"
            f"<guid isPermaLink={quoteattr(permalink)}>{escape(item['guid'])}</guid>"
            f"<pubDate>{format_datetime(_date(item['published']))}</pubDate>"
            f"<description>{escape(item.get('summary') or '')}</description>"
            f"<content:encoded>{escape(item['content_html'])}</content:encoded>"
            + "".join(f"<category>{escape(tag)}</category>" for tag in (item.get("tags") or ()))
            + "</item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts)


def _atom10(outlet: dict[str, Any], items: list[dict[str, Any]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(outlet['title'])}</title><id>{escape(outlet['site'])}/</id>",
        f"<link href={quoteattr(outlet['site'])}/><updated>2026-11-30T00:00:00Z</updated>",
    ]
    for item in items:
        categories = "".join(
            f"<category term={quoteattr(tag.lower().replace(' ', '-'))} label={quoteattr(tag)}/>"
            for tag in (item.get("tags") or ())
        )
        parts.append(
            f"<entry><id>{escape(item['guid'])}</id><title>{escape(item['title'])}</title>"
            f"<link rel='alternate' href={quoteattr(item['url'])}/>"
            f"<published>{item['published']}</published><updated>{item['published']}</updated>"
            f"<author><name>{escape(outlet['title'])}</name></author>"
            f"<summary>{escape(item.get('summary') or '')}</summary>"
            f"<content type='html'>{escape(item['content_html'])}</content>{categories}</entry>"
        )
    parts.append("</feed>")
    return "\n".join(parts)


def _rss10(outlet: dict[str, Any], items: list[dict[str, Any]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel rdf:about={quoteattr(outlet['site'])}><title>{escape(outlet['title'])}</title>"
        f"<link>{escape(outlet['site'])}</link><description>News</description><items><rdf:Seq>",
        *(f"<rdf:li rdf:resource={quoteattr(item['url'])}/>" for item in items),
        "</rdf:Seq></items></channel>",
    ]
    for item in items:
        parts.append(
            f"<item rdf:about={quoteattr(item['guid'])}><title>{escape(item['title'])}</title>"
            f"<link>{escape(item['url'])}</link>"
            f"<description>{escape(item.get('summary') or '')}</description>"
            f"<content:encoded>{escape(item['content_html'])}</content:encoded>"
            f"<dc:date>{item['published']}</dc:date>"
            + "".join(f"<dc:subject>{escape(tag)}</dc:subject>" for tag in (item.get("tags") or ()))
            + "</item>"
        )
    parts.append("</rdf:RDF>")
    return "\n".join(parts)


def _jsonfeed(outlet: dict[str, Any], items: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": outlet["title"],
            "home_page_url": outlet["site"],
            "items": [
                {
                    "id": item["guid"],
                    "url": item["url"],
                    "title": item["title"],
                    "summary": item.get("summary") or "",
                    "content_html": item["content_html"],
                    "date_published": item["published"],
                    "tags": list(item.get("tags") or ()),
                }
                for item in items
            ],
        }
    )
