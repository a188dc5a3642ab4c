"""Run an ``aggregator`` command and count the SQL statements it executes (aggregator unchanged).

    .venv/bin/python benchmarks/sql_count.py OUT.json --config feeds.yaml poll --all

Listens to SQLAlchemy's ``before_cursor_execute`` / ``after_cursor_execute`` on every
Engine, then runs the command in this process as the ``aggregator`` script would.
Writes OUT.json: per statement shape (verb and table), on the main thread or a worker,
the statements, the parameter sets (``executemany`` runs many rows as one statement)
and their wall time; plus transactions committed and errors (such as "database is
locked"). Statements that SQLite runs itself (triggers: the search index) are not seen.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from aggregator.cli import main as aggregator_main

TABLE = re.compile(
    r"\b(?:INTO|UPDATE|FROM|TABLE|INDEX|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)", re.IGNORECASE
)
_lock = threading.Lock()
_local = threading.local()
# (thread, verb, table) -> [statements, parameter sets, seconds, longest]
statements: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
commits: dict[str, int] = defaultdict(int)
errors: dict[str, int] = defaultdict(int)


def shape(statement: str) -> tuple[str, str]:
    words = statement.split(None, 2)
    verb = words[0].upper() if words else "?"
    if verb in ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK"):
        return " ".join(words[:2]).upper(), ""
    if verb == "PRAGMA":
        return verb, ""
    table = TABLE.search(statement)
    return verb, table.group(1) if table else ""


def thread_kind() -> str:
    return "main" if threading.current_thread() is threading.main_thread() else "worker"


@event.listens_for(Engine, "before_cursor_execute")
def _before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
    _local.started = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _after(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, executemany: bool
) -> None:
    elapsed = time.perf_counter() - getattr(_local, "started", time.perf_counter())
    verb, table = shape(statement)
    rows = len(parameters) if executemany and parameters is not None else 1
    with _lock:
        counts = statements[(thread_kind(), verb, table)]
        counts[0] += 1
        counts[1] += rows
        counts[2] += elapsed
        counts[3] = max(counts[3], elapsed)


@event.listens_for(Engine, "commit")
def _commit(_conn: Any) -> None:
    with _lock:
        commits[thread_kind()] += 1


@event.listens_for(Engine, "handle_error")
def _error(context: Any) -> None:
    # How long the failing statement ran tells a busy timeout (30 s) from a lock
    # upgrade refused at once (a DEFERRED transaction that read, then tried to write).
    elapsed = time.perf_counter() - getattr(_local, "started", time.perf_counter())
    statement = " ".join((context.statement or "").split())[:160]
    with _lock:
        errors[f"{context.original_exception} | after {elapsed:.0f} s | {statement}"] += 1


def write(out: Path) -> None:
    rows = [
        {
            "thread": k[0],
            "verb": k[1],
            "table": k[2],
            "statements": v[0],
            "rows": v[1],
            "s": v[2],
            "max_s": v[3],
        }
        for k, v in sorted(statements.items())
    ]
    out.write_text(
        json.dumps({"statements": rows, "commits": commits, "errors": errors}, indent=1) + "\n"
    )


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["aggregator", *sys.argv[2:]]
    try:
        aggregator_main()
    finally:
        write(out)


if __name__ == "__main__":
    main()
