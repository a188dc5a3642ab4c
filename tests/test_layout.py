"""The package boundaries of DESIGN.md, checked on the source.

- Each wrapped library has one home: feedparser, feedgen, nh3, urllib3, APScheduler
  and waitress are imported in one module or package each; Flask only in ``web/``,
  SQLAlchemy only in ``storage/``.
- Each package has a public face (its ``__init__.py``); its other modules are private
  (leading underscore) and no other package imports them, nor any ``_name`` of
  another module.
- Dependencies point one way: the pure packages import no I/O library and none of the
  packages that compose them; the entry points (web, cli, the background jobs) reach
  the rest only through ``aggregator.core`` and the public data types.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aggregator"


def source_files() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """``aggregator.fetch._guard`` -> ``aggregator.fetch``; top-level modules are their own."""
    return ".".join(module.split(".")[:2])


def runtime_imports(path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module, names) of every import a file makes when it runs (``TYPE_CHECKING``
    blocks left out: they describe types, not dependencies)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, tuple(alias.name for alias in node.names)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, with its parents (``a.b.c`` gives a, a.b, a.b.c)."""
    found: set[str] = set()
    for module, names in runtime_imports(path):
        parts = module.split(".")
        found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        # ``from aggregator import core`` imports the module aggregator.core.
        found.update(f"{module}.{name}" for name in names if is_module(f"{module}.{name}"))
    return found


def direct_imports(path: Path) -> set[str]:
    """The modules a file imports by name (``from a.b import c``: a.b, or a.b.c when c
    is a module), without their parents."""
    found: set[str] = set()
    for module, names in runtime_imports(path):
        found.add(module)
        found.update(f"{module}.{name}" for name in names if is_module(f"{module}.{name}"))
    return found


def is_module(name: str) -> bool:
    """Whether a dotted name of ours is a module or package (not a name in one)."""
    if not name.startswith("aggregator."):
        return False
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def importers_of(library: str) -> set[str]:
    return {
        str(path.relative_to(PACKAGE.parent))
        for path in source_files()
        if library in imported_modules(path)
    }


@pytest.mark.parametrize(
    ("library", "home"),
    [
        ("feedparser", "aggregator/parse/_feedparser.py"),
        ("feedgen", "aggregator/publish/_feedgen.py"),
        ("nh3", "aggregator/process/_sanitize.py"),
        ("urllib3", "aggregator/fetch/"),
        ("apscheduler", "aggregator/update/jobs.py"),
        ("waitress", "aggregator/cli.py"),
        ("argon2", "aggregator/core/_passwords.py"),
        ("trafilatura", "aggregator/parse/_article.py"),
        ("flask", "aggregator/web/"),
        ("sqlalchemy", "aggregator/storage/"),
    ],
)
def test_each_wrapped_library_has_one_home(library: str, home: str) -> None:
    importers = importers_of(library)
    assert importers, f"nothing imports {library}: update this test"
    assert all(path == home or (home.endswith("/") and path.startswith(home)) for path in importers)


def test_no_module_reaches_into_another_package() -> None:
    """A private module (``_name.py``) is imported only inside its package, and no
    ``_name`` is imported from another module at all."""
    offences = []
    for path in source_files():
        importer = module_of(path)
        for module, names in runtime_imports(path):
            if not module.startswith("aggregator"):
                continue
            private_module = any(part.startswith("_") for part in module.split(".")[1:])
            if private_module and package_of(module) != package_of(importer):
                offences.append(f"{importer} imports {module}")
            offences.extend(
                f"{importer} imports {module}.{name}"
                for name in names
                if name.startswith("_") and not name.startswith("__")
            )
    assert offences == []


PURE = {
    "aggregator.process",
    "aggregator.types",
    "aggregator.scopes",
    "aggregator.errors",
    "aggregator.update._schedule",
    "aggregator.update._status",
    "aggregator.publish._outputs",
    "aggregator.publish._entries",
    "aggregator.config._values",
}
IO_LIBRARIES = {"urllib3", "socket", "sqlalchemy", "flask", "requests", "httpx", "apscheduler"}
COMPOSERS = {
    "aggregator.fetch",
    "aggregator.parse",
    "aggregator.storage",
    "aggregator.update",
    "aggregator.publish",
    "aggregator.core",
    "aggregator.web",
    "aggregator.cli",
}


@pytest.mark.parametrize("module", sorted(PURE))
def test_pure_modules_do_no_io(module: str) -> None:
    paths = [
        p
        for p in source_files()
        if module_of(p) == module or (package_of(module_of(p)) == module and module.count(".") == 1)
    ]
    assert paths
    for path in paths:
        imported = imported_modules(path)
        assert not imported & IO_LIBRARIES, path
        own = package_of(module_of(path))
        assert not {m for m in imported if package_of(m) in COMPOSERS - {own}}, path


# What each package may import of the others (besides the leaves: types, scopes,
# errors, config, process). Dependencies point one way.
LEAVES = {
    "aggregator",
    "aggregator.types",
    "aggregator.scopes",
    "aggregator.errors",
    "aggregator.config",
    "aggregator.process",
}
ALLOWED = {
    "aggregator.config": set(),
    "aggregator.process": set(),
    "aggregator.fetch": set(),
    "aggregator.parse": set(),
    "aggregator.storage": set(),
    "aggregator.publish": {"aggregator.fetch", "aggregator.storage"},
    "aggregator.update": {"aggregator.fetch", "aggregator.parse", "aggregator.storage"},
    "aggregator.core": {
        "aggregator.fetch",
        "aggregator.parse",
        "aggregator.storage",
        "aggregator.update",
        "aggregator.publish",
    },
    # Entry points: through the front object only (the CLI starts the others).
    "aggregator.web": {"aggregator.core"},
    "aggregator.cli": {"aggregator.core", "aggregator.web", "aggregator.logs"},
}
# Entry points living in a package (imported by the CLI, not by the package's face).
ENTRY_POINTS = {"aggregator.update.jobs"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package: str) -> None:
    allowed = ALLOWED[package] | LEAVES | {package}
    offences = []
    for path in source_files():
        if package_of(module_of(path)) != package:
            continue
        for module in direct_imports(path):
            if module in ENTRY_POINTS and package == "aggregator.cli":
                continue
            if module.startswith("aggregator.") and package_of(module) not in allowed:
                offences.append(f"{module_of(path)} imports {module}")
    assert offences == []


def test_the_background_jobs_use_the_front_object_only() -> None:
    jobs = PACKAGE / "update" / "jobs.py"
    imported = {m for m in imported_modules(jobs) if m.startswith("aggregator.")}
    assert {package_of(m) for m in imported} <= LEAVES


def test_every_package_ships_in_the_wheel() -> None:
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(project["tool"]["setuptools"]["packages"])
    packages = {module_of(init) for init in PACKAGE.rglob("__init__.py")}
    assert packages <= listed
