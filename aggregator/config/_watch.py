"""Notice edits to feeds.yaml while running; keep the last good config on a bad edit."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from aggregator.config._load import load_config
from aggregator.config._types import Config
from aggregator.errors import ConfigErrors

log = logging.getLogger(__name__)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigWatcher:
    """Re-reads the config file when its content changes.

    A valid edit is returned by ``check`` (and becomes ``config``); an invalid one
    is logged as ``feeds.yaml:LINE: message`` and kept in ``error`` (for the feeds
    page and /healthz) while the last good config stays in force. Thread-safe.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.error: str | None = None
        self._path = Path(config.path)
        self._digest = _digest(self._path)
        self._lock = threading.Lock()

    def check(self) -> Config | None:
        """Reload if the file changed; return the new config when it is valid, else None."""
        with self._lock:
            digest = _digest(self._path)
            if digest == self._digest:
                return None
            self._digest = digest
            try:
                new_config = load_config(self._path)
            except ConfigErrors as e:
                self.error = str(e)
                log.error("config not reloaded, keeping the last good one:\n%s", e)
                return None
            fixed, self.error = self.error is not None, None
            self.config = new_config
        if fixed:
            # The log's last word on the file must not stay the ERROR above.
            log.info(
                "%s is valid again: the errors are fixed and its config is in force", self._path
            )
        else:
            log.info("config reloaded from %s", self._path)
        return new_config
