"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), a loopback
feed server, shared material."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from aggregator.config import Config
from aggregator.core import Aggregator, Clock
from aggregator.storage import Storage, open_storage
from tests.clock import CLOCK_AHEAD_ENV, start_from_environment, subprocess_pythonpath
from tests.httpserver import FeedServer

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "AGGREGATOR_TEST_POSTGRES_URL"


def pytest_configure(config: pytest.Config) -> None:
    # The date guard (tests/clock): with AGGREGATOR_TEST_CLOCK_AHEAD set, this process
    # and every Python subprocess the tests start see a clock moved that far ahead.
    if start_from_environment() is not None:
        os.environ["PYTHONPATH"] = subprocess_pythonpath()


def pytest_report_header(config: pytest.Config) -> str | None:
    ahead = os.environ.get(CLOCK_AHEAD_ENV)
    return f"clock moved ahead by {ahead} ({CLOCK_AHEAD_ENV})" if ahead else None


def shared_dir() -> Path | None:
    """The shared material (corpus, fixtures, schemas), or None on a user's fresh clone."""
    configured = os.environ.get("AGGREGATOR_SHARED_DIR")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared"
    return path if path.is_dir() else None


def require_shared(relative: str) -> Path:
    """Return a path inside the shared material or skip the test, saying why."""
    base = shared_dir()
    if base is None:
        pytest.skip("../shared is absent (set AGGREGATOR_SHARED_DIR to use the shared corpus)")
    path = base / relative
    if not path.exists():
        pytest.skip(f"{path} is absent from the shared material")
    return path


def postgres_skip_reason() -> str:
    """Why the PostgreSQL variants do not run (scripts/test says what it probed)."""
    probed = os.environ.get("AGGREGATOR_TEST_POSTGRES_SKIP_REASON")
    reason = probed or f"{POSTGRES_ENV} is not set"
    return f"PostgreSQL variant skipped: {reason} (set {POSTGRES_ENV} to run it)"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, and a PostgreSQL schema when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        pytest.skip(postgres_skip_reason())
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema_name}")
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema_name}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema_name} CASCADE")
        admin.dispose()


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    store = open_storage(db_url)
    yield store
    store.close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1 (tests/httpserver.py), stopped after the test."""
    with FeedServer() as feed_server:
        yield feed_server


MakeAggregator = Callable[..., Aggregator]


@pytest.fixture
def make_aggregator(storage: Storage) -> Iterator[MakeAggregator]:
    """``make_aggregator(config, clock=None, sync=True, **options)``: an Aggregator on
    the test's database (its source feeds synced unless ``sync=False``; ``options`` go
    to Aggregator, e.g. ``fetcher``), closed after the test."""
    made: list[Aggregator] = []

    def make(
        config: Config, *, clock: Clock | None = None, sync: bool = True, **options: Any
    ) -> Aggregator:
        aggregator = Aggregator(config, storage, clock=clock, **options)
        made.append(aggregator)
        if sync:
            aggregator.sync_feeds()
        return aggregator

    yield make
    for aggregator in made:
        aggregator.close()
