"""Regenerate aggregator/process/english_words.txt from wordfreq (a build-time tool only).

The aggregator itself never imports wordfreq: loading its English list costs about
50 MB of memory and 0.7 s, while this table of the ~28,000 words with a Zipf
frequency of at least 3.0 costs a few MB. Run in a scratch environment:

    python -m venv /tmp/wf && /tmp/wf/bin/pip install wordfreq==3.1.1
    /tmp/wf/bin/python scripts/make_english_words.py > aggregator/process/english_words.txt
"""

from __future__ import annotations

import re
from collections import defaultdict

import wordfreq  # type: ignore[import-not-found]

HEADER = """\
# English word frequencies for a cold start of document frequencies (aggregator.process._prior).
# Each line: Zipf frequency x 10 (log10 of occurrences per billion words, x 10), then the
# words with that frequency. Derived from wordfreq 3.1.1 (top_n_list('en'), words of letters
# only, Zipf >= 3.0): https://github.com/rspeer/wordfreq -- its data is licensed under
# CC BY-SA 4.0 (Wikipedia, OpenSubtitles, SUBTLEX, Google Books, Reddit, Twitter, ...); so is
# this derived table. Regenerate with scripts/make_english_words.py."""
MIN_ZIPF = 3.0


def main() -> None:
    buckets: dict[int, list[str]] = defaultdict(list)
    for word in wordfreq.top_n_list("en", 40000):
        if not re.fullmatch(r"[a-z]+", word):
            continue
        zipf = wordfreq.zipf_frequency(word, "en")
        if zipf < MIN_ZIPF:
            break
        buckets[round(zipf * 10)].append(word)
    print(HEADER)
    for zipf in sorted(buckets, reverse=True):
        print(zipf, " ".join(buckets[zipf]))


if __name__ == "__main__":
    main()
