"""Subscription lists (OPML 1.0, 1.1 and 2.0) as other readers export them, read with
listparser's tolerance: attribute names in any case, HTML entities, unclosed or stray
tags and concatenated documents are read as far as they go (with a warning naming the
line); a file that is no OPML at all is an OpmlError naming the line.

Pure: bytes in, an ``OpmlDocument`` out. lxml parses, with entity expansion and the
network off.
"""

from __future__ import annotations

import html.entities
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree  # type: ignore[import-untyped]

from aggregator.errors import OpmlError

MAX_OPML_BYTES = 10 * 1024 * 1024
MAX_OUTLINES = 50_000
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_DECLARATION = re.compile(r"<\?xml[^>]*\?>", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!DOCTYPE(?:[^\[>]|\[[^\]]*\])*>", re.IGNORECASE)
_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)""", re.IGNORECASE)
_WRAPPER = "aggregator-opml-files"
_LIST_TYPES = frozenset({"include", "link"})
# FreshRSS's web-scraping sources (type="HTML+XPath", ...): web pages, not feeds.
_SCRAPING = re.compile(r"xpath|dotnotation", re.IGNORECASE)


@dataclass(frozen=True)
class OpmlFeed:
    """One subscription: its feed URL, its title (``text``, else ``title``), its site,
    and the categories it is filed in: its folders' path first (outer to inner), then
    those of its ``category`` attribute ("/Tech/Linux" is ("Tech", "Linux")), without
    repeats. A feed listed twice carries the categories of both listings."""

    url: str
    title: str | None = None
    html_url: str | None = None
    categories: tuple[tuple[str, ...], ...] = ()
    line: int | None = None
    paused: bool = False  # disabled in the reader it comes from (miniflux:disabled)

    @property
    def section(self) -> str | None:
        """The section it goes to: its innermost folder, else its first category."""
        return self.categories[0][-1] if self.categories else None


@dataclass(frozen=True)
class OpmlList:
    """A subscription list an outline links to (``type="include"`` or ``"link"``); not
    followed."""

    url: str
    title: str | None = None


@dataclass(frozen=True)
class OpmlDocument:
    title: str | None
    version: str | None  # as written: "1.0", "1.1", "2.0", or None
    feeds: tuple[OpmlFeed, ...]
    duplicates: tuple[OpmlFeed, ...] = ()  # later listings of a feed listed before
    lists: tuple[OpmlList, ...] = ()
    # Outlines that are neither feeds nor folders nor lists, e.g. a site without its
    # feed's address ("has only a web page address"); one note each.
    skipped: tuple[str, ...] = ()
    warning: str | None = None  # a malformed part read past, with its line


def parse_opml(data: bytes) -> OpmlDocument:
    """Read an OPML subscription list. Raises OpmlError when it is no OPML document."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the file is too large ({len(data) // 1024} KiB; at most 10 MiB)")
    if not data.strip():
        raise OpmlError("the file is empty")
    text = _prepared(data)
    root, warning = _parse_tree(text)
    documents = [e for e in root.iter() if _name(e) == "opml"] or _bare_bodies(root)
    if not documents:
        first = next((e for e in root if isinstance(e.tag, str)), None)
        found = f"its document element is <{_qualified(first)}>" if first is not None else ""
        raise OpmlError(f"not an OPML subscription list: {found or 'no elements'}", _line(first))
    reader = _Reader()
    for document in documents:
        reader.read(document)
    return OpmlDocument(
        title=reader.title,
        version=reader.version,
        feeds=tuple(reader.feeds.values()),
        duplicates=tuple(reader.duplicates),
        lists=tuple(reader.lists),
        skipped=tuple(reader.skipped),
        warning=warning,
    )


# --- bytes to a tree ---------------------------------------------------------------------


def _prepared(data: bytes) -> str:
    """The document as text, without XML declarations and DOCTYPE (line numbers kept),
    HTML entity names turned into character references, wrapped in one element so that
    concatenated documents are one tree."""
    text = _decode(data)
    keep_lines = _keep_lines
    text = _DOCTYPE.sub(keep_lines, _DECLARATION.sub(keep_lines, text))
    text = _ENTITY.sub(_entity, text)
    return f"<{_WRAPPER}>{text}</{_WRAPPER}>"


def _keep_lines(match: re.Match[str]) -> str:
    return "\n" * match.group().count("\n")


def _decode(data: bytes) -> str:
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    declared = _ENCODING.search(data[:1024])
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:  # an encoding Python does not know
        return data.decode("utf-8", errors="replace")


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group()
    code = html.entities.name2codepoint.get(name)
    if code is not None:
        return f"&#{code};"
    return f"&amp;{name};"  # undefined: kept as written


def _parse_tree(text: str) -> tuple[Any, str | None]:
    """The tree, strictly if possible, else recovered (with the first problem's line)."""
    options: dict[str, Any] = {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }
    try:
        return etree.fromstring(text, etree.XMLParser(**options)), None
    except etree.XMLSyntaxError as e:
        problem = _problem(e)
    try:
        root = etree.fromstring(text, etree.XMLParser(recover=True, **options))
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        raise OpmlError(f"not an OPML subscription list: {problem[0]}", problem[1])
    message, line = problem
    return root, f"line {line}: {message}; read what could be read" if line else message


def _problem(error: etree.XMLSyntaxError) -> tuple[str, int | None]:
    message = str(error.msg or error).split(", line ")[0].strip()
    if _WRAPPER in message:  # the wrapper's end tag: the document itself was not closed
        message = "the document ends before its elements are closed"
    return message.rstrip(".") or "malformed XML", error.lineno or None


def _name(element: Any) -> str:
    """An element's local name, lower-cased ("" for comments and the like)."""
    if not isinstance(element.tag, str):
        return ""
    return str(etree.QName(element).localname).lower()


def _qualified(element: Any) -> str:
    prefix = element.prefix
    local = etree.QName(element).localname
    return f"{prefix}:{local}" if prefix else str(local)


def _line(element: Any) -> int | None:
    return int(element.sourceline) if element is not None and element.sourceline else None


def _bare_bodies(root: Any) -> list[Any]:
    """A <body> of outlines without its <opml> (a fragment): read it too."""
    return [element for element in root if _name(element) == "body"]


# --- the tree to subscriptions ----------------------------------------------------------


def _attributes(element: Any) -> dict[str, str]:
    """Attribute names lower-cased (xmlUrl, xmlurl, XMLURL), values stripped."""
    return {
        str(etree.QName(name).localname).lower(): " ".join(str(value).split())
        for name, value in element.attrib.items()
    }


def _category_paths(value: str) -> list[tuple[str, ...]]:
    paths = []
    for entry in value.split(","):
        parts = tuple(" ".join(part.split()) for part in entry.split("/"))
        path = tuple(part for part in parts if part)
        if path:
            paths.append(path)
    return paths


def _feed_key(url: str) -> str:
    """How two listings of a feed are recognised: scheme and host in any case."""
    try:
        parts = urlsplit(url)
        return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
    except ValueError:
        return url


@dataclass
class _Reader:
    title: str | None = None
    version: str | None = None
    feeds: dict[str, OpmlFeed] = field(default_factory=dict)
    duplicates: list[OpmlFeed] = field(default_factory=list)
    lists: list[OpmlList] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seen: int = 0

    def read(self, document: Any) -> None:
        if _name(document) == "opml":
            self.version = self.version or _attributes(document).get("version") or None
            for head in (e for e in document if _name(e) == "head"):
                for title in (e for e in head if _name(e) == "title"):
                    text = " ".join("".join(title.itertext()).split())
                    self.title = self.title or text or None
            bodies = [e for e in document if _name(e) == "body"]
        else:
            bodies = [document]
        for body in bodies:
            self.walk(body)

    def walk(self, body: Any) -> None:
        # Depth first, without recursion: a hostile file may nest deeply.
        pending: list[tuple[Any, tuple[str, ...]]] = [
            (child, ()) for child in reversed(body) if _name(child) == "outline"
        ]
        while pending:
            outline, folders = pending.pop()
            self.seen += 1
            if self.seen > MAX_OUTLINES:
                raise OpmlError(f"more than {MAX_OUTLINES} outlines", _line(outline))
            children = [child for child in outline if _name(child) == "outline"]
            attributes = _attributes(outline)
            name = attributes.get("text") or attributes.get("title") or None
            kind = attributes.get("type", "").lower()
            if kind == "source" and (attributes.get("xmlurl") or attributes.get("url")):
                # Liferea's subscription lists.
                self.lists.append(OpmlList(attributes.get("xmlurl") or attributes["url"], name))
            elif attributes.get("xmlurl") and _SCRAPING.search(kind):
                self.skipped.append(
                    f"line {_line(outline)}: {name or attributes['xmlurl']!r} is a web page read "
                    f"by scraping (type {attributes['type']}), not a feed"
                )
            elif attributes.get("xmlurl"):
                self.add_feed(outline, attributes, folders, name)
            elif kind in _LIST_TYPES and attributes.get("url"):
                self.lists.append(OpmlList(attributes["url"], name))
            elif children:
                inner = (*folders, name) if name else folders
                pending.extend((child, inner) for child in reversed(children))
            elif attributes.get("htmlurl"):
                self.skipped.append(
                    f"line {_line(outline)}: {name or attributes['htmlurl']!r} has only a web "
                    f"page address ({attributes['htmlurl']}); add it by that address to find "
                    "its feed"
                )

    def add_feed(
        self, outline: Any, attributes: dict[str, str], folders: tuple[str, ...], name: str | None
    ) -> None:
        url = attributes["xmlurl"]
        categories = [folders] if folders else []
        categories += _category_paths(attributes.get("category", ""))
        feed = OpmlFeed(
            url=url,
            title=name,
            html_url=attributes.get("htmlurl") or None,
            categories=tuple(dict.fromkeys(categories)),
            line=_line(outline),
            paused=attributes.get("disabled", "").lower() in ("true", "1"),
        )
        key = _feed_key(url)
        first = self.feeds.get(key)
        if first is None:
            self.feeds[key] = feed
            return
        self.duplicates.append(feed)
        merged = tuple(dict.fromkeys(first.categories + feed.categories))
        self.feeds[key] = OpmlFeed(
            first.url, first.title, first.html_url, merged, first.line, first.paused
        )
