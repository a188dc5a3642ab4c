"""Removing what precedes an XML feed's root element: DOCTYPEs, entities, comments, PIs.

Works on bytes before feedparser sees them, so that no entity definition (a "billion
laughs", one huge entity referenced many times) ever reaches an XML parser.
"""

from __future__ import annotations

import re

# Markup that can appear before the root element: "<?", "<!--", "<!" and a start tag.
_PROLOG_MARKUP = re.compile(rb"<(\?|!--|!|[A-Za-z_:\x80-\xff])")
_DECLARATION_TOKEN = re.compile(rb"""["'\[\]>]|<!--""")
_XML_DECLARATION = re.compile(rb"<\?xml\s")


def strip_prolog(data: bytes) -> bytes:
    """Return ``data`` with everything before the root element removed but the XML declaration.

    DOCTYPEs with internal subsets (entity definitions, a "billion laughs" or one huge
    entity referenced many times), stray ENTITY declarations, comments and processing
    instructions all go, including any hidden in comments where feedparser's own
    line-based DOCTYPE handling would still find them. Newlines are kept so that parser
    line numbers stay true. An unterminated comment, processing instruction or
    declaration swallows the rest of the document, as it does in XML: the scan reads
    each byte of the prolog a bounded number of times and never looks past the root's "<".
    """
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    declaration = b""
    position = start
    while match := _PROLOG_MARKUP.search(data, position):
        kind, at = match.group(1), match.start()
        if kind == b"?":
            position = _end_of(data, b"?>", match.end())
            if not declaration and _XML_DECLARATION.match(data, at):
                declaration = data[at:position]
        elif kind == b"!--":
            position = _end_of(data, b"-->", match.end())
        elif kind == b"!":
            position = _declaration_end(data, match.end())
        else:
            newlines = data.count(b"\n", start, at) - declaration.count(b"\n")
            return data[:start] + declaration + b"\n" * newlines + data[at:]
    newlines = data.count(b"\n", start) - declaration.count(b"\n")
    return data[:start] + declaration + b"\n" * newlines


def _end_of(data: bytes, terminator: bytes, position: int) -> int:
    """Return the index after the next ``terminator`` at or after ``position``, else len(data)."""
    found = data.find(terminator, position)
    return len(data) if found < 0 else found + len(terminator)


def _declaration_end(data: bytes, position: int) -> int:
    """Return the index after the ``<!...>`` declaration whose body starts at ``position``.

    Quoted strings, comments and a bracketed internal subset may contain ">". An
    unclosed declaration ends at the end of ``data``.
    """
    depth = 0
    cursor = position
    while match := _DECLARATION_TOKEN.search(data, cursor):
        token, cursor = match.group(), match.end()
        if token in (b'"', b"'", b"<!--"):
            cursor = _end_of(data, b"-->" if token == b"<!--" else token, cursor)
        elif token == b"[":
            depth += 1
        elif token == b"]":
            depth = max(depth - 1, 0)
        elif depth == 0:
            return cursor
    return len(data)


def declaration_added(body: bytes) -> bool:
    """Return True when feedparser will prepend an XML declaration line to ``body``."""
    head = body[:64].replace(b"\x00", b"")
    for bom in (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe"):
        head = head.removeprefix(bom)
    return not head.startswith(b"<?xml")
