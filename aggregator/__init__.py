"""aggregator: a self-hosted RSS/Atom feed aggregator and reader."""

__version__ = "0.1.0"
