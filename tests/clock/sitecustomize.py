"""Moves the clock of Python subprocesses started by the tests (the CLI, ``serve``).

The test run sets ``AGGREGATOR_TEST_CLOCK_AHEAD`` (see tests/clock/__init__.py) and
puts this folder first on ``PYTHONPATH``; Python imports ``sitecustomize`` at start-up,
so a subprocess runs with the same shifted clock as the tests that drive it.
"""

from tests.clock import start_from_environment

start_from_environment()
