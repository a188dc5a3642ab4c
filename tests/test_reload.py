"""ConfigWatcher: valid edits apply, invalid ones keep the last good config."""

from __future__ import annotations

from pathlib import Path

from aggregator.config import load_config
from aggregator.models import Config
from aggregator.reload import ConfigWatcher

GOOD = "feeds:\n  - url: https://a.example/feed\n"
BETTER = "feeds:\n  - url: https://a.example/feed\n  - url: https://b.example/feed\n"
BROKEN = "feeds:\n  - url: https://a.example/feed\n    intervall: 1h\n"


def test_reload_applies_good_edits_and_keeps_last_good_on_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    applied: list[Config] = []
    watcher = ConfigWatcher(load_config(path), applied.append)

    assert not watcher.check()  # nothing changed
    path.write_text(BETTER)
    assert watcher.check()
    assert [len(c.feeds) for c in applied] == [2]

    path.write_text(BROKEN)
    assert not watcher.check()
    assert watcher.error is not None and f"{path}:3: unknown key 'intervall'" in watcher.error
    assert len(watcher.config.feeds) == 2  # the last good config stays
    assert not watcher.check()  # the same broken file is reported once

    path.write_text(GOOD)
    assert watcher.check()
    assert watcher.error is None
    assert [len(c.feeds) for c in applied] == [2, 1]


def test_a_deleted_file_keeps_the_config(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    watcher = ConfigWatcher(load_config(path), lambda _c: None)
    path.unlink()
    assert not watcher.check()
    assert watcher.error is not None and "cannot read" in watcher.error
    assert len(watcher.config.feeds) == 1
