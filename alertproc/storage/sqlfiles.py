"""SQL files with a metadata header of ``-- key: value`` lines (rules and canned queries)."""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(\S.*)$")


def read_header(path: Path, text: str, keys: tuple[str, ...], problems: list[str]) -> dict[str, str]:
    """The header fields of ``text``; missing or repeated keys are added to ``problems``."""
    meta: dict[str, str] = {}
    last = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("--"):
            break
        found = _HEADER.match(line)
        if found and found.group(1) in keys:
            last = found.group(1)
            if last in meta:
                problems.append(f"{path}:{number}: '{last}' given twice")
            meta[last] = found.group(2).strip()
        elif last and _CONTINUATION.match(line):
            meta[last] += " " + _CONTINUATION.match(line).group(1).strip()
    return meta


def body(text: str) -> str:
    """The SQL of a file without its trailing semicolon."""
    return text.strip().rstrip(";").strip()
