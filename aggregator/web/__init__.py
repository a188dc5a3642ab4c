"""The Flask application: web reader, accounts, merged feeds, sync APIs and health, as
blueprints.

Every view is a thin caller of the front object (``aggregator.core.Aggregator``),
which the app is given (``create_app(aggregator)``). ``create_app`` never starts the
background jobs: tests, the debug reloader and multi-worker servers must not poll
twice. ``aggregator serve`` starts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from aggregator.config import Config
from aggregator.core import Aggregator

EXTENSION_KEY = "aggregator"


@dataclass
class AppState:
    """What every view needs: the aggregator (and through it the config in force)."""

    aggregator: Aggregator

    @property
    def config(self) -> Config:
        return self.aggregator.config

    @property
    def config_error(self) -> str | None:
        return self.aggregator.config_error


def state() -> AppState:
    """The AppState of the running app."""
    app_state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(app_state, AppState)
    return app_state


def aggregator() -> Aggregator:
    """The aggregator the running app serves."""
    return state().aggregator


def create_app(
    source: Aggregator | None = None,
    *,
    test_config: dict[str, Any] | None = None,
) -> Flask:
    """Build the app serving an aggregator (default: the one of ./feeds.yaml or
    $AGGREGATOR_CONFIG, opened here).

    Raises ConfigErrors for an invalid config and StorageError when the database
    cannot be opened.
    """
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(test_config or {})
    app.extensions[EXTENSION_KEY] = AppState(source or Aggregator.open())
    from aggregator.web import (
        access,
        accounts,
        admin,
        fever,
        greader,
        health,
        metrics,
        outputs,
        reader,
        security,
    )

    security.init_app(app)
    access.init_app(app)
    health.init_app(app)
    outputs.init_app(app)
    reader.init_app(app)
    admin.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(accounts.blueprint)
    greader.init_app(app)
    fever.init_app(app)
    return app
