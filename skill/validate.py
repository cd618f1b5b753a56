"""Small helpers that read a parsed YAML tree and report the first problem as a key path.

The routine loader turns an ``Invalid`` into a one-line ``ConfigError`` naming the file, the line (when
known) and the key path, e.g. ``steps[3].duration_s``. Nothing here does I/O.
"""

from __future__ import annotations

import contextlib
import math
import string
from collections.abc import Mapping
from typing import Any

import yaml


class Invalid(Exception):
    """A value at ``path`` (e.g. ``settings.hold.default_s``) is missing or wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def join(path: str, key: str | int) -> str:
    """The key path of ``key`` under ``path``: ``a.b``, ``a[3]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    """``value`` as a mapping, or ``Invalid``."""
    if not isinstance(value, Mapping):
        raise Invalid(path or "(top level)", f"must be a mapping of keys, got {_kind(value)}")
    return value


def get(data: Mapping[str, Any], key: str, path: str) -> Any:
    """``data[key]``, or ``Invalid`` naming the missing key."""
    if key not in data or data[key] is None:
        raise Invalid(join(path, key), "missing")
    return data[key]


def text(data: Mapping[str, Any], key: str, path: str) -> str:
    """A non-empty string at ``data[key]``."""
    value = get(data, key, path)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(join(path, key), f"must be a non-empty text, got {_kind(value)}")
    return " ".join(value.split())


def number(data: Mapping[str, Any], key: str, path: str, low: float, high: float | None = None,
           integer: bool = False) -> float:
    """A number at ``data[key]`` with ``low <= value (<= high)``; ``integer`` requires a whole number."""
    value = get(data, key, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(join(path, key), f"must be a number, got {_kind(value)}")
    if integer and value != int(value):
        raise Invalid(join(path, key), f"must be a whole number, got {value}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise Invalid(join(path, key), f"must be {bounds}, got {value}")
    return int(value) if integer else float(value)


def flag(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    """An optional yes/no value."""
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise Invalid(join(path, key), f"must be true or false, got {_kind(value)}")
    return value


def items(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
    """A non-empty list at ``data[key]``."""
    value = get(data, key, path)
    if not isinstance(value, list) or not value:
        raise Invalid(join(path, key), f"must be a non-empty list, got {_kind(value)}")
    return value


def template(value: str, path: str, allowed: frozenset[str]) -> str:
    """Check that ``value`` only uses ``{name}`` placeholders from ``allowed`` and is well formed."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as err:
        raise Invalid(path, f"broken {{placeholder}}: {err}") from None
    for name in fields:
        if name not in allowed:
            known = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
            raise Invalid(path, f"unknown placeholder {{{name}}} (allowed here: {known})")
    return value


def line_map(source: str) -> dict[str, int]:
    """Key path -> 1-based line number for every node of a YAML document (empty if it cannot be composed)."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return lines
    seen: set[int] = set()

    def walk(node: yaml.Node | None, path: str) -> None:
        if node is None or id(node) in seen or len(seen) > 100_000:
            return  # aliases may make the node graph cyclic
        seen.add(id(node))
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = join(path, str(key_node.value))
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
                lines[child] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, join(path, index))

    with contextlib.suppress(RecursionError):  # absurd nesting: report the error without a line number
        walk(root, "")
    return lines


def line_for(lines: Mapping[str, int], path: str) -> int | None:
    """The line of ``path`` or of its nearest ancestor that exists in the file."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"text {value[:30]!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
