"""What a rule file may be: one SELECT over the database and nothing else.

Rules load automatically from ``./rules`` and their results reach reports, webhooks and
mail, so a rule must not read files (``read_text('/etc/shadow')`` into a finding's detail),
change data (a second statement deleting the events) or reach outside the database
(ATTACH, extensions, settings). The DuckDB engine cannot sandbox the writing connection
that detects (its file access is needed by the lake), and Spark has no sandbox at all, so
the rule is checked where it is loaded, on DuckDB's own parse tree (``json_serialize_sql``),
and refused there with its file and line.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import duckdb

# Table functions a rule may use: they make rows from their arguments, nothing else.
TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Scalar functions that reach outside the database or run SQL text; with any of these
# prefixes too (read_text, read_blob, duckdb_settings, pragma_..., parquet_metadata, ...).
OUTSIDE_FUNCTIONS = frozenset({"getenv", "current_setting", "query", "query_table", "glob", "load", "install",
                               "json_execute_serialized_sql", "sql_auto_complete", "sniff_csv", "which_secret"})
OUTSIDE_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "iceberg_", "delta_", "http", "sqlite_",
                    "postgres_", "mysql_", "ducklake_", "json_execute", "checkpoint", "force_checkpoint")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NO_LOCATION = 2**64 - 1


@lru_cache(maxsize=1)
def _parser() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={"enable_external_access": False})


def _line(text: str, location: object) -> int:
    if not isinstance(location, int) or location == _NO_LOCATION:
        return 1
    return text.count("\n", 0, location) + 1


def _walk(node: object, found: list[tuple[str, object]], location: object = None) -> None:
    """Collect what reaches outside the database in a parse tree: ``(problem, location)``."""
    if isinstance(node, list):
        for item in node:
            _walk(item, found, location)
        return
    if not isinstance(node, dict):
        return
    location = node.get("query_location", location) if node.get("query_location") != _NO_LOCATION else location
    kind = node.get("type")
    if kind == "TABLE_FUNCTION":
        name = str((node.get("function") or {}).get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS:
            found.append((f"table function {name}() reads outside the database; a rule may use only "
                          f"{', '.join(sorted(TABLE_FUNCTIONS))}", location))
    elif kind == "BASE_TABLE":
        name, catalog, schema = (str(node.get(k) or "") for k in ("table_name", "catalog_name", "schema_name"))
        if catalog or schema not in ("", "main") or not _TABLE_NAME.match(name):
            shown = ".".join(part for part in (catalog, schema, name) if part)
            found.append((f"'{shown}' is not a table or view of the database (a file or another database)", location))
    elif node.get("class") == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if name in OUTSIDE_FUNCTIONS or name.startswith(OUTSIDE_PREFIXES) or node.get("catalog"):
            found.append((f"function {name}() reaches outside the database", location))
    for value in node.values():
        if isinstance(value, (dict, list)):
            _walk(value, found, location)


def select_problems(path: Path, text: str) -> list[str]:
    """Why the SQL ``text`` of the file ``path`` is not one self-contained SELECT (empty: it is)."""
    parser = _parser()
    try:
        statements = parser.extract_statements(text)
    except duckdb.Error as exc:
        line = re.search(r"LINE (\d+):", str(exc))
        return [f"{path}:{line.group(1) if line else 1}: {str(exc).strip().splitlines()[0]}"]
    if len(statements) != 1:
        return [f"{path}:1: a rule is exactly one SELECT statement; this file has {len(statements)}"]
    if statements[0].type != duckdb.StatementType.SELECT:
        name = statements[0].type.name
        return [f"{path}:1: a rule is a SELECT; this one is {name} (rules may not change data, attach, "
                "install or set anything)"]
    tree = json.loads(parser.execute("select json_serialize_sql(?)", [text]).fetchall()[0][0])
    if tree.get("error"):
        return [f"{path}:1: a rule is a plain SELECT: {tree.get('error_message')}"]
    found: list[tuple[str, object]] = []
    _walk(tree.get("statements", []), found)
    return [f"{path}:{_line(text, location)}: {problem}" for problem, location in found]
