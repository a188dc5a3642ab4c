"""Notice edits to feeds.yaml while running; keep the last good config on a bad edit."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from aggregator.config import load_config
from aggregator.errors import ConfigErrors
from aggregator.models import Config

log = logging.getLogger(__name__)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigWatcher:
    """Re-reads the config file when its content changes.

    A valid edit replaces ``config`` and calls ``on_change``; an invalid one is
    logged as ``feeds.yaml:LINE: message`` and kept in ``error`` (for the feeds
    page) while the last good config stays in force. Thread-safe.
    """

    def __init__(self, config: Config, on_change: Callable[[Config], None]) -> None:
        self.config = config
        self.error: str | None = None
        self._path = Path(config.path)
        self._on_change = on_change
        self._digest = _digest(self._path)
        self._lock = threading.Lock()

    def check(self) -> bool:
        """Reload if the file changed; return True when a new config was applied."""
        with self._lock:
            digest = _digest(self._path)
            if digest == self._digest:
                return False
            self._digest = digest
            try:
                new_config = load_config(self._path)
            except ConfigErrors as e:
                self.error = str(e)
                log.error("config not reloaded, keeping the last good one:\n%s", e)
                return False
            self.error = None
            self.config = new_config
        log.info("config reloaded from %s", self._path)
        self._on_change(new_config)
        return True
