"""Canned queries: ``rules/queries/*.sql`` with a header (name, description, params).

Parameters are named (``$gstin``) and always bound by DuckDB, never pasted into the SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import ConfigError
from ..layered import load_layered
from ..period import parse_day
from ..storage.sqlfiles import body, read_header


@dataclass(frozen=True)
class CannedQuery:
    """One named query file."""

    name: str
    description: str
    params: tuple[str, ...]
    sql: str
    path: Path
    overrides: Path | None = None  # the file of the same name this one replaces
    optional: tuple[str, ...] = ()  # params written "name?" in the header: NULL when not given


def _load_one(path: Path, problems: list[str]) -> CannedQuery | None:
    text = path.read_text(encoding="utf-8")
    meta = read_header(path, text, ("name", "description", "params"), problems)
    if not meta.get("name") or not meta.get("description"):
        problems.append(f"{path}:1: a query needs '-- name:' and '-- description:'")
        return None
    written = [p.strip() for p in meta.get("params", "").split(",") if p.strip()]
    params = tuple(p.rstrip("?") for p in written)
    used = set(re.findall(r"\$([a-z_][a-z0-9_]*)", body(text)))
    if used != set(params):
        problems.append(f"{path}:1: params lists {sorted(params)} but the SQL uses {sorted(used)}")
        return None
    return CannedQuery(meta["name"], meta["description"], params, body(text), path,
                       optional=tuple(p.rstrip("?") for p in written if p.endswith("?")))


def load_queries(directories: Path | list[Path]) -> dict[str, CannedQuery]:
    """Every query file of ``directories`` by name, by layers (:func:`alertproc.layered.load_layered`);
    problems raise, every one with its file and line."""
    return load_layered(directories, "*.sql", _load_one, lambda query: query.name, "canned query").strict().items


def bind(query: CannedQuery, values: dict[str, str]) -> dict[str, str]:
    """Check the given ``--param`` values against the query's parameters; a date parameter
    (``since``, ``until``, any name with ``day`` or ``date``) is read as Indians write it and
    passed on as ``2026-12-31``."""
    unknown = sorted(set(values) - set(query.params))
    missing = [p for p in query.params if p not in values and p not in query.optional]
    if unknown or missing:
        wanted = ", ".join(f"--param {p}=..." + (" (optional)" if p in query.optional else "")
                           for p in query.params) or "no parameters"
        raise ConfigError(f"query '{query.name}' takes {wanted}"
                          + (f"; missing {', '.join(missing)}" if missing else "")
                          + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    bound = {name: parse_day(value, f"--param {name}").isoformat() if _is_date(name) else value
             for name, value in values.items()}
    return {**{name: None for name in query.optional}, **bound}


def _is_date(name: str) -> bool:
    return name in ("since", "until") or "day" in name or "date" in name


def run(con: duckdb.DuckDBPyConnection, query: CannedQuery, values: dict[str, str]) -> duckdb.DuckDBPyRelation:
    """The query's result with its parameters bound."""
    return con.sql(query.sql, params=bind(query, values) or None)
