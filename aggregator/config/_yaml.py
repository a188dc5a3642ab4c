"""Reading feeds.yaml with ruamel.yaml and pointing at its lines.

Turns unreadable files and invalid YAML into ConfigErrors with a line, maps a
location in the parsed tree (("feeds", 3, "url")) back to its line, and words
pydantic's validation errors for the admin.
"""

from __future__ import annotations

import difflib
import re
import warnings
from typing import Any, NoReturn

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from aggregator.config._values import shown
from aggregator.errors import ConfigError, ConfigErrors

# --- reading the file ------------------------------------------------------------------------


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigErrors([ConfigError(f"cannot read: {reason}", path)]) from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        message = f"cannot read: not UTF-8 text (byte 0x{data[e.start]:02x})"
        line = data[: e.start].count(b"\n") + 1
        raise ConfigErrors([ConfigError(message, path, line)]) from e


class _Constructor(RoundTripConstructor):
    """ruamel.yaml's round-trip constructor, refusing tags it does not know (`!foo`).

    feeds.yaml has no use for them, and ruamel.yaml's own fallback for them raises from a
    generator finaliser when the document fails elsewhere ("Exception ignored in ...")."""

    def refuse_unknown_tag(self, node: Any) -> NoReturn:
        raise ConstructorError(None, None, f"unknown tag {str(node.tag)!r}", node.start_mark)


_Constructor.add_constructor(None, _Constructor.refuse_unknown_tag)


def parse_yaml(text: str, path: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        with warnings.catch_warnings():
            # A re-used anchor is legal YAML; ruamel.yaml only warns about it.
            warnings.simplefilter("ignore")
            return yaml.load(text)
    except MarkedYAMLError as e:
        raise ConfigErrors([_yaml_error(e, path, text)]) from e
    except ReaderError as e:
        line = text[: e.position].count("\n") + 1
        code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or " ")
        error = ConfigError(f"invalid YAML: {e.reason} (character U+{code:04X})", path, line)
        raise ConfigErrors([error]) from e
    except Exception as e:
        # ruamel.yaml's constructors let plain exceptions escape on some malformed input
        # (ValueError for `!!int abc`, IndexError for `!!float`, RecursionError for deep
        # nesting); to the admin these are all invalid YAML.
        reason = str(e) or type(e).__name__
        raise ConfigErrors([ConfigError(f"invalid YAML: {reason}", path)]) from e


def _yaml_error(error: MarkedYAMLError, path: str, text: str) -> ConfigError:
    problem = str(error.problem or error.context or "syntax error")
    line = _error_line(error, text)
    if isinstance(error, DuplicateKeyError):
        key = re.match(r'found duplicate key "(.*?)" with value', problem, re.S)
        problem = f"duplicate key {key.group(1)!r}" if key else problem
    elif error.context and error.problem:
        problem = f"{error.context}, {problem}"
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    elif "expected <block end>" in problem:
        problem += " (check the indentation)"
    elif _at_end(error, text):
        problem += " (it is not closed before the end of the file)"
    return ConfigError(f"invalid YAML: {problem}", path, line)


def _error_line(error: MarkedYAMLError, text: str) -> int | None:
    """The line to show for a YAML error: a line of the file, never one past its end.

    A construct left open (a quote, a bracket) is only noticed at the end of the file;
    the line where it was opened (the error's context) is the one to fix."""
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return None
    if _at_end(error, text) and error.context_mark is not None:
        mark = error.context_mark
    last_line = max(1, len(text.splitlines()))
    return min(int(mark.line) + 1, last_line)


def _at_end(error: MarkedYAMLError, text: str) -> bool:
    mark = error.problem_mark
    return mark is not None and mark.index >= len(text.rstrip())


# --- locating and wording validation errors --------------------------------------------------

Loc = tuple[str | int, ...]
KEY_ERRORS = frozenset({"extra_forbidden", "invalid_key"})


def line_of(root: Any, loc: Loc, at_key: bool) -> int | None:
    """Return the 1-based line of the node at loc (of its key when at_key), or the nearest
    enclosing node's line when loc leads somewhere the file does not have."""
    line: int | None = node_line(root)
    node = root
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, CommentedMap):
            key = _find_key(node, part)
            if key is _MISSING:
                break
            key_line, value_line = _map_lines(node, key)
            child = node[key]
            use_key = (at_key and last) or isinstance(child, CommentedMap | CommentedSeq)
            line = (key_line if use_key else value_line) or line
            node = child
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = _item_line(node, part) or line
            node = node[part]
        else:
            break
    return line


_MISSING = object()


def _find_key(node: CommentedMap, part: str | int) -> Any:
    if part in node:
        return part
    return next((k for k in node if str(k) == str(part)), _MISSING)


def _map_lines(node: CommentedMap, key: Any) -> tuple[int | None, int | None]:
    try:
        position = node.lc.data[key]
    except (KeyError, TypeError, AttributeError):  # merged (<<:) keys have no position
        return None, None
    return position[0] + 1, position[2] + 1


def _item_line(node: CommentedSeq, index: int) -> int | None:
    try:
        return int(node.lc.data[index][0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def node_line(node: Any) -> int | None:
    try:
        return int(node.lc.line) + 1
    except (AttributeError, TypeError):
        return None


# How a list item is named in messages: counted from 1, as an admin counts, and named by
# its URL or name when it has one ("feed #4 (https://example.org/feed)").
_ITEM_WORDS = {
    "feeds": "feed",
    "categories": "category",
    "outputs": "output",
    "aliases": "alias",
    "keywords": "keyword",
    "include": "include phrase",
    "exclude": "exclude phrase",
}
_NAMED_BY = {"feeds": "url", "categories": "name", "outputs": "name"}
_NAME_CHARS = 80


def dotted(loc: Loc, root: Any = None) -> str:
    """Where ``loc`` is, in the admin's words: ``polling.interval``,
    ``feed #4 (https://example.org/feed) interval``, ``category #2 (US News) alias #1``.

    List items are counted from 1; with the parsed ``root``, feeds are named by their
    URL and categories and outputs by their name (unless the name is what ``loc`` is about).
    """
    pieces: list[tuple[str, bool]] = []  # (text, is a list item)
    node = root
    for position, part in enumerate(loc):
        node = _child(node, part)
        if isinstance(part, int) and pieces and not pieces[-1][1]:
            key = pieces.pop()[0]
            text = f"{_ITEM_WORDS.get(key, key + ' item')} #{part + 1}"
            following = loc[position + 1] if position + 1 < len(loc) else None
            name = _item_name(node, _NAMED_BY.get(key))
            if name and following != _NAMED_BY.get(key):
                text += f" ({name})"
            pieces.append((text, True))
        else:
            pieces.append((f"[{part}]" if isinstance(part, int) else str(part), False))
    text = ""
    for index, (piece, _) in enumerate(pieces):
        if index:
            text += " " if pieces[index - 1][1] else "."
        text += piece
    return text


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _item_name(node: Any, key: str | None) -> str | None:
    value = node if key == "url" and isinstance(node, str) else None
    if key is not None and isinstance(node, dict):
        value = node.get(key)
    if not isinstance(value, str) or not value.strip():
        return None
    value = " ".join(value.split())
    return value if len(value) <= _NAME_CHARS else value[: _NAME_CHARS - 1] + "…"


_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "model_type": "a mapping of keys to values",
    "dict_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def wording(error: Any, loc: Loc, model: type[BaseModel], root: Any = None) -> str:
    """Return the admin-facing message for one pydantic error at loc (absolute) in the
    parsed file ``root``."""
    kind, where = error["type"], dotted(loc, root)
    if kind in KEY_ERRORS:
        key, parent = loc[-1], dotted(loc[:-1], root)
        place = f"in {parent}" if parent else "at the top level"
        return f"unknown key {shown(key)} {place}{_suggestion(str(key), model)}"
    if kind == "missing":
        return f"{dotted(loc[:-1], root) or 'top level'}: missing required key {loc[-1]!r}"
    if kind == "value_error":
        return f"{where}: {error['ctx']['error']}"
    if kind in _TYPE_WORDS:
        return f"{where}: expected {_TYPE_WORDS[kind]}, got {shown(error.get('input'))}"
    if kind == "recursion_loop":
        return f"{where}: a YAML alias refers to itself"
    return f"{where}: {error['msg']}"


def _suggestion(key: str, model: type[BaseModel]) -> str:
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (allowed: {', '.join(allowed)})"
