"""ConfigWatcher: valid edits apply, invalid ones keep the last good config."""

from __future__ import annotations

from pathlib import Path

from aggregator.config import ConfigWatcher, load_config

GOOD = "feeds:\n  - url: https://a.example/feed\n"
BETTER = "feeds:\n  - url: https://a.example/feed\n  - url: https://b.example/feed\n"
BROKEN = "feeds:\n  - url: https://a.example/feed\n    intervall: 1h\n"


def test_reload_applies_good_edits_and_keeps_last_good_on_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    watcher = ConfigWatcher(load_config(path))

    assert watcher.check() is None  # nothing changed
    path.write_text(BETTER)
    applied = watcher.check()
    assert applied is not None and len(applied.feeds) == 2

    path.write_text(BROKEN)
    assert watcher.check() is None
    assert watcher.error is not None and f"{path}:3: unknown key 'intervall'" in watcher.error
    assert len(watcher.config.feeds) == 2  # the last good config stays
    assert watcher.check() is None  # the same broken file is reported once

    path.write_text(GOOD)
    applied = watcher.check()
    assert applied is not None and len(applied.feeds) == 1
    assert watcher.error is None


def test_a_deleted_file_keeps_the_config(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    watcher = ConfigWatcher(load_config(path))
    path.unlink()
    assert watcher.check() is None
    assert watcher.error is not None and "cannot read" in watcher.error
    assert len(watcher.config.feeds) == 1
