"""Named SQL queries kept in ``.sql`` files, one ``-- name: <name>`` header per query."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*([\w-]+)\s*$", re.MULTILINE)


def parse_named(text: str) -> dict[str, str]:
    """Split ``text`` into ``{name: sql}`` at each ``-- name:`` line."""
    parts = _NAME.split(text)
    return {parts[i]: parts[i + 1].strip().rstrip(";") for i in range(1, len(parts), 2)}


@cache
def package_queries(filename: str) -> dict[str, str]:
    """The named queries of ``alertproc/sql/<filename>``."""
    return parse_named(resources.files("alertproc.sql").joinpath(filename).read_text(encoding="utf-8"))
