"""The Flask application: web reader, merged feeds and health, as blueprints.

``create_app`` never starts the scheduler: tests, the debug reloader and
multi-worker servers must not poll twice. ``aggregator serve`` starts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from aggregator.config import database_url, default_config_path, load_config
from aggregator.models import Config
from aggregator.storage import Storage, open_storage

EXTENSION_KEY = "aggregator"


@dataclass
class AppState:
    """What every view needs: the current config and the storage.

    ``serve`` replaces ``config`` when feeds.yaml is edited, and sets
    ``config_error`` while the file on disk is invalid (the last good config
    stays in force).
    """

    config: Config
    storage: Storage
    config_error: str | None = None


def state() -> AppState:
    """The AppState of the running app."""
    app_state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(app_state, AppState)
    return app_state


def create_app(
    config: Config | None = None,
    *,
    config_path: str | None = None,
    storage: Storage | None = None,
    test_config: dict[str, Any] | None = None,
) -> Flask:
    """Build the app for a loaded config (or the one at ``config_path``).

    Raises ConfigErrors for an invalid config and StorageError when the
    database cannot be opened.
    """
    if config is None:
        config = load_config(config_path or default_config_path())
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(test_config or {})
    app.extensions[EXTENSION_KEY] = AppState(
        config=config, storage=storage or open_storage(database_url(config))
    )
    from aggregator.web import feeds, health, metrics, reader, security

    security.init_app(app)
    health.init_app(app)
    feeds.init_app(app)
    reader.init_app(app)
    metrics.init_app(app)
    return app
