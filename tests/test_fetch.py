"""aggregator.fetch against real HTTP(S) servers on loopback."""

from __future__ import annotations

import email.utils
import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator import __version__
from aggregator.config import PollingConfig
from aggregator.errors import (
    BlockedAddressError,
    FeedGoneError,
    FetchCancelledError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from aggregator.fetch import (
    USER_AGENT,
    Fetcher,
    FetchLimits,
    fetch_feed,
    is_public_address,
    local_file_validator,
)
from tests.httpserver import FeedServer, RecordedRequest, Response

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
LOCAL = FetchLimits(allow_private_networks=True)
# Time bounds below are resource limits with generous slack, not benchmarks.
SLACK = 3.0


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    local_fetcher = Fetcher(LOCAL)
    yield local_fetcher
    local_fetcher.close()


def fetch_with(limits: FetchLimits, url: str, **kwargs: str) -> object:
    """Fetches with a throwaway Fetcher (closed afterwards)."""
    return fetch_feed(url, limits=limits, **kwargs)


# --- the happy path ------------------------------------------------------------------


def test_200_returns_body_validators_and_lower_cased_headers(server, fetcher):
    server.route("/feed.xml", FeedServer.feed(RSS))

    result = fetcher.fetch(server.url("/feed.xml"))

    assert result.status == 200
    assert result.body == RSS
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 02 Nov 2026 10:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert all(name == name.lower() for name in result.headers)
    assert result.url == result.final_url == server.url("/feed.xml")
    assert result.permanent_redirect_url is None
    assert not result.not_modified
    assert 0 <= result.elapsed_seconds < 5


def test_request_headers(server, fetcher):
    server.route("/feed.xml", FeedServer.feed(RSS))

    fetcher.fetch(server.url("/feed.xml"))

    [request] = server.requests_for("/feed.xml")
    assert request.method == "GET"
    assert request.headers["user-agent"] == USER_AGENT
    assert f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)" == USER_AGENT
    assert request.headers["accept"].startswith("application/atom+xml, application/rss+xml")
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers


def test_conditional_request_gets_304(server, fetcher):
    server.route("/feed.xml", FeedServer.feed(RSS, etag='"v2"', last_modified="Tue, x"))

    result = fetcher.fetch(server.url("/feed.xml"), etag='"v2"', last_modified="Tue, x")

    assert result.status == 304
    assert result.not_modified
    assert result.body is None
    assert (result.etag, result.last_modified) == ('"v2"', "Tue, x")
    [request] = server.requests_for("/feed.xml")
    assert request.headers["if-none-match"] == '"v2"'
    assert request.headers["if-modified-since"] == "Tue, x"


def test_if_modified_since_alone_gets_304(server, fetcher):
    date = "Mon, 02 Nov 2026 10:00:00 GMT"
    server.route("/feed.xml", FeedServer.feed(RSS, etag=None, last_modified=date))

    result = fetcher.fetch(server.url("/feed.xml"), last_modified=date)

    assert result.status == 304
    assert result.last_modified == date


def test_304_without_validators_keeps_the_ones_sent(server, fetcher):
    server.route("/feed.xml", FeedServer.status(304))

    result = fetcher.fetch(server.url("/feed.xml"), etag='"old"', last_modified="Sun, y")

    assert result.status == 304
    assert (result.etag, result.last_modified) == ('"old"', "Sun, y")


def test_stale_etag_gets_full_body(server, fetcher):
    server.route("/feed.xml", FeedServer.feed(RSS, etag='"v2"'))

    result = fetcher.fetch(server.url("/feed.xml"), etag='"v1"')

    assert result.status == 200
    assert result.etag == '"v2"'


def test_unsafe_stored_validators_are_not_sent(server, fetcher):
    server.route("/feed.xml", FeedServer.feed(RSS))

    result = fetcher.fetch(server.url("/feed.xml"), etag='"a"\r\nX-Evil: 1', last_modified="é")

    assert result.status == 200
    [request] = server.requests_for("/feed.xml")
    assert "if-none-match" not in request.headers
    assert "x-evil" not in request.headers
    assert "if-modified-since" not in request.headers


def test_fetch_feed_one_shot(server):
    server.route("/feed.xml", FeedServer.feed(RSS))

    result = fetch_feed(server.url("/feed.xml"), limits=LOCAL)

    assert result.body == RSS


def test_limits_from_polling_config():
    polling = PollingConfig(
        allow_private_networks=True,
        timeout_seconds=12.0,
        connect_timeout_seconds=3.0,
        max_body_bytes=1000,
    )

    limits = FetchLimits.from_polling(polling)

    assert limits == FetchLimits(
        allow_private_networks=True, connect_timeout=3.0, total_timeout=12.0, max_body_bytes=1000
    )


def test_fetcher_is_shared_by_threads(server, fetcher):
    for number in range(8):
        server.route(f"/feed{number}.xml", FeedServer.feed(RSS + str(number).encode()))
    results: dict[int, bytes | None] = {}

    def work(number: int) -> None:
        for _ in range(5):
            results[number] = fetcher.fetch(server.url(f"/feed{number}.xml")).body

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {number: RSS + str(number).encode() for number in range(8)}


# --- content encodings ---------------------------------------------------------------


def test_gzip_is_decoded(server, fetcher):
    server.route("/feed.xml", FeedServer.feed(RSS, gzip=True))

    result = fetcher.fetch(server.url("/feed.xml"))

    assert result.headers["content-encoding"] == "gzip"
    assert result.body == RSS


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_is_decoded_wrapped_or_raw(server, fetcher, wbits):
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = compressor.compress(RSS * 100) + compressor.flush()
    server.route("/feed.xml", Response(200, body, {"Content-Encoding": "deflate"}))

    assert fetcher.fetch(server.url("/feed.xml")).body == RSS * 100


def test_concatenated_gzip_members_are_all_decoded(server, fetcher):
    body = gzip.compress(b"<rss>") + gzip.compress(b"</rss>")
    server.route("/feed.xml", Response(200, body, {"Content-Encoding": "gzip"}))

    assert fetcher.fetch(server.url("/feed.xml")).body == b"<rss></rss>"


def test_large_gzip_body_under_the_cap(server, fetcher):
    payload = RSS * 50_000  # ~4 MB, many read chunks and decompressor pieces
    server.route("/feed.xml", Response(200, gzip.compress(payload), {"Content-Encoding": "gzip"}))

    assert fetcher.fetch(server.url("/feed.xml")).body == payload


def test_corrupt_gzip_is_a_fetch_error(server, fetcher):
    server.route("/feed.xml", Response(200, b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}))

    with pytest.raises(FetchError, match="decompress"):
        fetcher.fetch(server.url("/feed.xml"))


def test_unrequested_content_encoding_is_refused(server, fetcher):
    server.route("/feed.xml", Response(200, b"??", {"Content-Encoding": "br"}))

    with pytest.raises(FetchError, match="unsupported content encoding"):
        fetcher.fetch(server.url("/feed.xml"))


# --- redirects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "permanent"), [(301, True), (302, False), (303, False), (307, False), (308, True)]
)
def test_redirect_followed_and_permanent_ones_recorded(server, fetcher, code, permanent):
    server.route("/old", FeedServer.redirect(server.url("/new"), code))
    server.route("/new", FeedServer.feed(RSS))

    result = fetcher.fetch(server.url("/old"))

    assert result.body == RSS
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new")
    assert result.permanent_redirect_url == (server.url("/new") if permanent else None)


def test_relative_location_is_resolved(server, fetcher):
    server.route("/a/old", FeedServer.redirect("../b/new?x=1", 301))
    server.route("/b/new?x=1", FeedServer.feed(RSS))

    result = fetcher.fetch(server.url("/a/old"))

    assert result.final_url == server.url("/b/new?x=1")
    assert result.permanent_redirect_url == server.url("/b/new?x=1")


def test_permanent_move_after_a_temporary_one_is_not_recorded(server, fetcher):
    server.route("/a", FeedServer.redirect("/b", 302))
    server.route("/b", FeedServer.redirect("/c", 301))
    server.route("/c", FeedServer.feed(RSS))

    assert fetcher.fetch(server.url("/a")).permanent_redirect_url is None


def test_permanent_move_before_a_temporary_one_is_recorded(server, fetcher):
    server.route("/a", FeedServer.redirect("/b", 301))
    server.route("/b", FeedServer.redirect("/c", 307))
    server.route("/c", FeedServer.feed(RSS))

    result = fetcher.fetch(server.url("/a"))

    assert result.permanent_redirect_url == server.url("/b")
    assert result.final_url == server.url("/c")


def redirect_chain(server: FeedServer, hops: int) -> str:
    for hop in range(hops):
        server.route(f"/hop{hop}", FeedServer.redirect(f"/hop{hop + 1}", 301))
    server.route(f"/hop{hops}", FeedServer.feed(RSS))
    return server.url("/hop0")


def test_five_redirects_are_allowed(server, fetcher):
    result = fetcher.fetch(redirect_chain(server, 5))

    assert result.final_url == server.url("/hop5")
    assert result.permanent_redirect_url == server.url("/hop5")


def test_six_redirects_are_too_many(server, fetcher):
    with pytest.raises(TooManyRedirectsError):
        fetcher.fetch(redirect_chain(server, 6))

    assert server.requests_for("/hop6") == []


def test_redirect_loop(server, fetcher):
    server.route("/a", FeedServer.redirect("/b", 302))
    server.route("/b", FeedServer.redirect("/a", 302))

    with pytest.raises(TooManyRedirectsError, match="loop"):
        fetcher.fetch(server.url("/a"))


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/feed"])
def test_redirect_to_other_schemes_is_refused(server, fetcher, target):
    server.route("/feed.xml", FeedServer.redirect(target, 302))

    with pytest.raises(FetchError, match="refusing") as caught:
        fetcher.fetch(server.url("/feed.xml"))

    assert caught.value.url == server.url("/feed.xml")


def test_redirect_without_location_is_an_error(server, fetcher):
    server.route("/feed.xml", FeedServer.status(302))

    with pytest.raises(FetchError, match="unexpected HTTP status 302"):
        fetcher.fetch(server.url("/feed.xml"))


# --- HTTP errors -----------------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_error_statuses(server, fetcher, code, reason):
    server.route("/feed.xml", FeedServer.status(code, body=b"oops"))

    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(server.url("/feed.xml"))

    assert caught.type is HTTPStatusError
    assert (caught.value.status, caught.value.reason) == (code, reason)
    assert caught.value.retry_after_seconds is None
    assert caught.value.url == server.url("/feed.xml")
    assert str(caught.value) == f"HTTP {code} {reason}"


def test_410_is_feed_gone(server, fetcher):
    server.route("/feed.xml", FeedServer.status(410))

    with pytest.raises(FeedGoneError) as caught:
        fetcher.fetch(server.url("/feed.xml"))

    assert caught.value.status == 410


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_seconds(server, fetcher, code):
    server.route("/feed.xml", FeedServer.status(code, {"Retry-After": "120"}))

    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(server.url("/feed.xml"))

    assert caught.value.retry_after_seconds == 120


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_http_date(server, fetcher, code):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    server.route("/feed.xml", FeedServer.status(code, {"Retry-After": when}))

    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(server.url("/feed.xml"))

    assert 110 <= caught.value.retry_after_seconds <= 121


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Wed, 21 Oct 2015 07:28:00 GMT", 0), ("soon", None), ("-5", None), ("", None)],
)
def test_retry_after_odd_values(server, fetcher, value, expected):
    server.route("/feed.xml", FeedServer.status(503, {"Retry-After": value}))

    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(server.url("/feed.xml"))

    assert caught.value.retry_after_seconds == expected


# --- time limits -----------------------------------------------------------------------


def test_silent_server_times_out_at_the_deadline(server):
    server.route("/feed.xml", FeedServer.hang(60))
    limits = FetchLimits(allow_private_networks=True, connect_timeout=1.0, total_timeout=1.5)

    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        fetch_with(limits, server.url("/feed.xml"))

    assert time.monotonic() - started < limits.total_timeout + SLACK


def test_a_stuck_name_lookup_ends_at_the_deadline(server, monkeypatch):
    # getaddrinfo cannot be interrupted: a resolver that never answers must not hold
    # the fetch (and its poller worker) past the deadline.
    released = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "stuck-dns.test":
            released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    limits = FetchLimits(allow_private_networks=True, total_timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(FetchTimeoutError, match="timed out after 1 s"):
            fetch_with(limits, f"http://stuck-dns.test:{server.port}/feed.xml")
        assert time.monotonic() - started < limits.total_timeout + SLACK
        # The same lookup answering in time still works (and the pool is not stuck).
        server.route("/feed.xml", FeedServer.feed(RSS))
        assert fetch_with(limits, server.url("/feed.xml")).status == 200
    finally:
        released.set()


def test_trickling_server_is_abandoned_at_the_deadline(server):
    server.route("/feed.xml", FeedServer.trickle(RSS, interval=0.5))
    limits = FetchLimits(allow_private_networks=True, total_timeout=1.5)

    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match="timed out"):
        fetch_with(limits, server.url("/feed.xml"))

    assert time.monotonic() - started < limits.total_timeout + SLACK


def test_deadline_covers_all_redirect_hops(server):
    # Each hop answers well within the socket timeout; together they pass the deadline.
    def slow_redirect(target: str):
        def handle(request: RecordedRequest) -> Response:
            time.sleep(0.4)
            return FeedServer.redirect(target, 302)

        return handle

    for hop in range(5):
        server.route(f"/hop{hop}", slow_redirect(f"/hop{hop + 1}"))
    server.route("/hop5", FeedServer.feed(RSS))
    limits = FetchLimits(allow_private_networks=True, total_timeout=1.0)

    with pytest.raises(FetchTimeoutError):
        fetch_with(limits, server.url("/hop0"))


def test_trickle_within_the_deadline_succeeds(server):
    server.route("/feed.xml", FeedServer.trickle(b"<rss/>", interval=0.05))
    limits = FetchLimits(allow_private_networks=True, total_timeout=5.0)

    assert fetch_feed(server.url("/feed.xml"), limits=limits).body == b"<rss/>"


# --- size limits -----------------------------------------------------------------------


def test_gzip_bomb_is_stopped_at_the_cap_with_little_memory(server):
    server.route("/feed.xml", FeedServer.gzip_bomb())  # 2 GiB of zeros in ~2 MB
    limits = FetchLimits(allow_private_networks=True, max_body_bytes=15 * 1024 * 1024)

    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError, match="response body too large"):
            fetch_with(limits, server.url("/feed.xml"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 100 * 1024 * 1024


def test_gzip_bomb_served_by_the_test_server_is_valid():
    route = FeedServer.gzip_bomb(3 * 1024 * 1024 + 5)
    with FeedServer() as server:
        server.route("/bomb", route)
        limits = FetchLimits(allow_private_networks=True, max_body_bytes=4 * 1024 * 1024)
        assert fetch_feed(server.url("/bomb"), limits=limits).body == bytes(3 * 1024 * 1024 + 5)


def test_oversized_body_without_content_length_is_cut_off(server):
    server.route("/feed.xml", FeedServer.oversized(20 * 1024 * 1024, content_length=False))

    with pytest.raises(ResponseTooLargeError):
        fetch_with(LOCAL, server.url("/feed.xml"))


def test_content_length_over_the_cap_is_rejected_upfront(server):
    server.route("/feed.xml", FeedServer.oversized(20 * 1024 * 1024))

    with pytest.raises(ResponseTooLargeError, match=r"too large \(20 MiB, limit 15 MiB\)"):
        fetch_with(LOCAL, server.url("/feed.xml"))


def test_small_cap(server):
    server.route("/feed.xml", FeedServer.feed(b"x" * 1001))
    server.route("/ok.xml", FeedServer.feed(b"x" * 1000))
    limits = FetchLimits(allow_private_networks=True, max_body_bytes=1000)

    with pytest.raises(ResponseTooLargeError):
        fetch_with(limits, server.url("/feed.xml"))
    assert fetch_feed(server.url("/ok.xml"), limits=limits).body == b"x" * 1000


def test_endless_chunked_body_is_cut_off(server):
    server.route("/feed.xml", FeedServer.endless_chunked())
    limits = FetchLimits(allow_private_networks=True, total_timeout=5.0)

    with pytest.raises((ResponseTooLargeError, FetchTimeoutError)):
        fetch_with(limits, server.url("/feed.xml"))


# --- SSRF guard --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "2130706433",
        "[::ffff:127.0.0.1]",
        "localhost",
        "0.0.0.0",
    ],
)
def test_guard_refuses_loopback_in_any_spelling(server, host):
    server.route("/feed.xml", FeedServer.feed(RSS))

    with pytest.raises(BlockedAddressError) as caught:
        fetch_feed(f"http://{host}:{server.port}/feed.xml")

    assert server.requests == []
    assert caught.value.url == f"http://{host}:{server.port}/feed.xml"
    # The refusal says what to change when the feed is on purpose on this network.
    assert "set polling.allow_private_networks: true in feeds.yaml" in str(caught.value)


def test_guard_checks_every_redirect_hop(server):
    # Every 127/8 address is on the loopback interface in Linux, so a second server
    # can stand in for an internal host; the policy admits only the first one.
    with FeedServer(host="127.0.0.2") as internal:
        internal.route("/secret", FeedServer.feed(b"secret"))
        server.route("/feed.xml", FeedServer.redirect(internal.url("/secret"), 302))
        server.route("/direct.xml", FeedServer.feed(RSS))
        fetcher = Fetcher(FetchLimits(), address_policy=lambda ip: ip == "127.0.0.1")
        try:
            assert fetcher.fetch(server.url("/direct.xml")).body == RSS  # the policy is used
            with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2"):
                fetcher.fetch(server.url("/feed.xml"))
        finally:
            fetcher.close()
        assert internal.requests == []
        assert len(server.requests_for("/feed.xml")) == 1


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "224.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "127.0.0.1",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "2002:c0a8:101::",  # 6to4 wrapping 192.168.1.1
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "2001:db8::1",
        "not an address",
        "",
    ],
)
def test_non_public_addresses(ip):
    assert is_public_address(ip) is False


@pytest.mark.parametrize(
    "ip", ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses(ip):
    assert is_public_address(ip) is True


# --- network failures ----------------------------------------------------------------------


def test_unresolvable_host(fetcher):
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"could not resolve host feed\.invalid") as caught:
        fetcher.fetch("http://feed.invalid/feed.xml")

    assert caught.type is FetchError
    assert time.monotonic() - started < 10


def test_connection_refused(fetcher):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once it's closed

    with pytest.raises(FetchError, match="connection refused"):
        fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")


def test_connect_timeout_is_shorter_than_the_deadline():
    # With a full accept queue Linux drops further SYNs, so connecting stalls.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        fillers = fill_accept_queue(port)
        limits = FetchLimits(allow_private_networks=True, connect_timeout=0.5, total_timeout=10)
        started = time.monotonic()
        try:
            with pytest.raises(FetchTimeoutError, match="connecting"):
                fetch_with(limits, f"http://127.0.0.1:{port}/feed.xml")
        finally:
            for filler in fillers:
                filler.close()
        assert time.monotonic() - started < limits.connect_timeout + SLACK


def fill_accept_queue(port: int) -> list[socket.socket]:
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.settimeout(0.2)
        fillers.append(filler)
        try:
            filler.connect(("127.0.0.1", port))
        except TimeoutError:
            return fillers
    for filler in fillers:
        filler.close()
    pytest.skip("could not fill the accept queue")


def test_internationalized_host_name_is_looked_up(fetcher):
    with pytest.raises(FetchError, match=r"could not resolve host пример\.invalid"):
        fetcher.fetch("http://пример.invalid/feed.xml")


@pytest.mark.parametrize(
    "url", ["http://", "http://exa mple.org/", "http://127.0.0.1:99999/", "http://[::1/"]
)
def test_invalid_url(fetcher, url):
    with pytest.raises(FetchError, match="invalid URL"):
        fetcher.fetch(url)


def test_unsupported_scheme(fetcher):
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetcher.fetch("ftp://example.org/feed.xml")


# --- file: URLs ------------------------------------------------------------------------------


def test_file_url_is_read(tmp_path: Path, fetcher):
    path = tmp_path / "my feed.xml"
    path.write_bytes(RSS)

    result = fetcher.fetch(path.as_uri())

    assert (result.status, result.body, result.final_url) == (200, RSS, path.as_uri())
    assert result.etag is None
    assert result.last_modified == local_file_validator(path.as_uri())


def test_an_unchanged_file_is_not_read_again(tmp_path: Path, fetcher):
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    first = fetcher.fetch(path.as_uri())
    assert first.last_modified is not None

    again = fetcher.fetch(path.as_uri(), last_modified=first.last_modified)
    assert (again.status, again.body, again.last_modified) == (304, None, first.last_modified)

    path.write_bytes(RSS + b" ")  # an edit changes the modification time and the size
    edited = fetcher.fetch(path.as_uri(), last_modified=first.last_modified)
    assert (edited.status, edited.body) == (200, RSS + b" ")
    assert edited.last_modified != first.last_modified


def test_local_file_validator(tmp_path: Path):
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    stat = path.stat()
    assert local_file_validator(path.as_uri()) == f"{stat.st_mtime_ns}-{stat.st_size}"
    assert local_file_validator((tmp_path / "absent.xml").as_uri()) is None
    assert local_file_validator("https://example.org/feed.xml") is None


def test_missing_file(tmp_path: Path, fetcher):
    with pytest.raises(FetchError, match="no such file"):
        fetcher.fetch((tmp_path / "absent.xml").as_uri())


def test_file_over_the_cap(tmp_path: Path):
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 101)

    with pytest.raises(ResponseTooLargeError):
        fetch_feed(path.as_uri(), limits=FetchLimits(max_body_bytes=100))


def test_directory_is_not_a_feed(tmp_path: Path, fetcher):
    with pytest.raises(FetchError, match="directory"):
        fetcher.fetch(tmp_path.as_uri())


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate) -> Iterator[FeedServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with FeedServer(tls=context) as feed_server:
        yield feed_server


def test_https_fetch(tls_server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust our test CA
    tls_server.route("/feed.xml", FeedServer.feed(RSS, gzip=True))

    result = fetch_feed(tls_server.url("/feed.xml"), limits=LOCAL)

    assert result.final_url.startswith("https://")
    assert result.body == RSS


def test_https_trickle_is_abandoned_at_the_deadline(tls_server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    tls_server.route("/feed.xml", FeedServer.trickle(RSS, interval=0.3))
    limits = FetchLimits(allow_private_networks=True, total_timeout=1.0)

    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        fetch_with(limits, tls_server.url("/feed.xml"))

    assert time.monotonic() - started < limits.total_timeout + SLACK


def test_untrusted_certificate(tls_server):
    tls_server.route("/feed.xml", FeedServer.feed(RSS))

    with pytest.raises(FetchError, match="TLS error: certificate verify failed"):
        fetch_with(LOCAL, tls_server.url("/feed.xml"))


def test_tls_to_a_plain_http_server(server):
    with pytest.raises(FetchError, match="TLS error"):
        fetch_with(LOCAL, f"https://127.0.0.1:{server.port}/feed.xml")


def test_silent_tls_handshake_times_out():
    # A listener that never accepts: the kernel completes TCP, nobody answers the hello.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        limits = FetchLimits(allow_private_networks=True, total_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError):
            fetch_with(limits, f"https://127.0.0.1:{port}/feed.xml")
        assert time.monotonic() - started < limits.total_timeout + SLACK


# --- cancelling fetches in flight (a stopping service) -------------------------------------


@pytest.mark.parametrize("route", ["hang", "trickle"])
def test_cancel_cuts_fetches_in_flight_short(server, route):
    if route == "hang":
        server.route("/feed.xml", FeedServer.hang(60))
    else:
        server.route("/feed.xml", FeedServer.trickle(RSS * 100, interval=1.0))
    fetcher = Fetcher(FetchLimits(allow_private_networks=True, total_timeout=60))
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            fetcher.fetch(server.url("/feed.xml"))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fetcher.cancel() == 2
    for thread in threads:
        thread.join(timeout=SLACK)
        assert not thread.is_alive()  # well before the 60 s deadline
    assert len(errors) == 2
    assert all(isinstance(error, FetchCancelledError) for error in errors), errors
    with pytest.raises(FetchCancelledError):  # a cancelled fetcher starts nothing new
        fetcher.fetch(server.url("/feed.xml"))
    assert len(server.requests) == 2
    fetcher.close()
