"""Reads YAML into plain data while remembering the line and column of every key and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Location = tuple[int, int]
PathKey = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """Parsed YAML data plus a map from key path to (line, column), both 1-based."""

    path: str
    data: Any
    marks: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, key_path: PathKey) -> Location:
        """Best location for ``key_path``: the deepest ancestor that has one."""
        probe = tuple(key_path)
        while probe:
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))


class YamlSyntaxError(Exception):
    """The file is not valid YAML; the message names file, line and column."""


class _Builder:
    def __init__(self, marks: dict[PathKey, Location]) -> None:
        self.marks = marks

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node))
            if key in result:
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                raise YamlSyntaxError(f"{line}:{col}: duplicate key {key!r}")
            result[key] = self.build(value_node, (*path, key))
            self.marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result


def _scalar(node: yaml.Node) -> Any:
    """Construct a scalar with SafeLoader's own resolvers (ints, bools, dates, nulls).

    A value SafeLoader cannot build (the ``=`` value tag, a date like 2026-13-45) is a located error.
    """
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(f"{line}:{col}: cannot read value {node.value!r}: {problem}") from None


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse one YAML document; raise YamlSyntaxError with ``path:line:col`` on bad syntax."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise YamlSyntaxError(f"{where}: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:  # a control character: not a MarkedYAMLError, has only an offset
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlSyntaxError(f"{path}:{line}:{col}: character #x{exc.character:04x} is not allowed") from None
    marks: dict[PathKey, Location] = {}
    if node is None:
        return YamlDocument(path, {}, marks)
    try:
        data = _Builder(marks).build(node, ())
    except YamlSyntaxError as exc:
        raise YamlSyntaxError(f"{path}:{exc}") from None
    return YamlDocument(path, data, marks)


def read_yaml(path: Path) -> YamlDocument:
    """Read and parse ``path``; unreadable files raise YamlSyntaxError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSyntaxError(f"{path}: cannot read: {exc}") from None
    return parse_yaml(text, str(path))
