"""Editing feeds.yaml for the admin: add, change, pause and remove source feeds, add
sections, keeping every comment, the order and the formatting of the file.

ruamel.yaml's round-trip loader reads the file and says where each feed and each key
is (line and column); the edit changes only those lines: a new feed is a few lines
inserted after the feeds of its section (values written by ruamel.yaml's emitter), a
changed key is its value replaced on its line (an inline comment stays), a removed
feed is its lines taken out (the comments that head the next group stay). Everything
else stays byte for byte as it was, so the diff an admin reviews is the change itself.

Every edit is validated like a hand edit before anything is written, and written
atomically (a temporary file renamed over the old one), only if the file on disk is
still the one the edit was made from (``ConfigSnapshot.digest``).
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from aggregator.config._load import parse_config
from aggregator.config._types import Config, FeedConfig
from aggregator.config._values import fold_label, resolve_feed_url, url_identity
from aggregator.config._yaml import parse_yaml
from aggregator.errors import ConfigConflictError, ConfigEditError

# The keys of a feed an admin edits, in the order they are written.
FEED_KEYS = ("url", "title", "category", "interval", "priority", "labels", "paused")
# A key set to its default is removed rather than written.
_DEFAULTS: dict[str, Any] = {
    "title": None,
    "category": None,
    "interval": None,
    "priority": 0,
    "labels": "trust",
    "paused": False,
}
_WRITE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ConfigSnapshot:
    """feeds.yaml as read for an edit: its text and the digest of its bytes."""

    path: str
    text: str
    digest: str
    bom: bool = False


def config_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_snapshot(path: str | os.PathLike[str]) -> ConfigSnapshot:
    """Read feeds.yaml for an edit. Raises ConfigEditError when it cannot be read."""
    try:
        data = Path(path).read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigEditError(f"cannot read {os.fspath(path)}: {e}") from e
    return ConfigSnapshot(
        os.fspath(path), text, config_digest(data), data.startswith(b"\xef\xbb\xbf")
    )


@dataclass(frozen=True)
class ConfigEdit:
    """A change of feeds.yaml, validated, not yet written: the text before and after,
    what it does in words, and the config it gives."""

    path: str
    digest: str  # of the file the edit was made from
    before: str
    after: str
    summary: tuple[str, ...]
    config: Config
    bom: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """The change as a unified diff (what the admin reviews before saving)."""
        name = os.path.basename(self.path)
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"{name} (on disk)",
            tofile=f"{name} (after this change)",
            n=2,
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def write_edit(edit: ConfigEdit) -> None:
    """Write an edit over its file: atomically (a temporary file in the same folder,
    renamed over it), with the file's permissions, and only if the file on disk is
    still the one the edit was made from.

    Raises ConfigConflictError when the file changed since, ConfigEditError when it
    cannot be written.
    """
    path = Path(edit.path)
    data = ("\ufeff" if edit.bom else "").encode() + edit.after.encode("utf-8")
    with _WRITE_LOCK:
        try:
            current = config_digest(path.read_bytes())
        except OSError as e:
            raise ConfigEditError(f"cannot read {path}: {e.strerror or e}") from e
        if current != edit.digest:
            raise ConfigConflictError(str(path))
        try:
            mode = path.stat().st_mode & 0o7777
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        except OSError as e:
            raise ConfigEditError(f"cannot write next to {path}: {e.strerror or e}") from e
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except OSError as e:
            Path(temporary).unlink(missing_ok=True)
            raise ConfigEditError(f"cannot write {path}: {e.strerror or e}") from e


# --- where things are in the text ---------------------------------------------------------


@dataclass
class _Item:
    """One item of a block list: its lines [start, end) (end without the blank and
    comment lines that lead into what follows), the dash's column, its node."""

    start: int
    end: int
    dash: int
    node: Any


@dataclass
class _Block:
    """A top-level block list (feeds:, categories:) in the text."""

    key_line: int
    items: list[_Item] = field(default_factory=list)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str) -> bool:
    """A blank line or a comment line."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


class ConfigEditor:
    """Edits of one snapshot of feeds.yaml. Each method changes the text in memory
    and records what it did; ``edit()`` validates the result into a ConfigEdit.

    Raises ConfigErrors when the snapshot itself is invalid (fix the file first), and
    ConfigEditError for an edit that cannot be made (no such feed, already listed).
    """

    def __init__(self, snapshot: ConfigSnapshot) -> None:
        self.snapshot = snapshot
        self.config = parse_config(snapshot.text, snapshot.path)
        self.base_dir = Path(os.path.abspath(snapshot.path)).parent
        self._lines = snapshot.text.splitlines(keepends=True)
        self._newline = "\r\n" if "\r\n" in snapshot.text else "\n"
        self._summary: list[str] = []

    # --- reading the current text ---------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self._lines)

    def _root(self) -> Any:
        return parse_yaml(self.text, self.snapshot.path)

    def _block(self, key: str) -> _Block | None:
        """Where the block list under the top-level ``key`` is, or None without one."""
        root = self._root()
        if not isinstance(root, CommentedMap) or key not in root:
            return None
        key_line = root.lc.key(key)[0]
        value = root[key]
        if value is None:
            return _Block(key_line)
        if not isinstance(value, CommentedSeq):
            raise ConfigEditError(f"{key}: is not a list; fix it by hand first")
        if value.fa.flow_style() and not value:
            return _Block(key_line)  # "feeds: []": the first item rewrites the line
        if value.fa.flow_style():
            raise ConfigEditError(
                f"{key}: is written as a [flow, list] on one line; write it as a block "
                "list (one '- ' item per line) to edit it here"
            )
        block = _Block(key_line)
        starts = [value.lc.item(index)[0] for index in range(len(value))]
        block_end = self._block_end(key_line)
        for index, start in enumerate(starts):
            end = starts[index + 1] if index + 1 < len(starts) else block_end
            dash = self._lines[start].find("-")
            while end > start + 1 and _is_filler(self._lines[end - 1]):
                if _indent(self._lines[end - 1]) > dash and self._lines[end - 1].strip():
                    break  # a comment inside the item
                end -= 1
            block.items.append(_Item(start, end, dash, value[index]))
        return block

    def _block_end(self, key_line: int) -> int:
        """The line after a top-level key's block: the next top-level key, or the end."""
        for number in range(key_line + 1, len(self._lines)):
            line = self._lines[number]
            if not _is_filler(line) and _indent(line) == 0 and not line.startswith("-"):
                return number
        return len(self._lines)

    def _feed_index(self, url: str) -> int:
        """Index of the feed whose URL (as resolved) is ``url``. Raises ConfigEditError."""
        wanted = url_identity(self._resolve(url))
        for index, feed in enumerate(self.config.feeds):
            if url_identity(feed.url) == wanted:
                return index
        raise ConfigEditError(f"no feed {url} in {self.snapshot.path}")

    def _resolve(self, url: str) -> str:
        try:
            return resolve_feed_url(url.strip(), self.base_dir)
        except ValueError as e:
            raise ConfigEditError(f"{url}: {e}") from e

    def listed(self, url: str) -> FeedConfig | None:
        """The feed of this config with this URL (as resolved), or None."""
        try:
            wanted = url_identity(self._resolve(url))
        except ConfigEditError:
            return None
        return next((f for f in self.config.feeds if url_identity(f.url) == wanted), None)

    def section_named(self, name: str) -> str | None:
        """The section a name or alias means, or None."""
        folded = fold_label(name)
        for section in self.config.sections:
            if folded in {fold_label(label) for label in (section.name, *section.aliases)}:
                return section.name
        return None

    # --- edits ------------------------------------------------------------------------------

    def add_feed(self, url: str, values: Mapping[str, Any] | None = None) -> None:
        """Add a feed (``values``: title, category, interval, priority, labels, paused)
        after the last feed of its section, else at the end of the list.

        A category that is not defined yet is added to ``categories:``. Raises
        ConfigEditError when the URL is listed already."""
        self.add_feeds([(url, values or {})])

    def add_feeds(self, feeds: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Add several feeds at once (see add_feed); those of a section new to the file
        go together at the end, under a comment naming it."""
        new_sections: dict[str, list[str]] = {}
        placed: dict[str | None, list[str]] = {}
        for url, values in feeds:
            if self.listed(url) is not None:
                raise ConfigEditError(f"{url} is already in {self.snapshot.path}")
            item = self._feed_lines(url, values)
            category = values.get("category")
            section = self.section_named(category) if category else None
            if category and section is None:
                new_sections.setdefault(str(category), []).extend(item)
            else:
                placed.setdefault(section, []).extend(item)
            self._summary.append(f"add feed {url}" + (f" to {category}" if category else ""))
        for section, lines in placed.items():
            self._insert_items("feeds", lines, after=self._last_of_section(section))
        for name, lines in new_sections.items():
            self._add_section(name)
            self._insert_items("feeds", lines, after=None, heading=name)

    def update_feed(self, url: str, values: Mapping[str, Any]) -> None:
        """Set keys of a listed feed (a value equal to the default removes the key)."""
        index = self._feed_index(url)
        category = values.get("category")
        if category and self.section_named(str(category)) is None:
            self._add_section(str(category))
        changed = []
        new_url = values.get("url")
        if new_url and url_identity(self._resolve(str(new_url))) != url_identity(
            self._resolve(url)
        ):
            if self.listed(str(new_url)) is not None:
                raise ConfigEditError(f"{new_url} is already in {self.snapshot.path}")
            self._set_key(index, "url", str(new_url))
            changed.append("url")
        for key in FEED_KEYS[1:]:
            if key in values and self._set_key(index, key, values[key]):
                changed.append(key)
        if changed:
            self._summary.append(f"change {', '.join(changed)} of feed {url}")

    def remove_feed(self, url: str) -> None:
        """Remove a listed feed's lines (comments heading the next group stay)."""
        index = self._feed_index(url)
        block = self._block("feeds")
        assert block is not None
        item = block.items[index]
        del self._lines[item.start : item.end]
        self.config = self._reparse()
        self._summary.append(f"remove feed {url}")

    def add_section(self, name: str) -> None:
        """Add a section (a category with only a name), unless one by that name exists."""
        if self.section_named(name) is None:
            self._add_section(name)

    def edit(self) -> ConfigEdit:
        """The edits so far, validated. Raises ConfigErrors (the lines are those of the
        new text) when the result is not a valid config."""
        config = parse_config(self.text, self.snapshot.path)
        return ConfigEdit(
            path=self.snapshot.path,
            digest=self.snapshot.digest,
            before=self.snapshot.text,
            after=self.text,
            summary=tuple(self._summary),
            config=config,
            bom=self.snapshot.bom,
        )

    # --- the text work ---------------------------------------------------------------------

    def _reparse(self) -> Config:
        """The config of the text so far. Raises ConfigErrors (an edit that would make
        the file invalid: the lines are those of the new text)."""
        return parse_config(self.text, self.snapshot.path)

    def _add_section(self, name: str) -> None:
        self._insert_items("categories", [f"- name: {_scalar(name)}"], after=None)
        self._summary.append(f"add section {name}")

    def _last_of_section(self, section: str | None) -> int | None:
        """Index of the last feed of a section (None: the list's last feed)."""
        if section is None:
            return None
        found = [index for index, feed in enumerate(self.config.feeds) if feed.section == section]
        return found[-1] if found else None

    def _feed_lines(self, url: str, values: Mapping[str, Any]) -> list[str]:
        """A new feed item, its lines relative to the dash ("- url: ...", "  title: ...")."""
        lines = [f"- url: {_scalar(url)}"]
        for key in FEED_KEYS[1:]:
            value = values.get(key, _DEFAULTS[key])
            if value != _DEFAULTS[key] and value not in ("", None):
                lines.append(f"  {key}: {_scalar(value)}")
        return lines

    def _insert_items(
        self, key: str, item_lines: list[str], *, after: int | None, heading: str | None = None
    ) -> None:
        """Insert item lines (relative to the dash) into the block list ``key``: after its
        item ``after``, or after its last item; creates the list when it has none."""
        block = self._block(key)
        newline = self._newline
        if block is None:  # no such key: a new block at the end of the file
            if self._lines and not self._lines[-1].endswith(("\n", "\r")):
                self._lines[-1] += newline
            if self._lines and self._lines[-1].strip():
                self._lines.append(newline)
            self._lines.append(f"{key}:{newline}")
            block = _Block(len(self._lines) - 1)
        if block.items:
            dash = block.items[0].dash
            position = block.items[after if after is not None else -1].end
        else:
            dash = 2
            key_line = self._lines[block.key_line]
            if re.match(rf"{re.escape(key)}\s*:\s*\S", key_line) and "#" not in key_line:
                self._lines[block.key_line] = f"{key}:{newline}"  # "feeds: []", "feeds: ~"
            position = block.key_line + 1
        new = [" " * dash + line + newline for line in item_lines]
        spaced = len(block.items) > 1 and not self._lines[block.items[-1].start - 1].strip()
        if heading is None and spaced and after is None:
            new = [newline, *new]  # items set apart by blank lines, like the others
        if heading is not None:
            new = [newline, f"{' ' * dash}# {heading}{newline}", *new]
        if position > 0 and not self._lines[position - 1].endswith(("\n", "\r")):
            self._lines[position - 1] += newline
        self._lines[position:position] = new
        self.config = self._reparse()

    def _set_key(self, index: int, key: str, value: Any) -> bool:
        """Set one key of feed ``index``; return whether the text changed."""
        block = self._block("feeds")
        assert block is not None
        item = block.items[index]
        node = item.node
        remove = key != "url" and value in (_DEFAULTS[key], "", None)
        if isinstance(node, str) and key == "url":
            line = self._lines[item.start]
            start = item.dash + 1 + _indent(line[item.dash + 1 :])
            self._lines[item.start] = (
                line[:start] + _scalar(value) + line[_scalar_end(line, start) :]
            )
            self.config = self._reparse()
            return True
        if isinstance(node, str):  # "- https://...": becomes "- url: https://..."
            if remove:
                return False
            line = self._lines[item.start]
            self._lines[item.start] = line[: item.dash + 1] + " url:" + line[item.dash + 1 :]
            node = CommentedMap(url=node)
        if not isinstance(node, CommentedMap):
            raise ConfigEditError(f"feed #{index + 1} is not a mapping; fix it by hand first")
        if key in node:
            changed = self._replace_key(item, node, key, None if remove else value)
        elif remove:
            changed = False
        else:
            content = item.start + 1
            while content < item.end and _indent(self._lines[content]) > item.dash:
                content += 1
            last = max(
                (n for n in range(item.start, content) if not _is_filler(self._lines[n])),
                default=item.start,
            )
            line = " " * (item.dash + 2) + f"{key}: {_scalar(value)}" + self._newline
            if not self._lines[last].endswith(("\n", "\r")):
                self._lines[last] += self._newline
            self._lines.insert(last + 1, line)
            changed = True
        self.config = self._reparse()
        return changed

    def _replace_key(self, item: _Item, node: CommentedMap, key: str, value: Any) -> bool:
        key_line, _ = node.lc.key(key)
        value_line, value_col = node.lc.value(key)
        keys = list(node)
        following = keys.index(key) + 1
        next_line = node.lc.key(keys[following])[0] if following < len(keys) else item.end
        if value is None:  # remove the key and its value's lines
            end = next_line
            while end > key_line + 1 and _is_filler(self._lines[end - 1]):
                end -= 1
            del self._lines[key_line:end]
            return True
        text = _scalar(value)
        line = self._lines[key_line]
        if value_line == key_line and not isinstance(node[key], CommentedMap | CommentedSeq):
            end = _scalar_end(line, value_col)
            if line[value_col:end] == text:
                return False
            self._lines[key_line] = line[:value_col] + text + line[end:]
            return True
        end = next_line
        while end > key_line + 1 and _is_filler(self._lines[end - 1]):
            end -= 1
        indent = " " * _indent(line) if not line.lstrip().startswith("-") else " " * value_col
        self._lines[key_line:end] = [f"{indent}{key}: {text}{self._newline}"]
        return True

    def summary(self) -> tuple[str, ...]:
        return tuple(self._summary)


def _scalar(value: Any) -> str:
    """A value as ruamel.yaml writes it on one line (quoted only when it must be)."""
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.width = 1 << 16
    yaml.dump([value], stream)
    return stream.getvalue()[2:].rstrip("\r\n")


def _scalar_end(line: str, start: int) -> int:
    """Where the scalar starting at ``start`` on ``line`` ends (before an inline comment
    and trailing spaces)."""
    quote = line[start : start + 1]
    if quote == "'":
        position = start + 1
        while position < len(line):
            if line[position] == "'":
                if line[position + 1 : position + 2] == "'":
                    position += 2
                    continue
                return position + 1
            position += 1
    elif quote == '"':
        position = start + 1
        while position < len(line):
            if line[position] == "\\":
                position += 2
                continue
            if line[position] == '"':
                return position + 1
            position += 1
    comment = re.search(r"\s#", line[start:])
    end = start + comment.start() if comment else len(line.rstrip("\r\n"))
    return len(line[:end].rstrip())


def feeds_in(config: Config, urls: Iterable[str]) -> list[FeedConfig]:
    """The feeds of a config with these URLs (as the config resolved them), in order."""
    wanted = {url_identity(url) for url in urls}
    return [feed for feed in config.feeds if url_identity(feed.url) in wanted]
