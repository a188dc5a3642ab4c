"""Streaming gzip/deflate decoding of response bodies, bounded against decompression bombs."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from aggregator.errors import FetchError

CHUNK_BYTES = 64 * 1024  # read size, and the most a decompressor may produce at once
_GZIP_WBITS = 16 + zlib.MAX_WBITS
# Exceptions urllib3 and the standard library raise for bad URLs, headers or sockets.


class BodyDecoder:
    """Streaming gzip/deflate decoding that yields at most CHUNK_BYTES at a time.

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
            piece = self._inflater.decompress(data, CHUNK_BYTES)
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
