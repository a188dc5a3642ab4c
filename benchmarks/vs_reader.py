"""Side by side with lemon24's reader: the same loopback feed farm, each side in its own processes.

    .venv/bin/python benchmarks/vs_reader.py            # 1,000 feeds x 50 items, 3 runs
    .venv/bin/python benchmarks/vs_reader.py --quick    # 100 feeds x 50 items, 1 run

Starts the feed farm (farm.py) as its own process, then, in every run and for each
side in turn, each scenario in a fresh process:

1. cold ingest: an empty database, every feed added and polled, every entry new;
2. process start: open the database that made (ours: ``aggregator check``; reader:
   ``make_reader(db)``), five times;
3. re-poll, every feed answers 304;
4. re-poll, the farm ignores validators (identical 200s);
5. re-poll, 10 % of the feeds gained one item (the others 304).

Ours runs through its public CLI only: a feeds.yaml for the farm in a temporary folder,
then ``aggregator --config X poll --all --workers 16``. reader 3.26 (PyPI) runs in its
own virtualenv (benchmarks/.venv-reader, made on first use) through reader_driver.py:
``update_feeds`` with ``workers=16``, and ``scheduled=False`` to re-poll.

For each scenario it measures the child's wall time, CPU time (user + sys, from wait4)
and peak RSS, takes the median of ``--runs``, and checks that every feed was fetched
(the farm counts requests), that no poll failed and that every entry was stored
(ours: rows of ``entries``; reader: ``get_entry_counts()``). It prints a table with the
targets of issue 12 and writes it, with the raw figures and the machine's details,
to benchmarks/results/vs_reader-<date>-<feeds>x<items>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from farm import FarmProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
READER_REQUIREMENTS = ("reader==3.26", "sgmllib3k")
SUMMARY = re.compile(
    r"Polled (?P<feeds>\d+) feeds: (?P<ok>\d+) ok, (?P<not_modified>\d+) not modified, "
    r"(?P<failed>\d+) failed; (?P<new>\d+) new entries, (?P<updated>\d+) updated\."
)
SIDES = ("reader", "ours")
START_REPEATS = 5


# --- running a child and measuring it ----------------------------------------------------


@dataclass
class Measurement:
    wall: float  # seconds
    cpu: float  # seconds, user + sys of the child (and anything it waited for)
    max_rss_mb: float
    returncode: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)
    farm_cpu: float = 0.0  # seconds the farm spent serving meanwhile
    farm_requests: dict[str, int] = field(default_factory=dict)
    load_average: float = 0.0  # 1-minute, when the child started


def run_measured(
    args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measurement:
    """Run ``args`` to completion; its own rusage comes from wait4, not from our children total."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        process = subprocess.Popen(args, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measurement(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            max_rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            load_average=load,
        )


def loud(message: str) -> None:
    print(f"\n!!! {message}\n", file=sys.stderr, flush=True)


# --- the two sides -----------------------------------------------------------------------


class Side:
    """One contender: how to ingest, re-poll, open and count, each in a fresh process."""

    name = ""

    def __init__(self, folder: Path, urls: list[str], workers: int) -> None:
        self.folder, self.urls, self.workers = folder, urls, workers

    def ingest(self) -> Measurement:
        raise NotImplementedError

    def repoll(self) -> Measurement:
        raise NotImplementedError

    def start(self) -> Measurement:
        raise NotImplementedError

    def entries(self) -> int:
        raise NotImplementedError

    def database_files(self) -> list[Path]:
        raise NotImplementedError

    def outcome(self, measurement: Measurement) -> dict[str, Any]:
        """feeds, new, not_modified, failed and the failures' text, from the child's output."""
        raise NotImplementedError

    def database_mb(self) -> float:
        return sum(path.stat().st_size for path in self.database_files()) / 1e6


class Ours(Side):
    name = "ours"

    def __init__(self, folder: Path, urls: list[str], workers: int, executable: str) -> None:
        super().__init__(folder, urls, workers)
        self.executable = executable
        self.config = folder / "feeds.yaml"
        self.database = folder / "aggregator.db"
        self.config.write_text(farm_config(urls, workers, self.database.name))

    def _command(self, *args: str) -> list[str]:
        return [self.executable, "--config", str(self.config), *args]

    def ingest(self) -> Measurement:
        return run_measured(self._command("poll", "--all", "--workers", str(self.workers)))

    repoll = ingest

    def start(self) -> Measurement:
        return run_measured(self._command("check"))

    def entries(self) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute("SELECT count(*) FROM entries").fetchone()[0])

    def database_files(self) -> list[Path]:
        return sorted(self.folder.glob(self.database.name + "*"))

    def outcome(self, measurement: Measurement) -> dict[str, Any]:
        match = SUMMARY.search(measurement.stdout)
        failures = [line for line in measurement.stdout.splitlines() if line.startswith("FAILED")]
        locked = sum("database is locked" in line for line in measurement.stderr.splitlines())
        if match is None:
            tail = measurement.stderr.strip().splitlines()[-5:]
            return {"feeds": 0, "failed": len(self.urls), "failures": failures or tail}
        counts = {name: int(value) for name, value in match.groupdict().items()}
        return {**counts, "failures": failures, "locked_log_lines": locked}


class Reader(Side):
    name = "reader"

    def __init__(self, folder: Path, urls: list[str], workers: int, python: str) -> None:
        super().__init__(folder, urls, workers)
        self.python = python
        self.database = folder / "reader.db"
        self.url_file = folder / "urls.txt"
        self.url_file.write_text("\n".join(urls) + "\n")

    def _driver(self, *args: str) -> list[str]:
        # -I: the benchmarks folder must not be on sys.path (benchmarks/reader.py
        # would shadow the reader package).
        return [self.python, "-I", str(HERE / "reader_driver.py"), *args]

    def ingest(self) -> Measurement:
        return run_measured(
            self._driver(
                "ingest", str(self.database), str(self.url_file), "--workers", str(self.workers)
            )
        )

    def repoll(self) -> Measurement:
        return run_measured(
            self._driver("update", str(self.database), "--workers", str(self.workers))
        )

    def start(self) -> Measurement:
        code = f"from reader import make_reader; make_reader({str(self.database)!r})"
        return run_measured([self.python, "-I", "-c", code])

    def entries(self) -> int:
        result = subprocess.run(
            self._driver("count", str(self.database)), capture_output=True, text=True, check=True
        )
        return int(json.loads(result.stdout)["entries"])

    def database_files(self) -> list[Path]:
        return sorted(self.folder.glob(self.database.name + "*"))  # with reader.db.search

    def outcome(self, measurement: Measurement) -> dict[str, Any]:
        try:
            result = json.loads(measurement.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            tail = measurement.stderr.strip().splitlines()[-3:]
            return {"feeds": 0, "failed": len(self.urls), "failures": tail or ["no output"]}
        failures = [f"{url}: {error}" for url, error in result["errors"].items()]
        return {
            "feeds": result["feeds"],
            "new": result["new"],
            "updated": result["modified"],
            "not_modified": result["not_modified"],
            "failed": len(failures),
            "failures": failures,
        }


def farm_config(urls: list[str], workers: int, database: str) -> str:
    """A feeds.yaml for the farm: the keys issue 12 fixes, two sections for realism."""
    lines = [
        "site:",
        "  title: vs_reader farm",
        "  base_url: http://localhost:8000",
        "storage:",
        f"  url: sqlite:///{database}",  # relative: next to this file
        "polling:",
        "  allow_private_networks: true",
        "  host_spacing: 0s",
        "  per_host: 16",
        f"  workers: {workers}",
        "categories:",
        "  - name: US Military",
        "    aliases: [U.S. Military, Military]",
        "    keywords: [Pentagon, Navy, Air Force]",
        "  - name: US News",
        "    aliases: [U.S. News]",
        "feeds:",
        *(f"  - url: {url}" for url in urls),
    ]
    return "\n".join(lines) + "\n"


# --- scenarios ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    mode: str  # the farm's
    expected_requests: dict[str, int]
    expected_new: int


def scenarios(feeds: int, items: int, changed: int) -> list[Scenario]:
    return [
        Scenario("cold", "cold ingest, every entry new", "normal", {"200": feeds}, feeds * items),
        Scenario("304", "re-poll, every feed 304", "normal", {"304": feeds}, 0),
        Scenario(
            "identical",
            "re-poll, validators ignored (identical 200s)",
            "ignore-validators",
            {"200": feeds},
            0,
        ),
        Scenario(
            "changed",
            "re-poll, 10% of feeds gained one item",
            "changed",
            {"200": changed, "304": feeds - changed},
            changed,
        ),
    ]


class Bench:
    def __init__(self, args: argparse.Namespace, farm: FarmProcess, reader_python: str) -> None:
        self.args, self.farm, self.reader_python = args, farm, reader_python
        self.urls = farm.urls()
        self.changed = len(farm.changed_urls())
        self.scenarios = scenarios(len(self.urls), args.items, self.changed)
        # raw[side][scenario key] = one Measurement per run
        self.raw: dict[str, dict[str, list[Measurement]]] = {s: {} for s in SIDES}
        self.db_mb: dict[str, list[float]] = {s: [] for s in SIDES}
        self.entries: dict[str, dict[str, list[int]]] = {s: {} for s in SIDES}
        self.outcomes: dict[str, dict[str, list[dict[str, Any]]]] = {s: {} for s in SIDES}
        self.problems: list[str] = []

    def make_side(self, name: str, folder: Path) -> Side:
        folder.mkdir()
        if name == "ours":
            return Ours(folder, self.urls, self.args.workers, self.args.aggregator)
        return Reader(folder, self.urls, self.args.workers, self.reader_python)

    def run(self, number: int) -> None:
        # Alternate which side goes first, so neither always meets a warmer (or busier) machine.
        order = SIDES if number % 2 == 0 else SIDES[::-1]
        with tempfile.TemporaryDirectory(prefix="vs_reader-", dir=self.args.tmp) as tmp:
            sides = {name: self.make_side(name, Path(tmp) / name) for name in order}
            for scenario in self.scenarios:
                for name in order:
                    self.measure(sides[name], scenario, number)
                if scenario.key == "cold":
                    for name in order:
                        self.db_mb[name].append(sides[name].database_mb())
                    self.measure_start(sides, order)
            self.farm.set_mode("normal")

    def measure(self, side: Side, scenario: Scenario, number: int) -> None:
        self.farm.set_mode(scenario.mode)  # also resets the farm's counters
        farm_cpu = self.farm.cpu_seconds()
        action: Callable[[], Measurement] = side.ingest if scenario.key == "cold" else side.repoll
        measurement = action()
        measurement.farm_cpu = self.farm.cpu_seconds() - farm_cpu
        measurement.farm_requests = self.farm.set_mode(scenario.mode)
        self.raw[side.name].setdefault(scenario.key, []).append(measurement)
        outcome = side.outcome(measurement)
        self.outcomes[side.name].setdefault(scenario.key, []).append(outcome)
        entries = side.entries()
        self.entries[side.name].setdefault(scenario.key, []).append(entries)
        print(
            f"  run {number + 1} {side.name:<6} {scenario.key:<9} {measurement.wall:7.2f} s wall "
            f"{measurement.cpu:7.2f} s CPU {measurement.max_rss_mb:6.0f} MB  "
            f"farm {measurement.farm_cpu:5.2f} s CPU {measurement.farm_requests}  "
            f"{outcome.get('new', '?')} new, {outcome.get('failed', '?')} failed, "
            f"{entries} entries stored",
            flush=True,
        )
        self.check(side, scenario, measurement, outcome, entries, number)

    def check(
        self,
        side: Side,
        scenario: Scenario,
        measurement: Measurement,
        outcome: dict[str, Any],
        entries: int,
        number: int,
    ) -> None:
        where = f"run {number + 1}, {side.name}, {scenario.key}"
        expected_entries = len(self.urls) * self.args.items
        if scenario.key == "changed":
            expected_entries += self.changed
        expected_new, expected_requests = scenario.expected_new, scenario.expected_requests
        lost = int(self.outcomes[side.name]["cold"][number].get("failed", 0))
        if scenario.key == "304" and lost:
            # The feeds whose cold ingest failed are fetched whole now; not a new problem.
            expected_new = lost * self.args.items
            expected_requests = {"304": len(self.urls) - lost, "200": lost}
            print(f"  ({side.name}: the {lost} feeds lost in the cold ingest are fetched whole)")
        problems = []
        if measurement.returncode != 0:
            problems.append(f"exit status {measurement.returncode}: {measurement.stderr[-2000:]}")
        if outcome.get("failed"):
            problems.append(
                f"{outcome['failed']} feeds FAILED:\n    " + "\n    ".join(outcome["failures"])
            )
        elif outcome.get("locked_log_lines"):
            problems.append(f"{outcome['locked_log_lines']} 'database is locked' lines logged")
        if outcome.get("feeds") != len(self.urls):
            problems.append(f"{outcome.get('feeds')} feeds polled, not {len(self.urls)}")
        if outcome.get("new") != expected_new:
            problems.append(f"{outcome.get('new')} new entries, expected {expected_new}")
        if entries != expected_entries:
            problems.append(f"{entries} entries stored, expected {expected_entries}")
        if measurement.farm_requests != expected_requests:
            problems.append(f"farm saw {measurement.farm_requests}, expected {expected_requests}")
        for problem in problems:
            loud(f"{where}: {problem}")
            self.problems.append(f"{where}: {problem}")

    def measure_start(self, sides: dict[str, Side], order: Sequence[str]) -> None:
        for _ in range(START_REPEATS):
            for name in order:
                measurement = sides[name].start()
                if measurement.returncode != 0:
                    loud(f"{name} start failed: {measurement.stderr[-1000:]}")
                self.raw[name].setdefault("start", []).append(measurement)


# --- summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scenario: str
    metric: str
    reader: float
    ours: float
    must: str
    goal: str
    passed: bool
    goal_met: bool | None


def median_of(measurements: list[Measurement], attribute: str) -> float:
    return float(statistics.median(getattr(m, attribute) for m in measurements))


def lost_polls(bench: Bench, side: str) -> int:
    """Feeds whose cold-ingest poll failed, over all runs."""
    return sum(int(outcome.get("failed", 0)) for outcome in bench.outcomes[side]["cold"])


def medians_of(bench: Bench) -> dict[str, dict[str, dict[str, float]]]:
    feeds = len(bench.urls)
    medians: dict[str, dict[str, dict[str, float]]] = {}
    for side in SIDES:
        medians[side] = {}
        for key, measurements in bench.raw[side].items():
            wall, cpu = median_of(measurements, "wall"), median_of(measurements, "cpu")
            count = 1 if key == "start" else feeds
            medians[side][key] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "max_rss_mb": median_of(measurements, "max_rss_mb"),
                "feeds_per_s": count / wall,
                "ms_cpu_per_feed": cpu / count * 1000,
                "farm_cpu_s": median_of(measurements, "farm_cpu"),
                "load_average": median_of(measurements, "load_average"),
            }
        changed = medians[side]["changed"]
        changed["ms_cpu_per_changed_feed"] = changed["cpu_s"] / max(bench.changed, 1) * 1000
        medians[side]["database"] = {"mb": float(statistics.median(bench.db_mb[side]))}
        medians[side]["lost_polls"] = {"cold": float(lost_polls(bench, side))}
    return medians


def targets_of(medians: dict[str, dict[str, dict[str, float]]]) -> list[Target]:
    """Issue 12's targets: "must" decides PASS/FAIL, "goal" is reported beside it."""
    r, o = medians["reader"], medians["ours"]
    targets = []
    for key, label, must, goal in (
        ("cold", "cold ingest, every entry new", 5, 10),
        ("304", "re-poll, every feed 304", 4, 10),
    ):
        ratio = o[key]["feeds_per_s"] / r[key]["feeds_per_s"]
        targets.append(
            Target(
                label, "feeds/s", r[key]["feeds_per_s"], o[key]["feeds_per_s"],
                f"≥ {must}× reader", f"≥ {goal}×", ratio >= must, ratio >= goal,
            )
        )  # fmt: skip
    for key, label, metric, name, must, goal in (
        ("identical", "re-poll, identical 200s", "ms_cpu_per_feed", "ms CPU/feed", 2, 1),
        (
            "changed", "re-poll, 10% of feeds gained one item",
            "ms_cpu_per_changed_feed", "ms CPU per changed feed", 20, 10,
        ),
    ):  # fmt: skip
        ours = o[key][metric]
        targets.append(
            Target(
                label, name, r[key][metric], ours,
                f"≤ {must} ms", f"≤ {goal} ms", ours <= must, ours <= goal,
            )
        )  # fmt: skip
    for label, metric, reader, ours in (
        ("peak memory, cold ingest", "peak RSS, MB",
         r["cold"]["max_rss_mb"], o["cold"]["max_rss_mb"]),
        ("database size after cold ingest", "MB", r["database"]["mb"], o["database"]["mb"]),
    ):  # fmt: skip
        targets.append(
            Target(
                label, metric, reader, ours, "≤ 1.5× reader", "≤ 1×",
                ours <= 1.5 * reader, ours <= reader,
            )
        )  # fmt: skip
    reader_start, ours_start = r["start"]["wall_s"], o["start"]["wall_s"]
    targets.append(
        Target(
            "process start (check / make_reader)", "wall, s", reader_start, ours_start,
            "≤ reader", "", ours_start <= reader_start, None,
        )
    )  # fmt: skip
    lost = o["lost_polls"]["cold"]
    targets.append(
        Target(
            "lost polls, cold ingest, all runs", "failed feeds", r["lost_polls"]["cold"], lost,
            "0", "0", lost == 0, lost == 0,
        )
    )  # fmt: skip
    return targets


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def ratio_text(target: Target) -> str:
    if target.reader == 0:
        return "–" if target.ours == 0 else "∞"
    return f"{target.ours / target.reader:.2f}×"


def targets_table(targets: list[Target]) -> list[str]:
    lines = [
        "| scenario | metric | reader | ours | ours / reader | must | goal | result |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for t in targets:
        goal = "" if t.goal_met is None else (" (goal met)" if t.goal_met else " (goal not met)")
        lines.append(
            f"| {t.scenario} | {t.metric} | {number(t.reader)} | {number(t.ours)} | "
            f"{ratio_text(t)} | {t.must} | {t.goal} | {'PASS' if t.passed else 'FAIL'}{goal} |"
        )
    return lines


def details_table(medians: dict[str, dict[str, dict[str, float]]], feeds: int) -> list[str]:
    lines = [
        "| scenario | side | wall s | CPU s | feeds/s | ms CPU/feed | ms CPU/feed net of start "
        "| peak RSS MB | farm CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in ("cold", "start", "304", "identical", "changed"):
        for side in SIDES:
            m = medians[side][key]
            rate, per_feed = f"{m['feeds_per_s']:.1f}", f"{m['ms_cpu_per_feed']:.2f}"
            net = (m["cpu_s"] - medians[side]["start"]["cpu_s"]) / feeds * 1000
            net_text = f"{net:.2f}"
            if key == "start":
                rate = per_feed = net_text = ""
            elif key == "changed":
                per_feed += f" ({m['ms_cpu_per_changed_feed']:.1f} per changed feed)"
            lines.append(
                f"| {key} | {side} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | {rate} | "
                f"{per_feed} | {net_text} | {m['max_rss_mb']:.0f} | {m['farm_cpu_s']:.2f} |"
            )
    return lines


# --- setup and report --------------------------------------------------------------------


def reader_python(venv: Path) -> str:
    """The reader venv's interpreter; the venv is made (reader 3.26 + sgmllib3k) on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {venv} ({', '.join(READER_REQUIREMENTS)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *READER_REQUIREMENTS], check=True
        )
    return str(python)


def aggregator_executable(given: str | None) -> str:
    candidates = [given] if given else []
    candidates += [
        str(Path(sys.executable).parent / "aggregator"),
        str(REPO / ".venv/bin/aggregator"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("aggregator")
    if found is None:
        sys.exit("no aggregator executable: pip install -e . into .venv, or pass --aggregator")
    return found


def compile_ours(aggregator: str) -> None:
    """Byte-compile our package, as pip does for reader's when it installs it.

    An editable install (``pip install -e .``) leaves compiling to the first import,
    which writes nothing where PYTHONDONTWRITEBYTECODE is set (as on this machine), so
    every process of ours would compile its ~90 modules again: about a fifth of a
    process start, which reader's installed package never pays."""
    python = str(Path(aggregator).parent / "python")
    where = "import aggregator, os; print(os.path.dirname(aggregator.__file__))"
    package = output_of([python, "-c", where])
    subprocess.run([python, "-m", "compileall", "-q", package], check=True)


def output_of(args: Sequence[str]) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).strip()


def machine_info(reader_py: str, aggregator: str) -> dict[str, Any]:
    ours_python = str(Path(aggregator).parent / "python")
    versions_code = (
        "import importlib.metadata as m, sqlite3, sys; "
        "print(sys.version.split()[0], sqlite3.sqlite_version, "
        "*(m.version(p) for p in sys.argv[1:]))"
    )
    reader_versions = output_of(
        [reader_py, "-I", "-c", versions_code, "reader", "feedparser", "requests"]
    ).split()
    ours_versions = output_of(
        [ours_python, "-I", "-c", versions_code, "aggregator", "feedparser", "SQLAlchemy", "nh3"]
    ).split()
    return {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "bench_python": platform.python_version(),
        "reader": dict(
            zip(
                ["python", "sqlite", "reader", "feedparser", "requests"],
                reader_versions,
                strict=False,
            )
        ),
        "ours": dict(
            zip(
                ["python", "sqlite", "aggregator", "feedparser", "SQLAlchemy", "nh3"],
                ours_versions,
                strict=False,
            )
        ),
        "reader_vendored_feedparser": os.environ.get("READER_NO_VENDORED_FEEDPARSER", "")
        in ("", "0"),
        "git_commit": output_of(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def write_report(
    bench: Bench,
    info: dict[str, Any],
    medians: dict[str, dict[str, dict[str, float]]],
    targets: list[Target],
    started: datetime,
) -> Path:
    args = bench.args
    feeds = len(bench.urls)
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"vs_reader-{started:%Y-%m-%dT%H%M}-{feeds}x{args.items}"
    load = ", ".join(f"{x:.2f}" for x in info["load_average_at_start"])
    text = [
        f"# vs_reader: {feeds} feeds × {args.items} items, {args.runs} run(s), median",
        "",
        f"{started:%Y-%m-%d %H:%M} · {info['cpu_count']} CPUs · load average at start {load} · "
        f"ours {info['ours'].get('aggregator', '?')} (git {info['git_commit']}, "
        f"Python {info['ours'].get('python', '?')}, SQLite {info['ours'].get('sqlite', '?')}) · "
        f"reader {info['reader'].get('reader', '?')} "
        f"(Python {info['reader'].get('python', '?')}) · "
        f"{args.workers} workers each · {bench.changed} feeds change in the 10% scenario",
        "",
        *targets_table(targets),
        "",
        "ours / reader: above 1 is better for feeds/s, below 1 for the other rows.",
        "",
        "Medians per scenario. CPU = user + sys of the child process, start-up included; "
        "net of start = minus the median CPU of a process start; farm CPU = the farm "
        "process serving meanwhile.",
        "",
        *details_table(medians, feeds),
        "",
    ]
    if bench.problems:
        text += ["Problems:", "", *(f"- {p}" for p in bench.problems), ""]
    stem.with_suffix(".md").write_text("\n".join(text))
    raw = {
        side: {
            key: [
                {k: v for k, v in asdict(m).items() if k not in ("stdout", "stderr")}
                for m in measurements
            ]
            for key, measurements in bench.raw[side].items()
        }
        for side in SIDES
    }
    document = {
        "started": started.isoformat(),
        "arguments": {k: v for k, v in vars(args).items()},
        "feeds": feeds,
        "items": args.items,
        "changed_feeds": bench.changed,
        "machine": info,
        "medians": medians,
        "targets": [asdict(t) for t in targets],
        "runs": raw,
        "entries_stored": bench.entries,
        "database_mb": bench.db_mb,
        "outcomes": bench.outcomes,
        "problems": bench.problems,
    }
    stem.with_suffix(".json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    return stem


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, help="source feeds in the farm [1000; quick 100]")
    parser.add_argument("--items", type=int, default=50, help="items per feed [50]")
    parser.add_argument("--runs", type=int, help="runs; the median is reported [3; quick 1]")
    parser.add_argument("--quick", action="store_true", help="100 feeds, 1 run")
    parser.add_argument("--workers", type=int, default=16, help="each side's workers [16]")
    parser.add_argument("--seed", type=int, default=12, help="the farm's content [12]")
    parser.add_argument("--aggregator", help="our executable [the one beside this Python]")
    parser.add_argument(
        "--reader-venv", default=str(HERE / ".venv-reader"), help="[benchmarks/.venv-reader]"
    )
    parser.add_argument("--results", default=str(HERE / "results"), help="[benchmarks/results]")
    parser.add_argument("--tmp", help="where the databases go [the system's temp folder]")
    args = parser.parse_args()
    args.feeds = args.feeds or (100 if args.quick else 1000)
    args.runs = args.runs or (1 if args.quick else 3)
    return args


def main() -> None:
    args = parse_arguments()
    started = datetime.now().astimezone()
    args.aggregator = aggregator_executable(args.aggregator)
    compile_ours(args.aggregator)
    reader_py = reader_python(Path(args.reader_venv))
    info = machine_info(reader_py, args.aggregator)
    print(
        f"vs_reader: {args.feeds} feeds x {args.items} items, {args.runs} run(s), "
        f"{info['cpu_count']} CPUs, load average {info['load_average_at_start']}",
        flush=True,
    )
    with FarmProcess(args.feeds, args.items, args.seed) as farm:
        bench = Bench(args, farm, reader_py)
        for run_number in range(args.runs):
            bench.run(run_number)
    medians = medians_of(bench)
    targets = targets_of(medians)
    stem = write_report(bench, info, medians, targets, started)
    print()
    print(stem.with_suffix(".md").read_text())
    print(f"written: {stem}.md and .json")
    if bench.problems:
        loud(f"{len(bench.problems)} problem(s), listed above and in the report")
        sys.exit(1)


if __name__ == "__main__":
    main()
