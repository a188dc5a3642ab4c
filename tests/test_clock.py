"""The date guard itself (tests/clock): when .ci/run moves the clock ahead, the tests
and the subprocesses they start all see the moved clock, and the real one is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.clock import CLOCK_AHEAD_ENV, parse_offset, subprocess_env


def test_offsets_are_read_as_days_hours_or_minutes() -> None:
    assert parse_offset("365d") == timedelta(days=365)
    assert parse_offset("365") == timedelta(days=365)
    assert parse_offset("12h") == timedelta(hours=12)
    assert parse_offset("-90m") == timedelta(minutes=-90)
    with pytest.raises(ValueError, match="expected"):
        parse_offset("next year")


def test_subprocesses_keep_the_test_clock_but_not_product_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv(CLOCK_AHEAD_ENV, "365d")
    env = subprocess_env(EXTRA="1")
    assert "AGGREGATOR_DATABASE_URL" not in env
    assert env[CLOCK_AHEAD_ENV] == "365d"
    assert env["EXTRA"] == "1"


def _system_clock() -> datetime:
    """The machine's real time, from a program the guard does not reach (date(1))."""
    seconds = subprocess.run(["date", "+%s"], capture_output=True, text=True, check=True).stdout
    return datetime.fromtimestamp(int(seconds), UTC)


@pytest.mark.skipif(CLOCK_AHEAD_ENV not in os.environ, reason=f"{CLOCK_AHEAD_ENV} is not set")
def test_the_clock_is_moved_here_and_in_python_subprocesses() -> None:
    offset = parse_offset(os.environ[CLOCK_AHEAD_ENV])
    real = _system_clock()
    assert abs(datetime.now(UTC) - (real + offset)) < timedelta(minutes=5)
    child = subprocess.run(
        [sys.executable, "-c", "from datetime import UTC, datetime; print(datetime.now(UTC))"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert abs(datetime.fromisoformat(child.strip()) - (real + offset)) < timedelta(minutes=5)
