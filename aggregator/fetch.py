"""Retrieving feeds: conditional GET, redirects, size and time limits, SSRF guard.

The only module that imports urllib3. Whatever goes wrong comes out as a FetchError
subclass carrying the feed URL; library exceptions never escape.

Two mechanisms are worth knowing about:

* The SSRF guard lives in the connection class: every connection (first request and
  every redirect hop) resolves the host itself, drops addresses the policy refuses and
  connects to an allowed address, so a DNS answer can't change between check and use.
* The total deadline is enforced by the sockets: before every receive they shrink their
  timeout to the time left for the fetch in progress (a thread-local), so neither a
  server trickling bytes nor a slow TLS handshake can stretch a fetch past its deadline.
"""

from __future__ import annotations

import http.client
import ipaddress
import math
import socket
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from urllib3 import PoolManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.connection import allowed_gai_family
from urllib3.util.ssl_ import create_urllib3_context

from aggregator import __version__
from aggregator.errors import (
    BlockedAddressError,
    FeedGoneError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from aggregator.models import FetchResult, PollingConfig

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)

AddressPolicy = Callable[[str], bool]

_HTTP_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_CHUNK_BYTES = 64 * 1024  # read size, and the most a decompressor may produce at once
_GZIP_WBITS = 16 + zlib.MAX_WBITS
# Exceptions urllib3 and the standard library raise for bad URLs, headers or sockets.
_LIBRARY_ERRORS = (HTTPError, OSError, http.client.HTTPException, ValueError)


@dataclass(frozen=True)
class FetchLimits:
    allow_private_networks: bool = False
    connect_timeout: float = 10.0
    total_timeout: float = 30.0  # whole fetch: every redirect hop and the body
    max_body_bytes: int = 15 * 1024 * 1024  # after decompression
    max_redirects: int = 5

    @classmethod
    def from_polling(cls, polling: PollingConfig) -> FetchLimits:
        """Returns the limits a polling configuration asks for."""
        return cls(
            allow_private_networks=polling.allow_private_networks,
            connect_timeout=polling.connect_timeout_seconds,
            total_timeout=polling.timeout_seconds,
            max_body_bytes=polling.max_body_bytes,
        )


# --- which addresses may be contacted ------------------------------------------------

# Not covered (in every Python version) by the ipaddress properties used below.
_EXTRA_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("100.64.0.0/10", "192.0.0.0/24", "64:ff9b:1::/48", "fec0::/10")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip: str) -> bool:
    """Returns True when ``ip`` (an IPv4/IPv6 literal) is a globally routable unicast address.

    False for loopback, private, link-local, CGNAT, multicast, unspecified and reserved
    addresses, for IPv6 forms embedding such an IPv4 address (mapped, 6to4, NAT64),
    and for anything that is not an IP address.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        # Judged by the IPv4 host it reaches; the wrapping prefixes vary in is_global.
        return _is_public(embedded)
    return _is_public(address)


def _embedded_ipv4(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    special = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or any(address in network for network in _EXTRA_BLOCKED_NETWORKS)
    )
    return address.is_global and not special


def _allow_any_address(ip: str) -> bool:
    return True


# --- per-fetch state shared with the sockets -----------------------------------------


class _Deadline:
    """The moment (time.monotonic) a fetch must be finished by."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.at = self.started + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check(self, url: str) -> None:
        """Raises FetchTimeoutError once the deadline has passed."""
        if self.remaining() <= 0:
            raise FetchTimeoutError(url, self.message())

    def message(self) -> str:
        return f"timed out after {self.seconds:g} s"


@dataclass(frozen=True)
class _CallContext:
    deadline: _Deadline
    address_policy: AddressPolicy


# urllib3 connects and reads in the calling thread, so a thread-local is how the
# connection and socket classes (created deep inside urllib3) see the fetch in progress.
_calls = threading.local()


@contextmanager
def _in_call(context: _CallContext) -> Iterator[None]:
    previous = getattr(_calls, "context", None)
    _calls.context = context
    try:
        yield
    finally:
        _calls.context = previous


def _current_call() -> _CallContext | None:
    context: _CallContext | None = getattr(_calls, "context", None)
    return context


def _time_left() -> float | None:
    """Returns the seconds left for the fetch in progress (None outside a fetch).

    Raises TimeoutError (what a socket raises) when there are none left.
    """
    context = _current_call()
    if context is None:
        return None
    remaining = context.deadline.remaining()
    if remaining <= 0:
        raise TimeoutError("fetch deadline passed")
    return remaining


def _limit_to_deadline(sock: socket.socket) -> None:
    remaining = _time_left()
    if remaining is not None:
        sock.settimeout(remaining)


class _DeadlineSocket(socket.socket):
    """A TCP socket whose every receive ends by the current fetch's deadline."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        _limit_to_deadline(self)
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        _limit_to_deadline(self)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        _limit_to_deadline(self)
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS counterpart of _DeadlineSocket (installed as the context's socket class)."""

    def do_handshake(self, block: bool = False) -> None:
        _limit_to_deadline(self)
        super().do_handshake(block)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        _limit_to_deadline(self)
        return super().recv(buflen, flags)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None, flags: int = 0) -> int:
        _limit_to_deadline(self)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        _limit_to_deadline(self)
        super().sendall(data, flags)


# --- guarded connections -------------------------------------------------------------


class _AddressRefused(Exception):
    """Raised inside urllib3 when no resolved address passes the policy.

    Deliberately not an OSError, so urllib3 lets it through untouched.
    """


def _open_guarded_socket(conn: HTTPConnection) -> socket.socket:
    """Returns a socket connected to an address of conn.host that the policy allows.

    Raises _AddressRefused when every address is refused, and urllib3's own
    NameResolutionError, ConnectTimeoutError or NewConnectionError like urllib3 does.
    """
    context = _current_call()
    policy = context.address_policy if context else is_public_address  # fail closed
    host = str(getattr(conn, "_dns_host", conn.host)).strip("[]")
    try:
        infos = socket.getaddrinfo(host, conn.port, allowed_gai_family(), socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    allowed = [info for info in infos if policy(str(info[4][0]))]
    if not allowed:
        shown = infos[0][4][0] if infos else host
        raise _AddressRefused(f"{shown} is a private or reserved address")
    error: OSError = OSError("no address to connect to")
    for family, kind, proto, _, sockaddr in allowed:
        try:
            sock = _connect(conn, family, kind, proto, sockaddr)
        except OSError as e:
            error = e
            continue
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock
    if isinstance(error, TimeoutError):
        raise ConnectTimeoutError(conn, "connection timed out") from error
    raise NewConnectionError(conn, f"failed to connect: {error}") from error


def _connect(
    conn: HTTPConnection,
    family: socket.AddressFamily,
    kind: socket.SocketKind,
    proto: int,
    sockaddr: tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes],
) -> socket.socket:
    sock = _DeadlineSocket(family, kind, proto)
    try:
        for level, option, value in conn.socket_options or ():
            sock.setsockopt(level, option, value)
        timeout = conn.timeout if isinstance(conn.timeout, int | float) else None
        remaining = _time_left()
        if remaining is not None:
            timeout = remaining if timeout is None else min(timeout, remaining)
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _open_guarded_socket(self)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _open_guarded_socket(self)


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def _new_pool_manager() -> PoolManager:
    tls = create_urllib3_context()
    # urllib3 only loads the system CAs into contexts it creates itself.
    tls.load_default_certs()
    tls.sslsocket_class = _DeadlineSSLSocket
    manager = PoolManager(num_pools=64, maxsize=16, ssl_context=tls)
    manager.pool_classes_by_scheme = {
        "http": _GuardedHTTPConnectionPool,
        "https": _GuardedHTTPSConnectionPool,
    }
    return manager


# --- the fetcher -----------------------------------------------------------------------


class Fetcher:
    """Thread-safe; one per process, shared by worker threads (holds a urllib3 PoolManager).

    ``address_policy(ip) -> bool`` decides which resolved addresses may be contacted;
    it defaults to is_public_address, or to allowing everything when the limits allow
    private networks.
    """

    def __init__(
        self,
        limits: FetchLimits = FetchLimits(),
        *,
        address_policy: AddressPolicy | None = None,
    ) -> None:
        self._limits = limits
        if address_policy is None:
            address_policy = (
                _allow_any_address if limits.allow_private_networks else is_public_address
            )
        self._address_policy = address_policy
        self._pool_manager = _new_pool_manager()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetches ``url`` (http, https or file) and returns a 200 or 304 FetchResult.

        Raises FeedGoneError (410), HTTPStatusError (other 4xx/5xx),
        TooManyRedirectsError, BlockedAddressError, FetchTimeoutError,
        ResponseTooLargeError, or FetchError for anything else.
        """
        scheme = _scheme_of(url)
        if scheme == "file":
            return _read_file(url, self._limits.max_body_bytes)
        if scheme not in _HTTP_SCHEMES:
            raise FetchError(url, f"unsupported URL scheme {scheme!r}")
        deadline = _Deadline(self._limits.total_timeout)
        with _in_call(_CallContext(deadline, self._address_policy)):
            return self._fetch_http(url, _request_headers(etag, last_modified), deadline)

    def close(self) -> None:
        """Closes pooled connections; the fetcher should not be used afterwards."""
        self._pool_manager.clear()

    def _fetch_http(self, url: str, headers: dict[str, str], deadline: _Deadline) -> FetchResult:
        chain = _RedirectChain(url, self._limits.max_redirects)
        while True:
            response = self._open(url, chain.current_url, headers, deadline)
            target = _redirect_target(response, chain.current_url)
            if target is None:
                break
            _discard(response)
            chain.follow(response.status, target)
        try:
            return self._result(url, chain, response, headers, deadline)
        finally:
            _discard(response)

    def _open(
        self, url: str, hop_url: str, headers: dict[str, str], deadline: _Deadline
    ) -> BaseHTTPResponse:
        """Sends one GET and returns the response with its body unread."""
        deadline.check(url)
        remaining = deadline.remaining()
        timeout = Timeout(connect=min(self._limits.connect_timeout, remaining), read=remaining)
        try:
            return self._pool_manager.urlopen(
                "GET",
                _with_ascii_host(url, hop_url),
                headers=headers,
                redirect=False,
                retries=False,
                timeout=timeout,
                preload_content=False,
                decode_content=False,
            )
        except _AddressRefused as e:
            where = "" if hop_url == url else f" (redirect to {hop_url})"
            raise BlockedAddressError(url, f"address not allowed: {e}{where}") from e
        except _LIBRARY_ERRORS as e:
            raise _convert_error(url, hop_url, e, deadline) from e

    def _result(
        self,
        url: str,
        chain: _RedirectChain,
        response: BaseHTTPResponse,
        request_headers: dict[str, str],
        deadline: _Deadline,
    ) -> FetchResult:
        status = response.status
        if status not in (200, 203, 304):
            raise _status_error(url, response)
        body = None
        if status != 304:
            body = _read_body(url, chain.current_url, response, self._limits, deadline)
        return FetchResult(
            url=url,
            final_url=chain.current_url,
            status=304 if status == 304 else 200,  # 203 is a proxy's copy of a 200
            body=body,
            headers={name.lower(): response.headers[name] for name in response.headers},
            # A 304 need not repeat the validators; the ones we sent are still good.
            etag=response.headers.get("ETag") or request_headers.get("If-None-Match"),
            last_modified=(
                response.headers.get("Last-Modified") or request_headers.get("If-Modified-Since")
            ),
            permanent_redirect_url=chain.permanent_url,
            elapsed_seconds=deadline.elapsed(),
        )


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits = FetchLimits(),
) -> FetchResult:
    """One-shot Fetcher.fetch with a fetcher of its own; same results and errors."""
    fetcher = Fetcher(limits)
    try:
        return fetcher.fetch(url, etag=etag, last_modified=last_modified)
    finally:
        fetcher.close()


# --- requests and redirects ----------------------------------------------------------


def _scheme_of(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError as e:
        raise FetchError(url, f"invalid URL: {e}") from e


def _request_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
    # Validators come from earlier responses (stored data): only send ones that are
    # safe as header values, since http.client raises on control or non-Latin-1 chars.
    if etag and _is_safe_header_value(etag):
        headers["If-None-Match"] = etag
    if last_modified and _is_safe_header_value(last_modified):
        headers["If-Modified-Since"] = last_modified
    return headers


def _with_ascii_host(url: str, hop_url: str) -> str:
    """Returns hop_url with an internationalized host name in its ASCII (IDNA) form.

    urllib3 needs the third-party idna package for those; the codec built into
    Python does the job for the host names feeds use.
    """
    parts = urlsplit(hop_url)
    host = parts.hostname
    if host is None or host.isascii():
        return hop_url
    try:
        ascii_host = host.encode("idna").decode("ascii")
        port = parts.port
    except (UnicodeError, ValueError) as e:
        raise FetchError(url, f"invalid host name {host!r}") from e
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + ascii_host
    if port is not None:
        netloc += f":{port}"
    return parts._replace(netloc=netloc).geturl()


def _is_safe_header_value(value: str) -> bool:
    return value.isascii() and value.isprintable()


class _RedirectChain:
    """The hops of one fetch: counts redirects, spots loops, remembers a permanent move."""

    def __init__(self, url: str, max_redirects: int) -> None:
        self.current_url = url
        self.permanent_url: str | None = None
        self._url = url
        self._max_redirects = max_redirects
        self._visited = {url}
        self._permanent_so_far = True

    def follow(self, status: int, target: str) -> None:
        """Moves to ``target``; raises FetchError or TooManyRedirectsError if it must not."""
        if _scheme_of(target) not in _HTTP_SCHEMES:
            raise FetchError(self._url, f"refusing to follow a redirect to {target}")
        if target in self._visited:
            raise TooManyRedirectsError(self._url, f"redirect loop at {target}")
        if len(self._visited) > self._max_redirects:
            raise TooManyRedirectsError(self._url, f"more than {self._max_redirects} redirects")
        self._visited.add(target)
        # A move is only permanent if every hop up to it was; 301 after 302 is not.
        self._permanent_so_far = self._permanent_so_far and status in _PERMANENT_REDIRECTS
        if self._permanent_so_far:
            self.permanent_url = target
        self.current_url = target


def _redirect_target(response: BaseHTTPResponse, current_url: str) -> str | None:
    """Returns the absolute URL a redirect points to, or None if this isn't a redirect."""
    location = response.headers.get("Location")
    if response.status not in _REDIRECTS or not location:
        return None
    return urldefrag(urljoin(current_url, location.strip())).url


def _discard(response: BaseHTTPResponse) -> None:
    """Closes the response's connection unless it was read to the end, then releases it."""
    if not response.closed:
        response.close()
    response.release_conn()


# --- responses -------------------------------------------------------------------------


def _status_error(url: str, response: BaseHTTPResponse) -> FetchError:
    status = response.status
    if not 400 <= status <= 599:
        return FetchError(url, f"unexpected HTTP status {status}")
    retry_after = _retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))
    error_class = FeedGoneError if status == 410 else HTTPStatusError
    return error_class(url, status, response.reason or "", retry_after)


def _retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """Returns the wait a Retry-After value asks for (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - now).total_seconds()))


def _read_body(
    url: str, hop_url: str, response: BaseHTTPResponse, limits: FetchLimits, deadline: _Deadline
) -> bytes:
    """Returns the decompressed body, read in chunks.

    Raises ResponseTooLargeError as soon as it passes limits.max_body_bytes (or when
    Content-Length already says it will), FetchTimeoutError at the deadline.
    """
    cap = limits.max_body_bytes
    declared = _declared_length(response)
    if declared is not None and declared > cap:
        raise ResponseTooLargeError(
            url, f"response body too large ({_size(declared)}, limit {_size(cap)})"
        )
    decoder = _BodyDecoder(url, response.headers.get("Content-Encoding"))
    body = bytearray()
    try:
        while chunk := response.read(_CHUNK_BYTES, decode_content=False):
            deadline.check(url)
            for piece in decoder.feed(chunk):
                _append_within(url, body, piece, cap)
        for piece in decoder.finish():
            _append_within(url, body, piece, cap)
    except _LIBRARY_ERRORS as e:
        raise _convert_error(url, hop_url, e, deadline) from e
    except zlib.error as e:
        raise FetchError(url, f"could not decompress the response body: {e}") from e
    return bytes(body)


def _declared_length(response: BaseHTTPResponse) -> int | None:
    try:
        return int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None


def _append_within(url: str, body: bytearray, piece: bytes, cap: int) -> None:
    body += piece
    if len(body) > cap:
        raise ResponseTooLargeError(url, f"response body too large (over {_size(cap)})")


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.3g} MiB"
    return f"{count} bytes"


class _BodyDecoder:
    """Streaming gzip/deflate decoding that yields at most _CHUNK_BYTES at a time.

    zlib is asked for bounded output (max_length) so a tiny compressed chunk can never
    become one huge allocation: a gzip bomb is stopped after about the size cap.
    """

    def __init__(self, url: str, content_encoding: str | None) -> None:
        self._coding = _content_coding(url, content_encoding)
        self._inflater = zlib.decompressobj(_GZIP_WBITS) if self._coding == "gzip" else None
        self._pending = b""  # deflate: bytes held until the zlib header can be checked
        self._done = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._coding:
            yield data
            return
        if self._inflater is None:
            self._pending += data
            if len(self._pending) < 2:
                return
            data, self._pending = self._pending, b""
            self._start_deflate(data)
        yield from self._inflate(data)

    def finish(self) -> Iterator[bytes]:
        if self._pending:
            data, self._pending = self._pending, b""
            self._start_deflate(data)
            yield from self._inflate(data)
        if self._inflater is not None and not self._done and not self._inflater.eof:
            # Truncated stream: keep what decoded, as browsers do.
            yield self._inflater.flush()

    def _start_deflate(self, head: bytes) -> None:
        # "deflate" is zlib-wrapped by the spec but raw in some servers; a zlib header
        # (CM=8, header checksum) is something raw deflate output never begins with.
        is_zlib = (head[0] & 0x0F) == 8 and ((head[0] << 8) | head[1]) % 31 == 0
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while data and not self._done:
            assert self._inflater is not None
            if self._inflater.eof:
                data = self._next_member(data)
                continue
            piece = self._inflater.decompress(data, _CHUNK_BYTES)
            if piece:
                yield piece
            data = (
                self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
            )

    def _next_member(self, data: bytes) -> bytes:
        """Returns the data to decode after the end of a stream (b"" to stop)."""
        if self._coding == "gzip" and data.startswith(b"\x1f\x8b"):
            self._inflater = zlib.decompressobj(_GZIP_WBITS)  # concatenated gzip members
            return data
        self._done = True  # trailing padding or junk, ignored like browsers do
        return b""


def _content_coding(url: str, header: str | None) -> str:
    """Returns "", "gzip" or "deflate"; raises FetchError for codings we didn't ask for."""
    codings = [c.strip().lower() for c in (header or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return ""
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return "deflate" if codings[0] == "deflate" else "gzip"
    raise FetchError(url, f"unsupported content encoding {header!r}")


# --- errors -------------------------------------------------------------------------------


def _convert_error(url: str, hop_url: str, error: Exception, deadline: _Deadline) -> FetchError:
    """Returns our FetchError (or subclass) for a urllib3, socket or ssl exception."""
    causes = list(_causes(error))
    if isinstance(error, LocationValueError):
        return FetchError(url, f"invalid URL: {str(error).rstrip('.')}")
    if any(isinstance(cause, NameResolutionError | socket.gaierror) for cause in causes):
        return FetchError(url, f"could not resolve host {urlsplit(hop_url).hostname}")
    if deadline.remaining() <= 0 or any(isinstance(c, ReadTimeoutError) for c in causes):
        return FetchTimeoutError(url, deadline.message())
    tls_error = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls_error is not None:
        return FetchError(url, f"TLS error: {_describe_tls_error(tls_error)}")
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return FetchError(url, "connection refused")
    if any(_is_timeout(cause) for cause in causes):
        return FetchTimeoutError(url, "timed out connecting")
    if any(isinstance(cause, ConnectionResetError) for cause in causes):
        return FetchError(url, "connection reset by the server")
    if isinstance(error, ProtocolError | http.client.HTTPException):
        return FetchError(url, f"connection broken: {_innermost(causes)}")
    return FetchError(url, f"request failed: {_innermost(causes)}")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """Yields the error and what it wraps (causes, contexts, urllib3 reasons, args)."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += list(current.args)
        pending += [item for item in wrapped if isinstance(item, BaseException)]


def _is_timeout(error: BaseException) -> bool:
    timeout = isinstance(error, ConnectTimeoutError | TimeoutError)
    # urllib3's NewConnectionError subclasses ConnectTimeoutError for history's sake.
    return timeout and not isinstance(error, NewConnectionError)


def _describe_tls_error(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    return str(error.reason or error).lower().replace("_", " ")


def _innermost(causes: list[BaseException]) -> str:
    return str(causes[-1]) or type(causes[-1]).__name__


# --- file: URLs ---------------------------------------------------------------------------


def _read_file(url: str, max_bytes: int) -> FetchResult:
    """Returns the file's content as a 200 result (file: URLs come from the admin's config).

    Raises FetchError when it can't be read, ResponseTooLargeError past max_bytes.
    """
    started = time.monotonic()
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(url, "file: URLs must name a local path (file:///path)")
    path = unquote(parts.path)
    try:
        with open(path, "rb") as file:
            body = file.read(max_bytes + 1)
    except FileNotFoundError as e:
        raise FetchError(url, "no such file") from e
    except IsADirectoryError as e:
        raise FetchError(url, "is a directory, not a file") from e
    except PermissionError as e:
        raise FetchError(url, "permission denied") from e
    except (OSError, ValueError) as e:
        raise FetchError(url, f"could not read the file: {e}") from e
    if len(body) > max_bytes:
        raise ResponseTooLargeError(url, f"file too large (over {_size(max_bytes)})")
    return FetchResult(
        url=url,
        final_url=url,
        status=200,
        body=body,
        headers={},
        elapsed_seconds=time.monotonic() - started,
    )
