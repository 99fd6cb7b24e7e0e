"""Loading files by layers: the one loader of formats, rules and canned queries.

Folders are read in order — shipped first, then ``./rules``, the configured folders and
``--rules`` (:mod:`alertproc.audit.layers` lists them) — and files are merged by id: a later
file with an id seen before overrides it (the item keeps the path it replaced), two files with
one id in the same folder are a mistake. The error policy is the same for every kind: a file
with a problem is left out, every problem is collected with its file and line, and the rest
loads. What a problem then stops is the caller's to say, in one place each: alert formats and
canned queries are :meth:`Layered.strict` (a format left out would leave its alerts unread, a
query asked for by name must be the one written), rules are not (a broken rule is reported and
the others run: issue #28).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generic, TypeVar

from .errors import ConfigError

Item = TypeVar("Item")


@dataclass
class Layered(Generic[Item]):
    """What a layered load found: the items by id, in load order, and the problems."""

    what: str  # "alert format", "rule", "canned query": for messages
    items: dict[str, Item] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def strict(self) -> "Layered[Item]":
        """This load, or a :class:`ConfigError` listing every problem at once."""
        if self.problems:
            raise ConfigError(f"invalid {self.what}s:\n  " + "\n  ".join(self.problems))
        return self


def load_layered(folders: Path | Iterable[Path], pattern: str, read_one: Callable[[Path, list[str]], Item | None],
                 id_of: Callable[[Item], str], what: str, disabled: tuple[str, ...] = (),
                 disabled_setting: str = "") -> Layered[Item]:
    """Every file matching ``pattern`` in ``folders``, in order. ``read_one(path, problems)`` reads
    one file and returns its item, or None after adding the file's problems; ``disabled`` ids
    are left out (one that names nothing is a problem of ``disabled_setting``)."""
    loaded: Layered[Item] = Layered(what)
    for folder in [folders] if isinstance(folders, Path) else list(folders):
        if not folder.is_dir():
            loaded.problems.append(f"{folder}: folder not found")
            continue
        here: dict[str, Path] = {}
        for path in sorted(folder.glob(pattern)):
            before = len(loaded.problems)
            item = read_one(path, loaded.problems)
            if item is None or len(loaded.problems) > before:
                continue
            key = id_of(item)
            if key in here:
                loaded.problems.append(f"{path}:1: {what} '{key}' is also in {here[key]}; give one of them another id")
                continue
            here[key] = path
            earlier = loaded.items.get(key)  # an override keeps the place of what it replaces
            loaded.items[key] = replace(item, overrides=earlier.path) if earlier is not None else item
    for unknown in sorted(set(disabled) - set(loaded.items)):
        loaded.problems.append(f"{disabled_setting}: '{unknown}' names no loaded {what}")
    loaded.items = {key: item for key, item in loaded.items.items() if key not in disabled}
    return loaded
