"""Load YAML so that validation errors can name the file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class Located(dict):
    """A mapping that remembers the line (1-based) of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]


class LocatedList(list):
    """A sequence that remembers the line (1-based) of itself and of each item: a plain value
    in a list (a GSTIN) has no line of its own otherwise."""

    line: int = 0
    item_lines: list[int]


MAX_DEPTH = 40  # nesting a policy or format never needs; deeper is an attack (RecursionError)
MAX_BYTES = 5_000_000  # the largest policy seen is ~200 KB


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses what a hand-written policy or format never needs: aliases (a
    600-byte alias bomb took 2.9 GB and 37 s), deep nesting and duplicate keys (where YAML
    silently keeps the last)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed here: write the value out", mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Located:
        lines: dict[str, int] = {}
        for key, _ in node.value:
            name = str(self.construct_object(key))
            if name in lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{name}' appears twice (first on line {lines[name]})", key.start_mark)
            lines[name] = key.start_mark.line + 1
        mapping = Located(super().construct_mapping(node, deep=deep))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = lines
        return mapping


    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LocatedList:
        sequence = LocatedList(super().construct_sequence(node, deep=True))
        sequence.line = node.start_mark.line + 1
        sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
        return sequence


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence
)
# Dates stay strings: callers parse them with the format they document.
_LineLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    """Parse ``path`` into plain values whose mappings are :class:`Located`."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path}: {path.stat().st_size} bytes is too large for a policy or format file "
                              f"(at most {MAX_BYTES})")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None


def where(path: Path, mapping: Any, key: str | int | None = None) -> str:
    """``path:line`` of ``key`` in ``mapping``, of item number ``key`` in a list, or of the
    mapping or list itself."""
    line = getattr(mapping, "line", 0)
    if key is not None and isinstance(mapping, Located):
        line = mapping.key_lines.get(key, line)
    if isinstance(key, int) and isinstance(mapping, LocatedList) and key < len(mapping.item_lines):
        line = mapping.item_lines[key]
    return f"{path}:{line}" if line else str(path)
