"""Logging setup: readable lines on a terminal, or one JSON object per line.

Records about a feed carry its URL in ``feed_url`` (``extra={"feed_url": ...}``),
so JSON logs can be filtered by feed without parsing messages.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)
_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(verbosity: int, *, json_lines: bool = False) -> None:
    """Log to stderr at WARNING (0), INFO (1) or DEBUG (2+), as text or JSON lines."""
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[min(verbosity, len(LEVELS) - 1)])
    # The scheduler logs every run of every job at INFO: only with -vv.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
