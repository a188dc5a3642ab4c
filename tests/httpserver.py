"""A small threaded HTTP/1.1 server on loopback, for tests that need a real feed host.

    with FeedServer() as server:
        server.route("/feed.xml", FeedServer.feed(b"<rss .../>"))
        fetch_feed(server.url("/feed.xml"), ...)
        assert server.requests_for("/feed.xml")[0].headers["user-agent"]

Routes match the request target exactly (path plus query). A route is a ``Response``,
a function ``RecordedRequest -> Response``, or a ``SpecialRoute`` that writes to the
socket itself (slow, endless or hostile servers). Standard library only.
"""

from __future__ import annotations

import contextlib
import functools
import gzip as gzip_module
import socket
import ssl
import struct
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Errors a handler gets when the client hangs up or gives up on TLS; tests do that on purpose.
_CLIENT_GONE = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
    ssl.SSLError,
)
_STREAM_CHUNK = 64 * 1024


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""  # the request body (POST, PUT), read whole


@dataclass(frozen=True)
class SpecialRoute:
    """A route that writes the whole response itself.

    ``serve(handler, stop)`` gets the request handler (write with ``handler.wfile``)
    and the server's stop event, which slow routes must poll so shutdown is prompt.
    """

    serve: Callable[[BaseHTTPRequestHandler, threading.Event], None]


Handler = Callable[[RecordedRequest], Response]
Route = Response | Handler | SpecialRoute


class FeedServer:
    """A loopback HTTP server with programmable routes; a context manager."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self._host = host
        self._tls = tls  # a server-side context makes this an HTTPS server
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._port: int | None = None  # kept after stop() so URLs stay printable
        self.requests: list[RecordedRequest] = []

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> FeedServer:
        """Bind a free port and serve in a daemon thread; returns self."""
        self._stop = threading.Event()
        server = _Server((self._host, 0), _RequestHandler)
        server.feed_server = self
        self._port = int(server.server_address[1])
        if self._tls is not None:
            # The handshake happens in the handler thread, so a silent client can't
            # block the accept loop.
            server.socket = self._tls.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake slow handlers and hang up on open connections."""
        if self._server is None:
            return
        self._stop.set()
        self._server.shutdown()
        self._server.close_all_connections()
        self._server.server_close()
        self._server = None
        # Handler threads are daemons and finish on their own once their socket is
        # shut down; joining them could wait on a client that never hangs up.

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses and routes --------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._port is not None, "server not started"
        return self._port

    @property
    def base_url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, handler: Route) -> None:
        with self._lock:
            self._routes[path] = handler

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _record(self, request: RecordedRequest) -> Route | None:
        with self._lock:
            self.requests.append(request)
            return self._routes.get(request.path)

    # --- ready-made routes -----------------------------------------------------------

    @staticmethod
    def feed(
        body: bytes,
        content_type: str = "application/rss+xml",
        etag: str | None = '"v1"',
        last_modified: str | None = "Mon, 02 Nov 2026 10:00:00 GMT",
        gzip: bool = False,
    ) -> Handler:
        """A feed that answers conditional requests with 304 and can gzip itself."""

        def handle(request: RecordedRequest) -> Response:
            validators = {}
            if etag is not None:
                validators["ETag"] = etag
            if last_modified is not None:
                validators["Last-Modified"] = last_modified
            if _is_not_modified(request, etag, last_modified):
                return Response(304, headers=validators)
            headers = {"Content-Type": content_type, **validators}
            payload = body
            if gzip:
                headers["Vary"] = "Accept-Encoding"
                if "gzip" in request.headers.get("accept-encoding", ""):
                    payload = gzip_module.compress(body)
                    headers["Content-Encoding"] = "gzip"
            return Response(200, payload, headers)

        return handle

    @staticmethod
    def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Response:
        return Response(code, body, dict(headers or {}))

    @staticmethod
    def redirect(location: str, code: int = 301) -> Response:
        return Response(code, b"", {"Location": location})

    @staticmethod
    def trickle(body: bytes, interval: float = 2.0) -> SpecialRoute:
        """Sends headers (with Content-Length), then one byte every ``interval`` seconds."""

        def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
            _send_head(handler, 200, {"Content-Length": str(len(body))})
            for index in range(len(body)):
                if stop.wait(interval):
                    return
                handler.wfile.write(body[index : index + 1])

        return SpecialRoute(serve)

    @staticmethod
    def hang(seconds: float = 60) -> SpecialRoute:
        """Reads the request, then says nothing for ``seconds`` and hangs up."""

        def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
            stop.wait(seconds)

        return SpecialRoute(serve)

    @staticmethod
    def gzip_bomb(inflated_size: int = 2 * 1024**3) -> SpecialRoute:
        """A valid gzip body (Content-Encoding: gzip) inflating to ``inflated_size`` zeros."""
        payload = _gzipped_zeros(inflated_size)
        headers = {
            "Content-Type": "application/rss+xml",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(payload)),
        }

        def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
            _send_head(handler, 200, headers)
            _write_chunks(handler, stop, payload)

        return SpecialRoute(serve)

    @staticmethod
    def oversized(size: int = 20 * 1024 * 1024, content_length: bool = True) -> SpecialRoute:
        """A plain body of ``size`` bytes, streamed; without Content-Length when asked."""

        def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
            headers = {"Content-Type": "application/rss+xml"}
            if content_length:
                headers["Content-Length"] = str(size)
            else:
                # No length and no chunking: the body ends when we hang up.
                headers["Connection"] = "close"
            _send_head(handler, 200, headers)
            chunk = b"x" * _STREAM_CHUNK
            remaining = size
            while remaining > 0 and not stop.is_set():
                handler.wfile.write(chunk[:remaining])
                remaining -= len(chunk)

        return SpecialRoute(serve)

    @staticmethod
    def endless_chunked() -> SpecialRoute:
        """Transfer-Encoding: chunked, forever (until the client hangs up or we stop)."""

        def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
            _send_head(handler, 200, {"Transfer-Encoding": "chunked"})
            frame = b"%x\r\n%s\r\n" % (_STREAM_CHUNK, b"y" * _STREAM_CHUNK)
            while not stop.is_set():
                handler.wfile.write(frame)

        return SpecialRoute(serve)


# --- plumbing ----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many feeds are polled at once in tests: a backlog of 5 would drop SYNs and
    # turn into client-side connect timeouts.
    request_queue_size = 128
    block_on_close = False  # never wait for handler threads on close
    feed_server: FeedServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        """Wake handlers blocked reading a kept-alive connection; they then close it."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up is expected; anything else is a bug in a test route.
        if not isinstance(sys.exc_info()[1], _CLIENT_GONE):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # Idle keep-alive connections go away on their own after a while.
    timeout = 30

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def handle(self) -> None:
        try:
            super().handle()
        except _CLIENT_GONE:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _dispatch(self) -> None:
        feed_server = self.server.feed_server
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_request_body(),
        )
        route = feed_server._record(request)
        if route is None:
            self._send(Response(404, b"not found", {"Content-Type": "text/plain"}))
        elif isinstance(route, SpecialRoute):
            # A special route may stop mid-body, so the connection can't be reused.
            self.close_connection = True
            route.serve(self, feed_server._stop)
        elif isinstance(route, Response):
            self._send(route)
        else:
            self._send(route(request))

    def _read_request_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        headers = dict(response.headers)
        has_body = response.status >= 200 and response.status not in (204, 304)
        if has_body and not any(name.lower() == "content-length" for name in headers):
            headers["Content-Length"] = str(len(response.body))
        _send_head(self, response.status, headers)
        if has_body and self.command != "HEAD":
            self.wfile.write(response.body)


def _send_head(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()


def _write_chunks(handler: BaseHTTPRequestHandler, stop: threading.Event, payload: bytes) -> None:
    view = memoryview(payload)
    for start in range(0, len(payload), _STREAM_CHUNK):
        if stop.is_set():
            return
        handler.wfile.write(view[start : start + _STREAM_CHUNK])


def _is_not_modified(request: RecordedRequest, etag: str | None, last_modified: str | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
        return etag is not None and etag in (tag.strip() for tag in if_none_match.split(","))
    if_modified_since = request.headers.get("if-modified-since")
    return last_modified is not None and if_modified_since == last_modified


@functools.cache
def _gzipped_zeros(size: int) -> bytes:
    """Gzip of ``size`` zero bytes, built in well under a second.

    Compressing 2 GiB takes seconds, so one 1 MiB block is compressed once, ending in a
    full flush (no back-references across it), and that segment is repeated.
    """
    block = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, len(block))
    finisher = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    last = finisher.compress(bytes(rest)) + finisher.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(bytes(rest), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, no mtime
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return b"".join([header, segment * count, last, trailer])
