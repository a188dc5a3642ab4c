"""Tolerant field access and small conversions shared by the XML and JSON Feed readers.

Feed data arrives in any shape (keys missing, values of the wrong type); these
helpers read it without raising, and word the problems that parsing reports.
"""

from __future__ import annotations

import html
import re
import xml.sax
from collections.abc import Iterable
from typing import Any

from aggregator.errors import ParseError
from aggregator.process import clean_line, strip_xml_illegal

_MAX_WARNING = 200
_INTEGER = re.compile(r"\s*\+?0*(\d{1,18})\s*")


def text_to_html(text: str) -> str:
    """Return plain ``text`` as escaped HTML: blank lines part paragraphs, newlines break."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", strip_xml_illegal(text)) if p.strip()]
    escaped = [html.escape(p).replace("\n", "<br>") for p in paragraphs]
    if len(escaped) == 1:
        return escaped[0]
    return "".join(f"<p>{p}</p>" for p in escaped)


def unique_casefolded(names: Iterable[str]) -> tuple[str, ...]:
    """Return the non-empty ``names`` without case-insensitive repeats, first spelling kept."""
    seen: dict[str, str] = {}
    for name in names:
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return tuple(seen.values())


def field(container: object, key: str) -> Any:
    """Return ``container[key]`` for a dict, else None.

    ``dict.get`` bypasses FeedParserDict's aliases (``updated`` silently falling back
    to ``published`` with a DeprecationWarning, ``description`` to ``summary``...).
    """
    return dict.get(container, key) if isinstance(container, dict) else None


def string(value: object) -> str:
    """Return ``value`` if it is a str, else ""."""
    return value if isinstance(value, str) else ""


def as_list(value: object) -> list[Any]:
    """Return ``value`` if it is a list, else []."""
    return value if isinstance(value, list) else []


def non_negative_int(value: object) -> int | None:
    """Return an int from an int or a decimal string; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    match = _INTEGER.fullmatch(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def positive_int(value: object) -> int | None:
    """Return a positive int from ``value`` (see non_negative_int), else None."""
    number = non_negative_int(value)
    return number if number else None


def describe(problem: object, line_offset: int = 0) -> str | None:
    """Return a short description of a feedparser bozo exception, or None for none."""
    if not isinstance(problem, BaseException):
        return None
    if isinstance(problem, xml.sax.SAXParseException):
        text, line = problem.getMessage(), problem.getLineNumber()
        if line is not None:
            text += f" (line {line - line_offset}, column {problem.getColumnNumber()})"
    else:
        text = str(problem) or type(problem).__name__
    return clean_line(text)[:_MAX_WARNING]


def unparseable(url: str, error: Exception) -> ParseError:
    """Return the ParseError for a parser that gave up with ``error``."""
    reason = clean_line(f"{type(error).__name__}: {error}")[:_MAX_WARNING]
    return ParseError(url, f"unable to parse feed: {reason}")


def join_problems(problems: list[str | None]) -> str | None:
    """Return the distinct problems joined with "; ", or None when there are none."""
    distinct = list(dict.fromkeys(p for p in problems if p))
    return "; ".join(distinct)[:_MAX_WARNING] or None
