"""How common an English word is, for document frequencies before any are observed.

A cold start (a fresh database, or the first poll after a rebuild) has too few stored
entries to tell "said" from "Pyongyang". The table in ``english_words.txt`` (derived
from wordfreq; see its header) gives each common word's Zipf frequency; a word missing
from it is rarer than Zipf 3.0. Loaded once, on first use: about 28,000 words, a few MB.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

COMMON_ZIPF = 4.0  # "tuesday", "navy", "officials": capitalised, yet no rare name
FUNCTION_ZIPF = 5.6  # "the", "in", "after", "new": a sentence opener, not part of a name
UNKNOWN_ZIPF = 2.5  # below the table's floor of 3.0
TYPICAL_ENTRY_WORDS = 250  # title + lead of a news entry


@cache
def _table() -> dict[str, float]:
    text = resources.files(__package__).joinpath("english_words.txt").read_text("utf-8")
    table: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        zipf, *words = line.split()
        value = int(zipf) / 10
        for word in words:
            table.setdefault(word, value)
    return table


def zipf(word: str) -> float:
    """The word's Zipf frequency (log10 per billion words); rare words get UNKNOWN_ZIPF."""
    return _table().get(word, UNKNOWN_ZIPF)


def is_common(word: str) -> bool:
    """True for everyday words ("tuesday", "officials") that a capital does not make a name."""
    return zipf(word) >= COMMON_ZIPF


def is_function_word(word: str) -> bool:
    """True for the very frequent words that open sentences ("the", "after", "new")."""
    return zipf(word) >= FUNCTION_ZIPF


def document_rate(word: str) -> float:
    """The expected share of news entries that contain ``word`` at least once.

    A word with frequency f per token appears in an entry of n words with probability
    1 - exp(-f n) (a Poisson model of word occurrences).
    """
    per_token = 10 ** (zipf(word) - 9)
    return 1 - math.exp(-per_token * TYPICAL_ENTRY_WORDS)
