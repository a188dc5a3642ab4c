"""A deterministic loopback feed farm: N source feeds of M items, served over HTTP/1.1.

    python3 benchmarks/farm.py --feeds 1000 --items 50 [--seed 12] [--port 0]
    python3 benchmarks/farm.py --selftest [--feeds 200]   # how fast the farm itself serves

Standard library only, so it runs under any interpreter (it is started as its own
process by vs_reader.py, away from the clients it serves). Every feed body is built
once at start-up, before anything is timed, and served from memory, uncompressed.

Content comes from ``--seed``: the same seed gives the same feeds, byte for byte,
except the dates, which count back from the farm's start (so nothing depends on the
day). Feeds alternate at random between RSS 2.0 (``/rss/N.xml``) and Atom
(``/atom/N.xml``); each item carries about 4 KB of HTML (paragraphs, links,
emphasis, an image, entities, and now and then a script or an event handler that a
sanitizer must drop).

Validators: every response has an ``ETag`` and a ``Last-Modified``; ``If-None-Match``
(or, without it, ``If-Modified-Since``) is answered 304 when it matches. Modes, set at
``GET /_control/mode/<name>`` (which also answers and resets the request counters):

- ``normal``: as above;
- ``ignore-validators``: always 200 with the identical body and headers;
- ``changed``: a fixed 10 % of the feeds (chosen from the seed) gained one new item,
  with a new ETag and Last-Modified; the others behave as in ``normal``.

``GET /_control/stats`` answers the counters (requests by status) as JSON;
``GET /_control/feeds`` the feed URLs (paths), ``GET /_control/changed`` the paths of
the feeds that change in ``changed`` mode.

On start the farm prints one line, ``READY http://127.0.0.1:PORT``, to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODES = ("normal", "ignore-validators", "changed")
SECTION_TAGS = ("US News", "U.S. Military", "World", "Business", "Science", "Politics", "Tech")
KEYWORDS = ("Pentagon", "Navy", "Congress", "the Senate", "Air Force", "the White House")
SYLLABLES = ("ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "pa", "zu", "en", "or", "bi")


# --- content ---------------------------------------------------------------------------


def _words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(count)]


class Corpus:
    """Sentences and words that every item's text is drawn from (deterministic per seed)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"farm-corpus:{seed}")
        self.words = _words(rng, 4000)
        self.sentences = []
        for _ in range(3000):
            words = rng.choices(self.words, k=rng.randint(8, 18))
            if rng.random() < 0.15:
                words.insert(rng.randrange(len(words)), rng.choice(KEYWORDS))
            sentence = " ".join(words)
            self.sentences.append(sentence[0].upper() + sentence[1:] + ".")


def item_html(rng: random.Random, corpus: Corpus, feed: int, item: int) -> str:
    """About 4 KB of HTML: paragraphs with links, emphasis, entities and some hostility."""
    parts = []
    for paragraph in range(9):
        sentences = rng.choices(corpus.sentences, k=rng.randint(5, 6))
        if paragraph == 1:
            sentences[1] = f"<a href='/news/{feed}/{item}/more'>{sentences[1]}</a>"
        elif paragraph == 3:
            sentences[0] = f"<b>{sentences[0]}</b> Tom &amp; Jerry&nbsp;said &ldquo;no&rdquo;."
        elif paragraph == 5:
            sentences[2] = f"<em>{sentences[2]}</em>"
        parts.append("<p>" + " ".join(sentences) + "</p>")
    parts.insert(
        2, f'<img src="https://img.example.org/{feed}/{item}.jpg" alt="photo" width="640">'
    )
    if rng.random() < 0.1:
        parts.append("<script>alert('x')</script><p onclick=\"steal()\">Read more</p>")
    return "\n".join(parts)


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    link: str
    published: datetime
    author: str
    tags: tuple[str, ...]
    body: str  # HTML


def make_item(
    rng: random.Random, corpus: Corpus, feed: int, item: int, published: datetime
) -> Item:
    return Item(
        guid=f"urn:farm:{feed}:{item}",
        title=f"{' '.join(rng.choices(corpus.words, k=7)).capitalize()} ({feed}-{item})",
        link=f"https://f{feed}.example.org/story/{item}",
        published=published,
        author=" ".join(w.capitalize() for w in rng.choices(corpus.words, k=2)),
        tags=tuple(rng.sample(SECTION_TAGS, k=rng.randint(1, 2))),
        body=item_html(rng, corpus, feed, item),
    )


def rss_document(feed: int, items: list[Item], built: datetime) -> bytes:
    entries = "".join(
        f"<item><title>{html.escape(i.title)}</title><link>{i.link}</link>"
        f'<guid isPermaLink="false">{i.guid}</guid>'
        f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
        f"<dc:creator>{html.escape(i.author)}</dc:creator>"
        + "".join(f"<category>{html.escape(t)}</category>" for t in i.tags)
        + f"<description><![CDATA[{i.body}]]></description></item>\n"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Farm feed {feed}</title><link>https://f{feed}.example.org/</link>"
        f"<description>Feed {feed} of the benchmark farm</description>"
        f"<lastBuildDate>{format_datetime(built, usegmt=True)}</lastBuildDate>\n"
        f"{entries}</channel></rss>\n"
    ).encode()


def atom_document(feed: int, items: list[Item], built: datetime) -> bytes:
    entries = "".join(
        f"<entry><id>{i.guid}</id><title>{html.escape(i.title)}</title>"
        f'<link rel="alternate" href="{i.link}"/>'
        f"<published>{i.published.isoformat()}</published>"
        f"<updated>{i.published.isoformat()}</updated>"
        f"<author><name>{html.escape(i.author)}</name></author>"
        + "".join(f'<category term="{html.escape(t)}"/>' for t in i.tags)
        + f'<content type="html">{html.escape(i.body, quote=False)}</content></entry>\n'
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:farm:{feed}</id><title>Farm feed {feed}</title>"
        f'<link rel="alternate" href="https://f{feed}.example.org/"/>'
        f"<updated>{built.isoformat()}</updated>\n{entries}</feed>\n"
    ).encode()


@dataclass(frozen=True)
class Rendition:
    """One version of a feed's document, with its validators."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime  # whole seconds, UTC


class Farm:
    """Every feed's document in its two versions: as first served, and after gaining an item."""

    def __init__(self, feeds: int, items: int, seed: int, now: datetime) -> None:
        self.now = now.replace(microsecond=0)
        corpus = Corpus(seed)
        self.paths: list[str] = []
        self.normal: dict[str, Rendition] = {}
        self.changed: dict[str, Rendition] = {}
        pick = random.Random(f"farm-changed:{seed}")
        self.changed_feeds = set(pick.sample(range(feeds), k=feeds // 10))
        for feed in range(feeds):
            rng = random.Random(f"farm-feed:{seed}:{feed}")
            atom = rng.random() < 0.5
            path = f"/{'atom' if atom else 'rss'}/{feed}.xml"
            # Items are 17 to 61 minutes apart, the newest up to 3 hours old.
            published = self.now - timedelta(minutes=rng.randint(5, 180))
            item_list = []
            for n in range(items):
                item_list.append(make_item(rng, corpus, feed, n, published))
                published -= timedelta(minutes=rng.randint(17, 61))
            self.paths.append(path)
            self.normal[path] = self._render(
                feed, path, atom, item_list, self.now - timedelta(hours=1)
            )
            if feed in self.changed_feeds:
                extra = make_item(rng, corpus, feed, items, self.now - timedelta(minutes=1))
                self.changed[path] = self._render(feed, path, atom, [extra, *item_list], self.now)

    @staticmethod
    def _render(feed: int, path: str, atom: bool, items: list[Item], built: datetime) -> Rendition:
        if atom:
            body = atom_document(feed, items, built)
            content_type = "application/atom+xml; charset=utf-8"
        else:
            body = rss_document(feed, items, built)
            content_type = "application/rss+xml; charset=utf-8"
        return Rendition(
            body, content_type, f'"{feed}-{len(items)}-{int(built.timestamp())}"', built
        )

    def rendition(self, path: str, mode: str) -> Rendition | None:
        if mode == "changed" and path in self.changed:
            return self.changed[path]
        return self.normal.get(path)


def not_modified(rendition: Rendition, headers: Any) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or rendition.etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return rendition.last_modified <= since
    return False


# --- server ----------------------------------------------------------------------------


class FarmServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # reader opens many short connections at once

    def __init__(self, address: tuple[str, int], farm: Farm) -> None:
        super().__init__(address, FarmHandler)
        self.farm = farm
        self.mode = "normal"
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1


class FarmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: FarmServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: thousands of requests

    def do_GET(self) -> None:
        if self.path.startswith("/_control/"):
            self._control(self.path.removeprefix("/_control/"))
            return
        farm, mode = self.server.farm, self.server.mode
        rendition = farm.rendition(self.path, mode)
        if rendition is None:
            self.server.count("404")
            self._send(404, b"not found\n", {"Content-Type": "text/plain"})
            return
        headers = {
            "Content-Type": rendition.content_type,
            "ETag": rendition.etag,
            "Last-Modified": format_datetime(rendition.last_modified, usegmt=True),
        }
        if mode != "ignore-validators" and not_modified(rendition, self.headers):
            self.server.count("304")
            self._send(304, b"", headers)
            return
        self.server.count("200")
        self._send(200, rendition.body, headers)

    def _control(self, command: str) -> None:
        server = self.server
        if command.startswith("mode/") and command.removeprefix("mode/") in MODES:
            with server.lock:
                answer: Any = server.counts
                server.mode, server.counts = command.removeprefix("mode/"), {}
        elif command == "stats":
            with server.lock:
                answer = dict(server.counts, mode=server.mode)
        elif command == "feeds":
            answer = server.farm.paths
        elif command == "changed":
            answer = sorted(server.farm.changed)
        else:
            self._send(404, b"unknown control\n", {"Content-Type": "text/plain"})
            return
        self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


def serve(feeds: int, items: int, seed: int, port: int) -> None:
    started = time.perf_counter()
    farm = Farm(feeds, items, seed, datetime.now(UTC))
    server = FarmServer(("127.0.0.1", port), farm)
    size = sum(len(r.body) for r in farm.normal.values())
    print(
        f"farm: {feeds} feeds x {items} items, {size / 1e6:.0f} MB, "
        f"built in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


# --- a client's handle on a farm process -------------------------------------------------


class FarmProcess:
    """Starts farm.py as its own process; a context manager. Standard library only."""

    def __init__(self, feeds: int, items: int, seed: int, python: str = sys.executable) -> None:
        self.args = [python, str(Path(__file__).resolve()), "--feeds", str(feeds)]
        self.args += ["--items", str(items), "--seed", str(seed)]
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> FarmProcess:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"the farm did not start: {line!r}")
        self.base_url = line.removeprefix("READY ")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def control(self, command: str) -> Any:
        host, port = self.base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request("GET", f"/_control/{command}")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"farm control {command}: HTTP {response.status}")
            return json.loads(body)
        finally:
            connection.close()

    def set_mode(self, mode: str) -> dict[str, int]:
        """Switch mode; returns the request counters since the last switch (and resets them)."""
        return self.control(f"mode/{mode}")  # type: ignore[no-any-return]

    def urls(self) -> list[str]:
        return [self.base_url + path for path in self.control("feeds")]

    def changed_urls(self) -> list[str]:
        return [self.base_url + path for path in self.control("changed")]

    def cpu_seconds(self) -> float:
        """User + system CPU time the farm process has used so far (Linux /proc)."""
        return process_cpu_seconds(self.pid)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- self-test: is the farm fast enough not to be the bottleneck? -------------------------


def selftest(feeds: int, items: int, seed: int, workers: int) -> None:
    with FarmProcess(feeds, items, seed) as farm:
        paths = farm.control("feeds")
        host, port = farm.base_url.removeprefix("http://").split(":")
        etags: dict[str, str] = {}

        def client(share: list[str], conditional: bool) -> None:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            for path in share:
                headers = {"If-None-Match": etags[path]} if conditional else {}
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if not conditional:
                    etags[path] = response.headers["ETag"]
            connection.close()

        print(f"farm self-test: {feeds} feeds x {items} items, {workers} keep-alive clients")
        for label, conditional in (("200 (full body)", False), ("304", True)):
            cpu_before, started = farm.cpu_seconds(), time.perf_counter()
            threads = [
                threading.Thread(target=client, args=(paths[i::workers], conditional))
                for i in range(workers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            cpu = farm.cpu_seconds() - cpu_before
            print(
                f"  {label:<16} {feeds / wall:8.0f} requests/s (this Python client's limit), "
                f"farm CPU {cpu / feeds * 1000:.3f} ms/request "
                f"= at most {feeds / max(cpu, 1e-9):,.0f} requests/s per core"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--selftest", action="store_true", help="measure the farm, then exit")
    parser.add_argument("--workers", type=int, default=16, help="clients for --selftest")
    args = parser.parse_args()
    if args.selftest:
        selftest(args.feeds, args.items, args.seed, args.workers)
    else:
        serve(args.feeds, args.items, args.seed, args.port)


if __name__ == "__main__":
    main()
