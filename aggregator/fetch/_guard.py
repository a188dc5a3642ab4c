"""The SSRF guard and the fetch deadline, built into urllib3's connections and sockets.

Every connection (first request and every redirect hop) resolves the host itself
(within the fetch's deadline), drops addresses the policy refuses and connects to an
allowed address, so a DNS answer can't change between check and use. Before every
receive the sockets shrink their timeout to the time left for the fetch in progress
(a thread-local), so neither a slow resolver, a server trickling bytes nor a slow TLS
handshake can stretch a fetch past its deadline.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.ssl_ import create_urllib3_context

from aggregator.errors import FetchTimeoutError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

AddressPolicy = Callable[[str], bool]

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


def allow_any_address(ip: str) -> bool:
    return True


# --- per-fetch state shared with the sockets -----------------------------------------


class Deadline:
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


class CallContext:
    """One fetch in progress, as its sockets see it: the deadline, the address policy,
    and what ``cancel`` needs to cut it short (its sockets, a flag)."""

    def __init__(self, deadline: Deadline, address_policy: AddressPolicy) -> None:
        self.deadline = deadline
        self.address_policy = address_policy
        self.cancelled = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def use(self, sock: socket.socket) -> None:
        """Note a socket this fetch uses. Raises FetchCancelled once cancelled."""
        with self._lock:
            self._sockets.add(sock)
        if self.cancelled.is_set():
            raise FetchCancelled("the fetch was cancelled")

    def cancel(self) -> None:
        """Cut the fetch short: its blocked connects and receives return at once."""
        self.cancelled.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            # The plain socket's shutdown, also for TLS sockets (the thread reading from
            # it owns the TLS state); OSError: not connected yet, or closed already.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class FetchCancelled(Exception):
    """Raised inside urllib3 when the fetch was cancelled; not an OSError, so urllib3
    lets it through untouched."""


# urllib3 connects and reads in the calling thread, so a thread-local is how the
# connection and socket classes (created deep inside urllib3) see the fetch in progress.
_calls = threading.local()


@contextmanager
def in_call(context: CallContext) -> Iterator[None]:
    previous = getattr(_calls, "context", None)
    _calls.context = context
    try:
        yield
    finally:
        _calls.context = previous


def _current_call() -> CallContext | None:
    context: CallContext | None = getattr(_calls, "context", None)
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
    context = _current_call()
    if context is not None:
        context.use(sock)
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


class AddressRefused(Exception):
    """Raised inside urllib3 when no resolved address passes the policy.

    Deliberately not an OSError, so urllib3 lets it through untouched.
    """


def _open_guarded_socket(conn: HTTPConnection) -> socket.socket:
    """Returns a socket connected to an address of conn.host that the policy allows.

    Raises AddressRefused when every address is refused, and urllib3's own
    NameResolutionError, ConnectTimeoutError or NewConnectionError like urllib3 does.
    """
    context = _current_call()
    policy = context.address_policy if context else is_public_address  # fail closed
    host = str(getattr(conn, "_dns_host", conn.host)).strip("[]")
    try:
        infos = _resolve(host, conn.port)
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    except TimeoutError as e:
        raise ConnectTimeoutError(conn, f"resolving {host} timed out") from e
    allowed = [info for info in infos if policy(str(info[4][0]))]
    if not allowed:
        shown = infos[0][4][0] if infos else host
        raise AddressRefused(f"{shown} is a private or reserved address")
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


# getaddrinfo cannot be interrupted or given a timeout. Within a fetch it runs in one
# of these threads while the fetch waits at most until its deadline; a lookup that
# outlives it finishes there, abandoned (a stuck resolver ties up at most these).
_RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="aggregator-dns")
_RESOLVE_SLICE = 0.25


def _resolve(host: str, port: int | None) -> list[Any]:
    """getaddrinfo for a TCP connection, bounded by the fetch in progress's deadline.

    Raises socket.gaierror, or TimeoutError when the deadline passes first.
    """
    remaining = _time_left()
    if remaining is None:
        return socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    lookup = _RESOLVER.submit(
        socket.getaddrinfo, host, port, allowed_gai_family(), socket.SOCK_STREAM
    )
    context = _current_call()
    try:
        # In slices, so a cancelled fetch stops waiting within one.
        while True:
            if context is not None and context.cancelled.is_set():
                raise FetchCancelled("the fetch was cancelled")
            try:
                return lookup.result(timeout=min(_RESOLVE_SLICE, remaining))
            except TimeoutError:
                remaining = _time_left() or 0.0
    except (TimeoutError, FetchCancelled):
        lookup.cancel()  # when still queued behind stuck lookups
        raise


def _connect(
    conn: HTTPConnection,
    family: socket.AddressFamily,
    kind: socket.SocketKind,
    proto: int,
    sockaddr: tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes],
) -> socket.socket:
    sock = _DeadlineSocket(family, kind, proto)
    try:
        context = _current_call()
        if context is not None:
            context.use(sock)  # so a cancel interrupts the connect too
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


def new_pool_manager() -> PoolManager:
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
