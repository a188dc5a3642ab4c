"""Retrieving feeds: conditional GET, redirects, size and time limits, SSRF guard.

The feed fetcher's side of urllib3, with its helpers: _guard.py (the SSRF guard
and the total deadline, built into the connection and socket classes), _decode.py
(bounded streaming decompression) and _errors.py (library exceptions to ours).
Whatever goes wrong comes out as a FetchError subclass carrying the feed URL; library
exceptions never escape.
"""

from __future__ import annotations

import math
import os
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from urllib3 import Timeout
from urllib3.response import BaseHTTPResponse

from aggregator import __version__
from aggregator.config import PollingConfig
from aggregator.errors import (
    BlockedAddressError,
    FeedGoneError,
    FetchCancelledError,
    FetchError,
    HTTPStatusError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from aggregator.fetch._decode import CHUNK_BYTES, BodyDecoder
from aggregator.fetch._errors import LIBRARY_ERRORS, convert_error
from aggregator.fetch._guard import (
    AddressPolicy,
    AddressRefused,
    CallContext,
    Deadline,
    FetchCancelled,
    allow_any_address,
    in_call,
    is_public_address,
    new_pool_manager,
)

USER_AGENT = f"aggregator/{__version__} (+https://github.com/aggregator/aggregator)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)

_HTTP_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch: 200 with a body, or 304 Not Modified (body is None)."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200 or 304
    body: bytes | None
    headers: dict[str, str]  # lower-cased header names of the final response
    etag: str | None = None
    last_modified: str | None = None
    # Target of the last permanent (301/308) redirect in the chain, if any.
    permanent_redirect_url: str | None = None
    elapsed_seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


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
                allow_any_address if limits.allow_private_networks else is_public_address
            )
        self._address_policy = address_policy
        self._pool_manager = new_pool_manager()
        self._calls: set[CallContext] = set()  # fetches in progress, for cancel()
        self._calls_lock = threading.Lock()
        self._cancelled = False

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetches ``url`` (http, https or file) and returns a 200 or 304 FetchResult.

        A local file is a 304 when its modification time and size are those of
        ``last_modified`` (see local_file_validator), without being read.

        Raises FeedGoneError (410), HTTPStatusError (other 4xx/5xx),
        TooManyRedirectsError, BlockedAddressError, FetchTimeoutError,
        ResponseTooLargeError, FetchCancelledError (after ``cancel``), or FetchError for
        anything else.
        """
        scheme = _scheme_of(url)
        if scheme == "file":
            return _read_file(url, self._limits.max_body_bytes, last_modified)
        if scheme not in _HTTP_SCHEMES:
            raise FetchError(url, f"unsupported URL scheme {scheme!r}")
        deadline = Deadline(self._limits.total_timeout)
        context = CallContext(deadline, self._address_policy)
        with self._calls_lock:
            if self._cancelled:
                raise FetchCancelledError(url)
            self._calls.add(context)
        try:
            with in_call(context):
                result = self._fetch_http(url, _request_headers(etag, last_modified), deadline)
        except (FetchError, FetchCancelled) as e:
            if context.cancelled.is_set():
                raise FetchCancelledError(url) from e
            raise
        finally:
            with self._calls_lock:
                self._calls.discard(context)
        if context.cancelled.is_set():
            # A body cut short by the cancel can look complete: never keep it.
            raise FetchCancelledError(url)
        return result

    def cancel(self) -> int:
        """Abandons every fetch in progress (each raises FetchCancelledError within a
        moment) and refuses new ones. Returns how many were in progress."""
        with self._calls_lock:
            self._cancelled = True
            calls = list(self._calls)
        for context in calls:
            context.cancel()
        return len(calls)

    def close(self) -> None:
        """Closes pooled connections; the fetcher should not be used afterwards."""
        self._pool_manager.clear()

    def _fetch_http(self, url: str, headers: dict[str, str], deadline: Deadline) -> FetchResult:
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
        self, url: str, hop_url: str, headers: dict[str, str], deadline: Deadline
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
        except AddressRefused as e:
            where = "" if hop_url == url else f" (redirect to {hop_url})"
            raise BlockedAddressError(
                url,
                f"address not allowed: {e}{where}; set polling.allow_private_networks: true "
                "in feeds.yaml to poll feeds on this network",
            ) from e
        except LIBRARY_ERRORS as e:
            raise convert_error(url, hop_url, e, deadline) from e

    def _result(
        self,
        url: str,
        chain: _RedirectChain,
        response: BaseHTTPResponse,
        request_headers: dict[str, str],
        deadline: Deadline,
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
    url: str, hop_url: str, response: BaseHTTPResponse, limits: FetchLimits, deadline: Deadline
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
    decoder = BodyDecoder(url, response.headers.get("Content-Encoding"))
    body = bytearray()
    try:
        while chunk := response.read(CHUNK_BYTES, decode_content=False):
            deadline.check(url)
            for piece in decoder.feed(chunk):
                _append_within(url, body, piece, cap)
        for piece in decoder.finish():
            _append_within(url, body, piece, cap)
    except LIBRARY_ERRORS as e:
        raise convert_error(url, hop_url, e, deadline) from e
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


# --- file: URLs ---------------------------------------------------------------------------


def local_file_validator(url: str) -> str | None:
    """A local file's validator: its modification time and size ("<mtime ns>-<size>"),
    cheap to take at every tick; None when it cannot be read (or is no file: URL)."""
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return None
        stat = os.stat(unquote(parts.path))
    except (OSError, ValueError):
        return None
    return f"{stat.st_mtime_ns}-{stat.st_size}"


def _read_file(url: str, max_bytes: int, last_modified: str | None = None) -> FetchResult:
    """Returns the file's content as a 200 result (file: URLs come from the admin's config),
    or a 304 without reading it when its validator is still ``last_modified``.

    Raises FetchError when it can't be read, ResponseTooLargeError past max_bytes.
    """
    started = time.monotonic()
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(url, "file: URLs must name a local path (file:///path)")
    path = unquote(parts.path)
    validator = local_file_validator(url)
    if validator is not None and validator == last_modified:
        return FetchResult(
            url=url,
            final_url=url,
            status=304,
            body=None,
            headers={},
            last_modified=validator,
            elapsed_seconds=time.monotonic() - started,
        )
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
        last_modified=validator,
        elapsed_seconds=time.monotonic() - started,
    )
