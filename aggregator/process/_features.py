"""Text features of an entry for story matching: words, names and numbers. Pure.

Three kinds of term, told apart by their first character so one table holds them all:

- a word: lower-cased, possessive and plural folded (``soldiers`` -> ``soldier``);
- ``=`` + a name: a run of two or more capitalised words in the body text
  (``=caldwell reyes``, ``=naval station norfolk``), the strongest evidence that two
  reports tell the same event;
- ``#`` + a number, commas dropped (``#2000`` for "2,000"), since different events
  rarely share their figures.

Names are read from the body only: headlines in Title Case capitalise every word.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import aggregator.process._prior as prior

NAME_PREFIX = "="
NUMBER_PREFIX = "#"

# A word with inner apostrophes, dots, hyphens or commas kept ("U.S.", "221-207",
# "2,000", "Ibáñez's"); outer punctuation dropped.
_TOKEN = re.compile(r"[^\W_]+(?:['’.,\-][^\W_]+)*")
# Where a run of capitalised words ends even when the next word is capitalised.
_CLAUSE_BREAK = re.compile(r"[.!?;:](?:\s|$)|[,()\[\]\"“”—–]|\s-\s")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_POSSESSIVE = re.compile(r"['’]s$")
_DIGITS = re.compile(r"\d")
# Combining marks (accents) as NFKD writes them apart; one regex pass, not a Python
# loop over every character.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Words that open a sentence or join a name without being part of it.
_NAME_JOINERS = frozenset({"of", "the", "de", "del", "la", "van", "von", "al", "bin"})
MAX_BODY_CHARS = 2000  # the lead carries the facts; the tail adds noise and cost


@dataclass(frozen=True)
class TextFeatures:
    """Term counts of one entry: ``title`` from its headline, ``lead`` from the first
    ``LEAD_CHARS`` of its text, ``rest`` from the remainder.

    News is written as an inverted pyramid: the headline and lead say what happened,
    where and to whom; later paragraphs add background, often about other, similar
    events ("two days after a strike on a refinery in Ryazan").

    ``proper`` holds the rare words seen capitalised (Norfolk, Pentagon, ICBM): names
    written as one word.
    """

    title: Counter[str]
    lead: Counter[str]
    rest: Counter[str]
    proper: frozenset[str]

    def terms(self) -> set[str]:
        """Every distinct term of the entry."""
        return {*self.title, *self.lead, *self.rest}


def fold(text: str) -> str:
    """Text with compatibility forms and accents folded (Ibáñez -> Ibanez)."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


@lru_cache(maxsize=8192)  # everyday words repeat: most tokens are cache hits
def word_term(token: str) -> str:
    """The term of one word token: lower case, possessive and plural s folded.

    The plural rule is Harman's S-stemmer (1991): light enough never to join two
    different words, which a full stemmer does for names.
    """
    word = _POSSESSIVE.sub("", token.casefold())
    if _DIGITS.search(word):
        return NUMBER_PREFIX + word.replace(",", "")
    word = word.replace(".", "")
    if len(word) > 3:
        if word.endswith("ies") and not word.endswith(("eies", "aies")):
            return word[:-3] + "y"
        if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
            return word[:-1]
        if word.endswith("s") and not word.endswith(("us", "ss")):
            return word[:-1]
    return word


def _names(clause: str, proper: set[str]) -> list[str]:
    """Names (runs of 2+ capitalised words) of one clause; records one-word proper nouns."""
    tokens = _TOKEN.findall(clause)
    capitalised = [position for position, token in enumerate(tokens) if token[0].isupper()]
    found: list[str] = []
    run: list[str] = []
    previous = -2
    for position in [*capitalised, len(tokens) + 2]:
        gap = tokens[previous + 1 : position]
        # The end of the clause (the last position) joins nothing.
        if run and position < len(tokens) and (position == previous + 1 or _joins(gap)):
            run.extend(gap)
            run.append(tokens[position])
            previous = position
            continue
        if run:
            _close_run(run, previous - len(run) + 1, found, proper)
        if position < len(tokens):
            run = [tokens[position]]
        previous = position
    return found


def _joins(gap: list[str]) -> bool:
    # "Department of Defense", "Gulf of the Farallones": joiners inside a name.
    return 0 < len(gap) <= 2 and all(word.casefold() in _NAME_JOINERS for word in gap)


def _close_run(run: list[str], start: int, found: list[str], proper: set[str]) -> None:
    # A clause's first word is capitalised anyway: drop it when it is a function
    # word ("The Navy" -> "Navy"; "North Korea", "Pyongyang" stay).
    if start == 0 and prior.is_function_word(run[0].casefold()):
        run = run[1:]
    words = [word_term(token) for token in run]
    if len(words) >= 2:
        found.append(NAME_PREFIX + " ".join(words))
    # One-word names that are rare words (Norfolk, Pentagon, ICBM), not
    # capitalised everyday words (Tuesday, Navy, Officials).
    proper.update(word for word in words if not prior.is_common(word))


def _body_terms(text: str, proper: set[str]) -> Counter[str]:
    terms = Counter(map(word_term, _TOKEN.findall(text)))
    for clause in _CLAUSE_BREAK.split(text):
        terms.update(_names(clause, proper))
    return terms


def extract(title: str, body: str, lead_chars: int = 400) -> TextFeatures:
    """Return the term counts of an entry's title and plain body text.

    The lead ends at the first sentence end after ``lead_chars`` characters.
    """
    title = fold(title)
    body = fold(body[:MAX_BODY_CHARS])
    cut = _SENTENCE_END.search(body, lead_chars)
    split_at = cut.end() if cut else len(body)
    proper: set[str] = set()
    return TextFeatures(
        title=Counter(map(word_term, _TOKEN.findall(title))),
        lead=_body_terms(body[:split_at], proper),
        rest=_body_terms(body[split_at:], proper),
        proper=frozenset(proper),
    )
