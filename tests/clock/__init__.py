"""The suite's guard against tests that depend on today's date.

``AGGREGATOR_TEST_CLOCK_AHEAD=365d`` (set by ``.ci/run`` for its second pass) moves
the wall clock of the test process, and of every Python subprocess it starts, that
far ahead with time-machine: ``datetime.now()``, ``time.time()`` and friends tell
the shifted time and keep ticking. Monotonic clocks are untouched, so timeouts
behave. A test that fixes a date must hand that date to everything it drives; one
that leans on the real date instead fails in this pass.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

CLOCK_AHEAD_ENV = "AGGREGATOR_TEST_CLOCK_AHEAD"
SITECUSTOMIZE_DIR = Path(__file__).resolve().parent
_started: object | None = None


def parse_offset(text: str) -> timedelta:
    """``"365d"``, ``"12h"``, ``"90m"`` or a number of days, as a timedelta."""
    match = re.fullmatch(r"\s*(-?\d+)\s*([dhm]?)\s*", text)
    if match is None:
        raise ValueError(f"{CLOCK_AHEAD_ENV}={text!r}: expected e.g. 365d, 12h or 90m")
    amount, unit = int(match.group(1)), match.group(2) or "d"
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})


def start_from_environment() -> timedelta | None:
    """Move this process's clock ahead as the environment asks; return the offset."""
    global _started
    text = os.environ.get(CLOCK_AHEAD_ENV)
    if not text or _started is not None:
        return None
    import time_machine

    offset = parse_offset(text)
    traveller = time_machine.travel(datetime.now(UTC) + offset, tick=True)
    traveller.start()
    _started = traveller
    return offset


def subprocess_pythonpath() -> str:
    """PYTHONPATH for subprocesses: this folder's sitecustomize, then the repository."""
    parts = [str(SITECUSTOMIZE_DIR), str(SITECUSTOMIZE_DIR.parent.parent)]
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*parts, existing] if existing else parts)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for an ``aggregator`` subprocess: the product's own settings
    (``AGGREGATOR_CONFIG``, ``AGGREGATOR_DATABASE_URL``, ...) dropped so a test says
    what it means, the test clock kept so the subprocess shares it."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AGGREGATOR_") or name == CLOCK_AHEAD_ENV
    }
    env.update(extra)
    return env


class FixedClock:
    """A clock a test sets and moves by hand, for ``Aggregator(clock=...)`` and anything
    else that takes one: everything the test drives sees the same time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now
