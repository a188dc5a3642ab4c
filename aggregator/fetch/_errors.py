"""Turning urllib3, socket and ssl exceptions into our FetchError and its subclasses."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from aggregator.errors import FetchError, FetchTimeoutError
from aggregator.fetch._guard import Deadline

# Exceptions urllib3 and the standard library raise for bad URLs, headers or sockets.
LIBRARY_ERRORS = (HTTPError, OSError, http.client.HTTPException, ValueError)


def convert_error(url: str, hop_url: str, error: Exception, deadline: Deadline) -> FetchError:
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
