"""Phrase filters: ``include`` and ``exclude`` lists of phrases, as custom outputs and
the reader's filters (per feed, per section) use them."""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=256)
def phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive matcher of any phrase; spacing inside a phrase is loose."""
    if not phrases:
        return None
    alternatives = sorted(
        (r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in phrases),
        key=len,
        reverse=True,
    )
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)


def passes_filter(include: tuple[str, ...], exclude: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` passes: it mentions one of the ``include`` phrases (when there
    are any) and none of the ``exclude`` phrases (whole words, any case)."""
    wanted = phrase_pattern(include)
    if wanted is not None and not wanted.search(text):
        return False
    unwanted = phrase_pattern(exclude)
    return unwanted is None or not unwanted.search(text)
