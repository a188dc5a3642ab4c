"""Where does our cold ingest spend its time? py-spy over ``aggregator poll --all`` on the farm.

    .venv/bin/pip install py-spy
    .venv/bin/python benchmarks/profile_ingest.py [--feeds 200] [--items 50]

Starts the feed farm (farm.py), then runs three cold ingests of it, each into a fresh
database through the CLI (``aggregator --config X poll --all --workers 16``):

1. under sql_count.py: the SQL statements per new entry, by statement and table, with
   their wall time (time in ``BEGIN IMMEDIATE`` is time spent waiting for SQLite's
   write lock), and any error such as "database is locked";
2. under ``py-spy record``: every thread py-spy sees running (it takes a thread
   sleeping in SQLite's busy handler for a running one, so lock waits show here);
3. under ``py-spy record --gil``: only the thread holding the GIL, i.e. where the
   Python CPU goes (the process is GIL-bound: its CPU time is about its wall time).

Prints, and writes to benchmarks/results/profile-<date>-<feeds>x<items>.md: the time by
area (feedparser, sanitizing, SQLAlchemy, SQLite, HTTP, ...; each sample goes to the
innermost frame that belongs to one), the top functions by cumulative and by own
samples, and the SQL counts. The raw py-spy stacks are kept beside it (.txt).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from farm import FarmProcess
from vs_reader import HERE, SUMMARY, aggregator_executable, farm_config

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
SQLITE_CALLS = {"do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback"}
WAITING_CALLS = {
    "wait",
    "acquire",
    "get",
    "join",
    "sleep",
    "select",
    "poll",
    "_wait_for_tstate_lock",
}

VIEW_TITLES = {
    "threads": "running threads: CPU, C code included",
    "gil": "GIL holder: Python CPU",
}
Rule = tuple[str, Callable[[str, str], bool]]
# (area, test on (file, function)); a sample goes to the innermost frame any rule matches.
AREAS: list[Rule] = [
    ("SQLite itself (C: execute, commit, FTS trigger)", lambda f, fn: (
        f.endswith("sqlalchemy/engine/default.py") and fn in SQLITE_CALLS
    )),
    ("SQLAlchemy (statement building, execution, results)", lambda f, fn: "sqlalchemy/" in f),
    ("parsing: feedparser (+ sgmllib, expat)", lambda f, fn: (
        "feedparser" in f or "sgmllib" in f or "xml/sax" in f
    )),
    ("HTTP: urllib3, http.client, sockets", lambda f, fn: (
        "urllib3/" in f or f.endswith(("http/client.py", "socket.py", "ssl.py"))
    )),
    ("waiting (locks, queues, conditions)", lambda f, fn: (
        f.endswith(("threading.py", "queue.py", "selectors.py")) and fn in WAITING_CALLS
    )),
    ("imports (start-up)", lambda f, fn: "importlib" in f),
    ("ours: fetch", lambda f, fn: "aggregator/fetch" in f),
    ("ours: parse (our side of feedparser, prolog)", lambda f, fn: "aggregator/parse" in f),
    ("ours: sanitize (nh3 runs inside)", lambda f, fn: "aggregator/sanitize" in f),
    ("ours: identity, dedup, categorize, text", lambda f, fn: any(
        f"aggregator/{m}" in f for m in ("dedup", "categorize", "text", "models")
    )),
    ("ours: storage (our SQL assembly)", lambda f, fn: "aggregator/storage/" in f),
    ("ours: merged feeds after the poll (feedgen, renderings)", lambda f, fn: any(
        m in f for m in ("aggregator/publish", "aggregator/feed_pages", "feedgen/", "lxml")
    )),
    ("ours: update / poll / config / cli", lambda f, fn: "aggregator/" in f),
    ("click, logging, other libraries", lambda f, fn: "site-packages/" in f),
]  # fmt: skip


def short(path: str) -> str:
    for marker in ("site-packages/", "/wt-bench/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def parse_stacks(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """py-spy's raw format: ``frame;frame;... count``, outermost frame first."""
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame)
            if match:
                frames.append((match["function"], match["file"]))
        if frames and count.isdigit():
            samples.append((frames, int(count)))
    return samples


LOCK_WAIT = "waiting: SQLite write lock (BEGIN IMMEDIATE, busy handler)"
IDLE_WORKER = "waiting: idle worker (no feed to take)"
# Plumbing every sample passes through; left out of the "cumulative" ranking.
PLUMBING = ("threading.py", "concurrent/futures/", "click/", "contextlib.py", "aggregator/cli.py")


def area_of(frames: list[tuple[str, str]]) -> str:
    """The area a sample belongs to: lock waits first, else the innermost frame with an area."""
    # py-spy names methods Class.method, closures outer.<locals>.inner: rules see the last part.
    frames = [(function.rsplit(".", 1)[-1], file) for function, file in frames]
    if any(f == "_on_begin" and file.endswith("storage/engine.py") for f, file in frames):
        return LOCK_WAIT  # BEGIN itself costs nothing: the time is the busy handler's sleep
    leaf_function, leaf_file = frames[-1]
    if leaf_function == "_worker" and "concurrent/futures" in leaf_file:
        return IDLE_WORKER  # blocked in the work queue's C get()
    for function, file in reversed(frames):
        for area, test in AREAS:
            if test(file, function):
                return area
    return "other (standard library)"


def breakdown(samples: list[tuple[list[tuple[str, str]], int]]) -> dict[str, object]:
    total = sum(count for _, count in samples)
    areas: Counter[str] = Counter()
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    for frames, count in samples:
        areas[area_of(frames)] += count
        names = [f"{function} ({short(file)})" for function, file in frames]
        own[names[-1]] += count
        for name in set(names):
            if not (name.startswith("<module>") or any(p in name for p in PLUMBING)):
                cumulative[name] += count
    return {"total": total, "areas": areas, "own": own, "cumulative": cumulative}


def percent_table(title: str, counter: Counter[str], total: int, limit: int) -> list[str]:
    lines = [f"| {title} | samples | share |", "|---|---:|---:|"]
    for name, count in counter.most_common(limit):
        lines.append(f"| `{name}` | {count} | {count / total:.1%} |")
    return lines


def area_table(views: dict[str, dict[str, object]]) -> list[str]:
    totals = {name: int(view["total"]) for name, view in views.items()}  # type: ignore[call-overload]
    areas: dict[str, Counter[str]] = {name: view["areas"] for name, view in views.items()}  # type: ignore[misc]
    first = next(iter(views))
    order = [area for area, _ in (sum(areas.values(), Counter())).most_common()]
    lines = [
        "| area | " + " | ".join(VIEW_TITLES[name] for name in views) + " |",
        "|---|" + "---:|" * len(views),
    ]
    for area in sorted(order, key=lambda a: -areas[first][a]):
        shares = [
            f"{areas[name][area] / totals[name]:.1%}" if areas[name][area] else "–"
            for name in views
        ]
        lines.append(f"| {area} | " + " | ".join(shares) + " |")
    return lines


def sql_table(counts: dict[str, Any], new_entries: int) -> list[str]:
    rows = counts["statements"]
    per_entry = max(new_entries, 1)
    statements = sum(r["statements"] for r in rows)
    worker = sum(r["statements"] for r in rows if r["thread"] == "worker")
    lines = [
        f"{statements:,} statements for {new_entries:,} new entries: "
        f"**{statements / per_entry:.2f} per new entry**, {worker / per_entry:.2f} of them in "
        "the poll's workers (the rest on the main thread: schema, config sync, merged-feed "
        f"renderings, pruning); {sum(counts['commits'].values()):,} commits. Wall time is "
        "summed over threads; it includes waiting for the GIL after SQLite returns.",
        "",
        "| thread | statement | table | statements | per new entry | rows (executemany) "
        "| wall s | longest s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    minor = [r for r in rows if r["statements"] / per_entry < 0.005 and r["s"] < 0.5]
    for r in sorted((r for r in rows if r not in minor), key=lambda r: -r["statements"]):
        lines.append(
            f"| {r['thread']} | {r['verb']} | {r['table']} | {r['statements']:,} | "
            f"{r['statements'] / per_entry:.2f} | {r['rows']:,} | {r['s']:.2f} | "
            f"{r['max_s']:.2f} |"
        )
    if minor:
        lines.append(
            f"| | {len(minor)} other shapes (schema, PRAGMAs, renderings...) | | "
            f"{sum(r['statements'] for r in minor):,} | | | {sum(r['s'] for r in minor):.2f} | |"
        )
    return lines


def run_poll(args: list[str], label: str) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    summary = SUMMARY.search(result.stdout)
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    locked = [line for line in result.stderr.splitlines() if "database is locked" in line]
    print(f"  {label}: {wall:.1f} s; {summary.group(0) if summary else 'NO SUMMARY'}")
    for line in failures + locked + ([] if summary else result.stderr.splitlines()[-20:]):
        print(f"  !!! {line}", file=sys.stderr)
    return result.stdout, wall


def profile(args: argparse.Namespace, stem: Path) -> None:
    """Run the three cold ingests; leave stem-sql.json, stem-threads.txt and stem-gil.txt."""
    aggregator = aggregator_executable(args.aggregator)
    bin_folder = Path(aggregator).parent
    py_spy = str(bin_folder / "py-spy")
    with (
        FarmProcess(args.feeds, args.items, args.seed) as farm,
        tempfile.TemporaryDirectory() as tmp,
    ):
        urls = farm.urls()

        def fresh_config(name: str) -> list[str]:
            folder = Path(tmp) / name
            folder.mkdir()
            (folder / "feeds.yaml").write_text(farm_config(urls, args.workers, "aggregator.db"))
            return ["--config", str(folder / "feeds.yaml"), "poll", "--all"]

        poll_args = ["--workers", str(args.workers)]
        print(f"profile: cold ingest of {args.feeds} feeds x {args.items} items")
        counts_file = Path(tmp) / "sql.json"
        sql_command = [str(bin_folder / "python"), str(HERE / "sql_count.py"), str(counts_file)]
        stdout, sql_wall = run_poll(sql_command + fresh_config("sql") + poll_args, "SQL counted")
        summary = SUMMARY.search(stdout)
        counts = json.loads(counts_file.read_text())
        counts["new_entries"] = int(summary["new"]) if summary else 0
        counts["wall_s"] = sql_wall
        counts["setup"] = f"{args.feeds} feeds × {args.items} items, {args.workers} workers"
        stem.with_name(f"{stem.name}-sql.json").write_text(json.dumps(counts, indent=1) + "\n")

        for name, extra in (("threads", []), ("gil", ["--gil"])):
            raw = stem.with_name(f"{stem.name}-{name}.txt")
            spy = [py_spy, "record", "--nonblocking", "--format", "raw", "--rate", str(args.rate)]
            spy += ["-o", str(raw)]
            run_poll([*spy, *extra, "--", aggregator, *fresh_config(name), *poll_args], name)


def report(stem: Path, rate: int) -> str:
    stacks = {
        name: breakdown(parse_stacks(stem.with_name(f"{stem.name}-{name}.txt")))
        for name in ("threads", "gil")
    }
    counts = json.loads(stem.with_name(f"{stem.name}-sql.json").read_text())
    threads, gil = stacks["threads"], stacks["gil"]
    text = [
        f"# Profile: cold ingest, {counts['setup']} ({stem.name})",
        "",
        f"py-spy at {rate} Hz (non-blocking) over `aggregator poll --all`, two runs: "
        f"{threads['total']:,} samples of every thread it saw running, {gil['total']:,} of "
        "the thread holding the GIL. A sample goes to the innermost frame that belongs to "
        "an area; C code (SQLite, nh3, expat) counts in the Python frame that called it. "
        "py-spy leaves sleeping threads out (waiting for the GIL, for a queue, or in "
        "SQLite's busy handler), so the first column is roughly where the CPU goes.",
        "",
        *area_table(stacks),
        "",
    ]
    for name, view in (("gil", gil), ("threads", threads)):
        total = int(view["total"])  # type: ignore[call-overload]
        text += [
            f"Top 15 functions by cumulative samples, {VIEW_TITLES[name]} (thread and CLI "
            "plumbing left out):",
            "",
            *percent_table("function", view["cumulative"], total, 15),  # type: ignore[arg-type]
            "",
            f"Top 15 functions by own samples, {VIEW_TITLES[name]}:",
            "",
            *percent_table("function", view["own"], total, 15),  # type: ignore[arg-type]
            "",
        ]
    text += [
        f"SQL (separate run, {counts['wall_s']:.1f} s wall):",
        "",
        *sql_table(counts, counts["new_entries"]),
        "",
        f"Errors seen by SQLAlchemy: {counts['errors'] or 'none'}",
        "",
    ]
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--aggregator", help="our executable [the one beside this Python]")
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument(
        "--report", metavar="STEM", help="only rewrite the report of an earlier profile"
    )
    args = parser.parse_args()
    started = datetime.now().astimezone()
    if args.report:
        stem = Path(args.report)
    else:
        out = Path(args.results)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"profile-{started:%Y-%m-%dT%H%M}-{args.feeds}x{args.items}"
        profile(args, stem)
    text = report(stem, args.rate)
    stem.with_suffix(".md").write_text(text)
    print(text)
    print(f"written: {stem}.md (the raw stacks and SQL counts beside it)")


if __name__ == "__main__":
    main()
