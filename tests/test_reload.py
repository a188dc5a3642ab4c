"""ConfigWatcher: valid edits apply, invalid ones keep the last good config."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

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


def test_a_fixed_file_is_logged_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    watcher = ConfigWatcher(load_config(path))
    caplog.set_level(logging.INFO, logger="aggregator.config")
    path.write_text(BROKEN)
    watcher.check()
    path.write_text(BETTER)
    assert watcher.check() is not None
    levels = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert levels[0][0] == "ERROR"
    assert levels[-1] == (
        "INFO",
        f"{path} is valid again: the errors are fixed and its config is in force",
    )
